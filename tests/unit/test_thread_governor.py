"""Decode threads under contention: the governor's choices, the meter's
readings, the tool hint and the policy ``asynclm doctor`` prints."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from asynclm_tui.core.backends import cpu_meter
from asynclm_tui.core.backends.cpu_meter import CpuMeter, own_busy_cpus, tool_ended, tool_started
from asynclm_tui.core.backends.load_plan import ThreadChoice
from asynclm_tui.core.backends.thread_governor import (
    CHECK_S,
    HOLD_S,
    STALE_S,
    UP_WINDOWS,
    Contention,
    ThreadGovernor,
    cpu_policy,
    take_contention,
)


class Clock:
    """Time that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def tick(self, s: float = CHECK_S) -> None:
        self.now += s


class Meter:
    """The others' CPU use the test sets."""

    available = True

    def __init__(self, others: float = 0.0, runnable: float = 0.0) -> None:
        self.value, self.runnable = others, runnable
        self.windows = 0

    def others(self) -> float:
        self.windows += 1
        return self.value

    def runnable_now(self) -> float:
        return self.runnable


def governor(
    meter: Meter | None,
    clock: Clock,
    *,
    full: int = 2,
    batch: int = 2,
    cpus: int = 2,
    own: int = 0,
    adaptive: bool = True,
) -> tuple[ThreadGovernor, list[tuple[int, int]]]:
    applied: list[tuple[int, int]] = []
    gov = ThreadGovernor(
        full,
        batch,
        lambda n, b: applied.append((n, b)),
        meter=meter,  # type: ignore[arg-type]
        cpus=cpus,
        clock=clock,
        own_busy=lambda _now: own,
        adaptive=adaptive,
    )
    return gov, applied


def step(gov: ThreadGovernor, clock: Clock, seconds: float = 0.01, n_tokens: int = 1) -> None:
    gov.before_step()
    clock.tick(seconds)
    gov.after_step(n_tokens, seconds)


def test_a_free_machine_keeps_every_planned_thread() -> None:
    clock, meter = Clock(), Meter(0.1)
    gov, applied = governor(meter, clock)
    for _ in range(50):
        step(gov, clock, 0.05)
    assert meter.windows > 5  # it did look
    assert applied == [] and gov.threads == 2
    report = gov.take_report()
    assert report == Contention(steps=50, min_threads=2, others_peak=0.1)
    assert not report.slowed


def test_a_busy_cpu_takes_a_thread_at_the_next_look_and_gives_it_back_when_free() -> None:
    clock, meter = Clock(), Meter(1.0)
    gov, applied = governor(meter, clock, full=2, batch=2)
    clock.tick()
    step(gov, clock)
    assert applied == [(1, 1)]  # batches make room too
    meter.value = 0.0
    for _ in range(UP_WINDOWS - 1):
        clock.tick()
        step(gov, clock)
    assert gov.threads == 1  # one free window is not enough
    clock.tick()
    step(gov, clock)
    assert applied == [(1, 1), (2, 2)]
    report = gov.take_report()
    assert report.slowed and report.min_threads == 1 and report.reduced_steps == UP_WINDOWS
    assert gov.take_report().steps == 0  # counting starts anew


@pytest.mark.parametrize(
    ("cpus", "full", "others", "threads"),
    [
        (2, 2, 0.2, 2),  # light background use leaves the CPU free
        (2, 2, 0.3, 1),
        (2, 2, 2.0, 1),  # never fewer than one
        (8, 3, 4.0, 3),  # a big machine has room for all planned threads
        (8, 6, 4.0, 4),
    ],
)
def test_threads_are_the_cpus_others_leave_free(
    cpus: int, full: int, others: float, threads: int
) -> None:
    clock = Clock()
    gov, _ = governor(Meter(others), clock, full=full, batch=full, cpus=cpus)
    clock.tick()
    step(gov, clock)
    assert gov.threads == threads


def test_a_tool_of_our_own_makes_room_before_the_meter_has_seen_it() -> None:
    clock = Clock()
    gov, applied = governor(Meter(0.0), clock, own=1)
    step(gov, clock)  # no window has passed yet
    assert applied == [(1, 1)]


def test_slow_steps_halve_the_threads_without_a_meter_and_hold_them_down() -> None:
    clock = Clock()
    gov, applied = governor(None, clock, full=4, batch=4, cpus=4)
    for _ in range(5):
        step(gov, clock, 0.01)
    step(gov, clock, 0.05)
    assert applied == []  # one slow step is noise
    step(gov, clock, 0.05)
    assert applied == [(2, 2)]
    clock.tick(HOLD_S / 2)
    step(gov, clock, 0.012)
    assert gov.threads == 2  # held
    clock.tick(HOLD_S)
    step(gov, clock, 0.01)
    assert gov.threads == 4  # no meter: it tries again once the hold is over
    step(gov, clock, 0.05)
    step(gov, clock, 0.05)
    assert gov.threads == 2
    clock.tick(HOLD_S + 0.1)
    step(gov, clock, 0.012)
    assert gov.threads == 2  # a relapse: held twice as long
    assert gov.take_report().slow_steps == 4


def test_batches_are_never_taken_for_slow_steps() -> None:
    clock = Clock()
    gov, applied = governor(None, clock)
    step(gov, clock, 0.01)
    for _ in range(4):
        step(gov, clock, 2.0, n_tokens=700)
    assert applied == [] and gov.take_report().slow_steps == 0


def test_fixed_threads_only_measure() -> None:
    clock = Clock()
    gov, applied = governor(Meter(2.0), clock, adaptive=False, own=1)
    step(gov, clock, 0.01)
    clock.tick()
    for _ in range(3):
        step(gov, clock, 0.2)
    report = gov.take_report()
    assert applied == [] and gov.threads == 2
    assert report.reduced_steps == 0 and report.slow_steps == 3 and report.slowed
    assert report.others_peak == 2.0


def test_one_thread_beside_work_that_fills_every_cpu_is_reported_as_crowded() -> None:
    clock = Clock()
    gov, applied = governor(Meter(2.0), clock, full=1, batch=1)
    clock.tick()
    step(gov, clock)
    report = gov.take_report()
    assert applied == [] and report.crowded_steps == 1 and report.slowed
    gov, _ = governor(Meter(1.0), clock, full=1, batch=1)  # the other CPU is ours
    clock.tick()
    step(gov, clock)
    assert not gov.take_report().slowed


def test_after_an_idle_spell_what_runs_now_decides() -> None:
    clock, meter = Clock(), Meter(0.0, runnable=1.0)
    gov, applied = governor(meter, clock)
    clock.tick(STALE_S + 5)  # the window's average would hide a process that just started
    step(gov, clock)
    assert applied == [(1, 1)]


def test_backends_without_a_governor_report_nothing() -> None:
    assert take_contention(object()) is None


# ------------------------------------------------------------------ the meter


def write_proc(root: Path, cpus: list[list[int]], running: int = 1, own_states: str = "S") -> None:
    lines = ["cpu " + " ".join(map(str, [sum(c[i] for c in cpus) for i in range(10)]))]
    lines += [f"cpu{i} " + " ".join(map(str, c)) for i, c in enumerate(cpus)]
    (root / "stat").write_text("\n".join([*lines, "intr 1 2 3", "ctxt 99"]) + "\n")
    (root / "loadavg").write_text(f"0.50 0.40 0.30 {running}/120 4242\n")
    for i, state in enumerate(own_states):
        task = root / "self" / "task" / str(i)
        task.mkdir(parents=True, exist_ok=True)
        (task / "stat").write_text(f"{i} (a (weird) name) {state} 1 1 1\n")


def test_the_meter_counts_other_work_on_our_cpus_only(tmp_path: Path) -> None:
    #          user nice sys idle iowait irq softirq steal guest guest_nice
    write_proc(tmp_path, [[100, 0, 0, 900, 0, 0, 0, 0, 0, 0]] * 3)
    own, clock = [0.0], Clock()
    meter = CpuMeter(frozenset({0, 1}), proc=tmp_path, own=lambda: own[0], clock=clock)
    assert meter.available
    tick = cpu_meter.os.sysconf("SC_CLK_TCK")
    # In one second: cpu0 all busy (half of it ours), cpu1 a quarter stolen, cpu2 not ours.
    write_proc(
        tmp_path,
        [
            [100 + tick // 2, 0, tick // 2, 900, 0, 0, 0, 0, 0, 0],
            [100, 0, 0, 900 + tick * 3 // 4, 0, 0, 0, tick // 4, 0, 0],
            [100 + tick, 0, 0, 900, 0, 0, 0, 0, 0, 0],
        ],
    )
    own[0] += 0.5
    clock.tick(1.0)
    assert meter.others() == pytest.approx(0.75)


def test_the_meter_says_nothing_without_proc(tmp_path: Path) -> None:
    meter = CpuMeter(frozenset({0}), proc=tmp_path / "missing")
    assert not meter.available
    assert meter.others() is None and meter.runnable_now() is None


def test_runnable_now_leaves_out_our_own_running_threads(tmp_path: Path) -> None:
    write_proc(tmp_path, [[1] * 10], running=4, own_states="RSR")
    meter = CpuMeter(frozenset({0}), proc=tmp_path)
    assert meter.runnable_now() == 2.0


def test_a_tool_counts_as_busy_from_its_start_until_the_meter_can_see_it() -> None:
    assert own_busy_cpus(time.perf_counter()) == 0
    keys = [tool_started(), tool_started()]
    try:
        assert own_busy_cpus(time.perf_counter()) == 2
        assert own_busy_cpus(time.perf_counter() + cpu_meter.TOOL_UNSEEN_S + 1) == 0
    finally:
        for key in keys:
            tool_ended(key)
    assert own_busy_cpus(time.perf_counter()) == 0


# ------------------------------------------------------------------ the policy


def test_the_policy_says_what_it_does_and_respects_the_users_openmp_settings() -> None:
    adaptive = cpu_policy(ThreadChoice(2, 2, "2 physical core(s)", adaptive=True), env={})
    assert adaptive.threads.startswith("adaptive: 2 decode and 2 batch")
    assert "asynclm sets neither" in adaptive.openmp
    fixed = cpu_policy(
        ThreadChoice(3, 4, "set in the config or with --threads"),
        env={"OMP_WAIT_POLICY": "PASSIVE"},
    )
    assert fixed.threads.startswith("fixed at 3 decode and 4 batch")
    assert "--threads" in fixed.threads
    assert fixed.openmp.startswith("OMP_WAIT_POLICY=PASSIVE (set in the environment")
    assert [line.split(":")[0] for line in fixed.lines()] == ["threads under load", "OpenMP wait"]
