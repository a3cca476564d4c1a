"""The benchmarks' jump-forward parts without a model: the steps of an oracle
segment, the boundary-rule tally, the run plan, the gain share and the
with/without table."""

from __future__ import annotations

import pytest

from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.cml.constrain import tool_shape
from asynclm_tui.lab.bench.bfcl.jump_report import format_jump_table, jump_rows
from asynclm_tui.lab.bench.bfcl.plan import build_plan
from asynclm_tui.lab.bench.bfcl.report import gain_share
from asynclm_tui.lab.bench.bfcl.runner import RunResult
from asynclm_tui.lab.bench.bfcl.steps import plain_steps, segment_steps
from asynclm_tui.lab.bench.call_blocks import RuleTally, _replay, call_block_tokens

SHAPES = {
    "calc": tool_shape(
        {"type": "object", "properties": {"expression": {"type": "string"}}, "required": []}
    ),
    "clock": tool_shape({"type": "object", "properties": {"tz": {"type": "string"}}}),
}
BLOCK = " [CALL] a [HEAD] calc(expression='1+1') [END]"


def test_segment_steps_put_forced_runs_with_the_token_before_them() -> None:
    vocab = ScriptedBackend()
    tokens = vocab.tokenize(BLOCK)
    steps = segment_steps(tokens, vocab, SHAPES)
    assert sum(steps) == len(tokens)  # every token is written, once
    # " calc" then "(" forced; "expression" then "="; the closing quote then
    # ")" and " [END]" (the scripted tokenizer has no token that merges them).
    assert steps == (1, 1, 1, 2, 2, 1, 1, 1, 1, 3)
    assert plain_steps(tokens) == (1,) * len(tokens)
    # Text the grammar does not know (a trap outside it, plain words) jumps nowhere.
    words = vocab.tokenize(" All 2 calls are done.")
    assert segment_steps(words, vocab, SHAPES) == plain_steps(words)


def test_segment_steps_with_drafts_take_fewer_steps_and_charge_wrong_guesses() -> None:
    vocab = ScriptedBackend()
    block = " [CALL] calc1 [HEAD] calc(expression='1+1') [END]"
    tokens = vocab.tokenize(block)
    jumped = segment_steps(tokens, vocab, SHAPES)
    drafted = segment_steps(tokens, vocab, SHAPES, source="")
    # The id's end drafts " [HEAD] calc(" and the parameter "expression=":
    # every guess kept, so no position is wasted and fewer steps are taken.
    assert sum(drafted) == sum(jumped) == len(tokens)
    assert len(drafted) < len(jumped)
    # A guess the oracle does not write still goes in with its step.
    other = vocab.tokenize(" [CALL] calc1 [HEAD] clock(tz='x') [END]")
    steps = segment_steps(other, vocab, SHAPES, source="")
    assert sum(steps) > len(other)


@pytest.mark.parametrize(("rule", "points", "agree"), [("whole", 5, 3), ("hold_merge", 3, 3)])
def test_rule_tally_compares_with_the_models_own_tokens(rule: str, points: int, agree: int) -> None:
    vocab = ScriptedBackend()
    # The scripted tokenizer writes " a" and " clock" as one token each:
    # forcing the space before them alone (rule "whole") is not what the
    # model wrote; holding back a token that can merge with what follows is.
    tokens = vocab.tokenize(" [CALL] a [HEAD] clock(tz='x') [END]")
    tally = RuleTally(rule)
    _replay(tokens, vocab, SHAPES, rule, tally)  # type: ignore[arg-type]
    assert (tally.points, tally.agree) == (points, agree)
    if rule == "whole":
        assert tally.examples == [(" a", " "), (" clock", " c")]


def test_plan_runs_clients_without_jump_forward_and_ablates_sync_and_async() -> None:
    plan = build_plan(["sync", "async", "sync_api"], lpt_ablation=True)
    rows = [(p.label, p.strategy, p.order, p.jump) for p in plan]
    assert rows == [
        ("sync", "sync", "lpt", True),
        ("async", "async", "lpt", True),
        ("sync_api", "sync_api", "lpt", False),
        ("async_random", "async", "random", True),
        ("sync_nojf", "sync", "lpt", False),
        ("async_nojf", "async", "lpt", False),
    ]
    assert [p.label for p in build_plan(["parallel"], jump_ablation=False)] == ["parallel"]


def test_gain_share_and_its_interval() -> None:
    sync = [100.0, 200.0, 300.0]
    ideal = [80.0, 160.0, 240.0]
    share, ci = gain_share(sync, [90.0, 180.0, 270.0], ideal)
    assert share == pytest.approx(0.5)
    assert ci is not None and ci[0] <= 0.5 <= ci[1]
    assert gain_share(sync, sync, sync) == (None, None)  # no gain to take
    # A task whose sync run came in under the bound: resamples of it alone
    # have no gain to share, so the interval has no lower tail to give.
    share, ci = gain_share([100.0, 200.0, 90.0], [95.0, 180.0, 95.0], [90.0, 150.0, 100.0])
    assert share is not None and ci is None


def _run(task: str, strategy: str, sampled: int, forced: int, ms: float, lat: float) -> RunResult:
    r = RunResult(task, "parallel", strategy, "lpt", latency_ms=lat)
    r.call_blocks, r.block_sampled, r.block_forced, r.block_ms = 2, sampled, forced, ms
    return r


def test_jump_rows_pair_each_strategy_with_its_nojf_row() -> None:
    runs = [
        _run("t0", "async", 24, 16, 400.0, 900.0),
        _run("t0", "async_nojf", 40, 0, 600.0, 1000.0),
        _run("t1", "async", 20, 20, 300.0, 800.0),
        _run("t1", "async_nojf", 40, 0, 500.0, 1000.0),
        _run("t0", "sync", 24, 16, 400.0, 1000.0),  # no sync_nojf: no row
    ]
    (row,) = jump_rows("parallel", runs)
    assert row.strategy == "async" and row.n == 2 and row.blocks == 2.0
    assert (row.sampled_off, row.sampled_on, row.forced_on) == (20.0, 11.0, 9.0)
    assert row.sampled_ratio == pytest.approx(22 / 40)
    assert row.ms_ratio == pytest.approx(700 / 1100)
    assert row.speedup == pytest.approx(2000 / 1700)
    assert row.to_json()["sampled_ratio"] == pytest.approx(0.55)
    assert format_jump_table([row]).row_count == 1


def test_call_block_tokens_cut_each_block_from_its_opener() -> None:
    vocab = ScriptedBackend()
    text = "Hi. [CALL] a [HEAD] calc(expression='1') [END] then [TRAP][END] ok [CALL] clock() [END]"
    blocks = call_block_tokens(vocab.tokenize(text), vocab)
    assert [vocab.text(b) for b in blocks] == [
        " [CALL] a [HEAD] calc(expression='1') [END]",
        " [CALL] clock() [END]",
    ]
