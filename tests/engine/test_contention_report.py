"""A busy CPU is reported: the ``done`` event (and its JSON line) and the
headless summary say so, from the backend's thread governor."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.api.events import CallFinished, CallUpdated, SetTools
from asynclm_tui.core.backends.cpu_meter import own_busy_cpus
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.backends.thread_governor import CHECK_S, Contention, ThreadGovernor
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.core.tools.spec import ToolSpec
from asynclm_tui.headless.run import run_headless
from tests.engine.engine_harness import scripted, settings


class SteppingClock:
    """Every reading is one governor window later than the last."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += CHECK_S
        return self.now


class Meter:
    available = True

    def __init__(self, others: float) -> None:
        self.value = others

    def others(self) -> float:
        return self.value

    def runnable_now(self) -> float:
        return self.value


class GovernedBackend(ScriptedBackend):
    """The scripted model with a governor around each append, as the llama.cpp
    backend has, on a machine where others use ``others`` of 2 CPUs."""

    def __init__(self, turns: Sequence[str], others: float) -> None:
        super().__init__(turns)
        self.threads: list[tuple[int, int]] = []
        self.governor = ThreadGovernor(
            2,
            2,
            lambda n, b: self.threads.append((n, b)),
            meter=Meter(others),  # type: ignore[arg-type]
            cpus=2,
            clock=SteppingClock(),
            own_busy=lambda _now: 0,
        )

    def append(self, tokens: Sequence[int]) -> None:
        self.governor.before_step()
        super().append(tokens)
        self.governor.after_step(len(tokens), 0.01)

    def take_contention(self) -> Contention:
        return self.governor.take_report()


def test_done_says_the_cpu_was_busy_and_with_how_few_threads() -> None:
    backend = GovernedBackend(["Slow but sure.<eos>"], others=1.0)
    with scripted(backend=backend) as run:
        done = run.turn()
    assert backend.threads == [(1, 1)]
    assert done.cpu_busy and done.threads == 1
    line = done.to_json()
    assert line["cpu_busy"] is True and line["threads"] == 1


def test_done_on_a_free_cpu_says_nothing_of_it() -> None:
    backend = GovernedBackend(["Quick.<eos>"], others=0.0)
    with scripted(backend=backend) as run:
        done = run.turn()
    assert backend.threads == []
    assert not done.cpu_busy and done.threads == 2


def test_a_backend_without_a_governor_reports_no_threads() -> None:
    with scripted(["Plain.<eos>"]) as run:
        done = run.turn()
    assert not done.cpu_busy and done.threads == 0


def run_text(others: float) -> str:
    backend = GovernedBackend(["Slow but sure.<eos>"], others=others)
    engine = Engine(settings(), ToolRegistry(), backend.factory())
    out, err = io.StringIO(), io.StringIO()
    assert run_headless(engine, "Go.", out=out, err=err) == 0
    return err.getvalue()


def test_the_headless_summary_says_the_cpu_is_busy_only_when_it_was() -> None:
    assert "tok/s (the CPU is busy), 0 injected" in run_text(1.0)
    assert "the CPU is busy" not in run_text(0.0)


def test_json_lines_carry_the_flag() -> None:
    backend = GovernedBackend(["Slow.<eos>"], others=2.0)
    engine = Engine(settings(), ToolRegistry(), backend.factory())
    out = io.StringIO()
    assert run_headless(engine, "Go.", as_json=True, out=out, err=io.StringIO()) == 0
    done = [json.loads(x) for x in out.getvalue().splitlines() if '"done"' in x][-1]
    assert done["cpu_busy"] is True and done["threads"] == 1


def test_a_command_tool_counts_as_a_busy_cpu_while_it_runs() -> None:
    nap = ToolSpec(
        name="nap",
        description="Sleep in a child process.",
        parameters={"type": "object", "properties": {"s": {"type": "number"}}},
        command=[sys.executable, "-c", "import sys, time; time.sleep(float(sys.argv[1]))", "{s}"],
    )
    seen: list[int] = []
    with scripted(["[CALL] a [HEAD] nap(s=1) [END] [TRAP][END] Done.<eos>"]) as run:
        run.post(SetTools(ToolRegistry(tools={"nap": nap})))
        # At the moment the call is running (0.0: counted however long ago it started).
        run.hooks.append(
            lambda e: (
                seen.append(own_busy_cpus(0.0))
                if isinstance(e, CallUpdated) and e.status is CallStatus.RUNNING
                else None
            )
        )
        run.turn()
        assert run.wait_for(CallFinished).ok
    assert seen == [1]
    assert own_busy_cpus(0.0) == 0  # ended with the call
