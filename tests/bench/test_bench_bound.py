"""Calibrated bounds: the cost fit and the simulated schedules, by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from asynclm_tui.core.api.enums import Injection, Mode
from asynclm_tui.lab.bench.bfcl.bound import BoundInputs, bound_ms
from asynclm_tui.lab.bench.bfcl.calibrate import CostModel, Sample, fit
from asynclm_tui.lab.tasks.bfcl_data import PlannedCall, SubTask, Task
from asynclm_tui.lab.tasks.oracle import TRAP_TEXT, answer_text, call_text


def _task(calls: list[PlannedCall], groups: int = 1) -> Task:
    subs = tuple(SubTask(f"s{g}", f"request {g}") for g in range(groups))
    return Task("t0", "parallel", subs, (), tuple(calls))


def _inputs(task: Task, durations: list[float], frame: int = 0, user: int = 0) -> BoundInputs:
    ids = [chr(ord("a") + i) for i in range(len(task.calls))]
    segments = {TRAP_TEXT: 6, answer_text(task): 5}
    segments.update({call_text(i, c): 10 for i, c in zip(ids, task.calls, strict=True)})
    users = {s.prompt: user for s in task.subtasks[1:]}
    return BoundInputs(durations, ids, segments, dict.fromkeys(ids, frame), users, 100)


def _flat(per_token: float = 0.0) -> CostModel:
    """1 ms per decode call, plus ``per_token`` for each token it appends beyond one."""
    return fit([Sample(k, n, 1.0 + per_token * (k - 1)) for k in (1, 12, 512) for n in (128, 900)])


TWO = _task([PlannedCall("f", {"x": 0}), PlannedCall("f", {"x": 1})])


def test_async_bound_by_hand() -> None:
    # LPT: call 0 (50 ms) picked at 0..9, ready at 59; call 1 at 10..19, ready
    # at 24; a trap at 20..25 finds call 1 in; a trap at 26..31 waits for
    # call 0 until 59; the answer is picked at 60..64.
    assert bound_ms(TWO, _inputs(TWO, [50.0, 5.0]), _flat(), Mode.ASYNC) == pytest.approx(64.0)


def test_interrupts_cost_their_tokens() -> None:
    # Each 10-token interrupt rides with a token: +10 ms each.  Call 1's
    # (at 25) moves the second trap to 36..41, still inside the wait for
    # call 0 (59); call 0's moves the answer to 70..74.
    inputs = _inputs(TWO, [50.0, 5.0], frame=10)
    assert bound_ms(TWO, inputs, _flat(1.0), Mode.ASYNC) == pytest.approx(74.0)


def test_sync_waits_after_each_call() -> None:
    # 24 steps between the first and last token, plus both durations.
    assert bound_ms(TWO, _inputs(TWO, [50.0, 5.0]), _flat(), Mode.SYNC) == pytest.approx(79.0)


def test_parallel_runs_collected_calls_together_at_the_trap() -> None:
    # Both blocks at 0..19, the trap at 20..25 starts both and waits for the
    # longer (until 75); the answer is picked at 76..80.
    got = bound_ms(TWO, _inputs(TWO, [50.0, 5.0]), _flat(), Mode.PARALLEL)
    assert got == pytest.approx(80.0)


def test_reprefill_pays_the_whole_context_per_interrupt() -> None:
    inputs = _inputs(TWO, [50.0, 5.0], frame=10)
    kv = bound_ms(TWO, inputs, _flat(1.0), Mode.SYNC)
    again = bound_ms(TWO, inputs, _flat(1.0), Mode.SYNC, Injection.REPREFILL)
    # Two re-evaluations of 100+ prompt tokens instead of two 11-token appends.
    assert again - kv > 2 * 100


def test_a_late_request_is_waited_for_and_prefilled() -> None:
    task = _task([PlannedCall("f", {}, group=0), PlannedCall("g", {}, group=1)], groups=2)
    inputs = _inputs(task, [30.0, 30.0], user=20)
    late = bound_ms(task, inputs, _flat(1.0), Mode.ASYNC, arrivals_ms=[0.0, 400.0])
    # The request lands at 400 and costs its 20 tokens (19 ms beyond a step)
    # before the second call's 10 tokens, its wait and the answer.
    assert late >= 400.0 + 20 + 9 + 30 + 5


def test_cost_model_interpolates_the_cells_and_fits_them() -> None:
    def true(k: int, n: int) -> float:
        return 10.0 + 2.0 * n / 1000 + (k - 1) * (0.8 + 0.1 * n / 1000)

    samples = [
        Sample(k, n, true(k, n) * wobble)
        for k in (1, 12, 32, 128, 512)
        for n in (128, 1100, 2100)
        for wobble in (0.98, 1.0, 1.02, 1.0, 0.98, 1.02, 1.0, 1.0, 1.0, 1.0)
    ]
    samples.append(Sample(1, 128, 900.0))  # one stall moves no median
    model = fit(samples)
    assert model.cost_ms(12, 1100) == pytest.approx(true(12, 1100))  # a cell: its median
    assert model.cost_ms(60, 1600) == pytest.approx(true(60, 1600))  # between cells
    assert model.cost_ms(900, 0) == pytest.approx(true(900, 0))  # past both ends
    s0, _, a0, _ = model.fit
    assert s0 == pytest.approx(10.0, rel=0.02) and a0 == pytest.approx(0.8, rel=0.02)
    assert model.max_residual < 0.01
    assert 0.0 < model.step_noise < 0.05
    assert len(model.to_json()["cells"]) == 15  # type: ignore[arg-type]


def test_a_grid_with_a_hole_is_refused() -> None:
    with pytest.raises(ValueError, match="every size"):
        fit([Sample(1, 128, 10.0), Sample(12, 128, 40.0), Sample(1, 900, 12.0)])


def test_a_jump_forward_run_is_charged_as_one_batch() -> None:
    # Each call block: 10 tokens in 6 steps (two carry a forced run of 3);
    # at 1 ms a call plus 1 ms per extra token, a block's steps before its
    # last pick cost 5 * 1 + 2 * 3 = 11 ms instead of 9.
    inputs = _inputs(TWO, [50.0, 5.0])
    block = (1, 1, 4, 1, 4, 1)
    steps = {call_text(i, c): block for i, c in zip(inputs.ids, TWO.calls, strict=True)}
    jumped = replace(inputs, segment_steps=steps)
    one_by_one = bound_ms(TWO, inputs, _flat(1.0), Mode.SYNC)
    assert bound_ms(TWO, jumped, _flat(1.0), Mode.SYNC) == pytest.approx(one_by_one + 2 * 2)
    # At 1 ms a call whatever its size, jump-forward saves the steps it skips.
    saved = bound_ms(TWO, inputs, _flat(), Mode.SYNC) - bound_ms(TWO, jumped, _flat(), Mode.SYNC)
    assert saved == pytest.approx(2 * 4)


def test_scaled_cost_model_runs_at_the_measured_speed() -> None:
    model = _flat(1.0)
    slower = model.scaled(1.5)
    assert slower.cost_ms(12, 500) == pytest.approx(1.5 * model.cost_ms(12, 500))
    steps = [(1.5 * model.cost_ms(1, n), n) for n in (200, 400, 600, 800, 1000)]
    assert model.level_of(steps) == pytest.approx(1.5)  # each step at its own length
    assert model.level_of(steps[:4]) == 1.0  # too few measured: the calibration's
    inputs = _inputs(TWO, [50.0, 5.0])
    plain = bound_ms(TWO, inputs, model, Mode.SYNC)
    assert bound_ms(TWO, inputs, slower, Mode.SYNC) == pytest.approx(55.0 + 1.5 * (plain - 55.0))


def test_long_appends_run_at_the_level_the_run_measured_for_them() -> None:
    model = _flat(1.0)
    # A step ran 1.5x slower than calibrated, the run's long appends 1.2x.
    samples = [(12, 500, 1.2 * model.cost_ms(12, 500)), (40, 700, 1.2 * model.cost_ms(40, 700))]
    level = model.append_level_of([*samples, (2, 500, 99.0)])  # a short one does not count
    assert level == pytest.approx(1.2)
    both = model.scaled(1.5, level)
    assert both.cost_ms(1, 500) == pytest.approx(1.5 * model.cost_ms(1, 500))
    assert both.cost_ms(512, 500) == pytest.approx(1.2 * model.cost_ms(512, 500))
    assert model.append_level_of([]) is None
