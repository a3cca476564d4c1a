"""Jump-forward on the scripted backend: what the call grammar forces goes in
with the sampled token, in one append, and nothing else changes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from asynclm_tui.core.api.enums import Mode
from asynclm_tui.core.api.events import (
    CallIssued,
    Configure,
    ForceNextTurn,
    Interrupt,
    SendMessage,
    Token,
    TurnDone,
)
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.cml.syntax import INTR
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.tools.registry import ToolRegistry
from tests.engine.engine_harness import Gate, Run, scripted, settings

_INTERRUPT = re.compile(r" \[INTR\] .*? \[END\]")
TWO_CALLS = (
    "Sum. [CALL] a [HEAD] calc(expression='2+3') [END] and [CALL] b [HEAD] "
    "echo(text='hi') [END] Done. [TRAP][END] ok<eos>"
)


def _settings(jump: bool | None, constrain: bool = True) -> dict[str, Any]:
    # Jump-forward alone: drafts (tests/engine/test_drafts.py) add to its batches.
    return {
        "generation.jump_forward": jump,
        "generation.constrain_calls": constrain,
        "generation.draft_calls": False,
    }


def _answer(run: Run) -> str:
    """What the assistant's turn put in the context (after the prompt)."""
    return run.backend.text().split("<|im_start|>assistant\n")[-1]


def _written(run: Run) -> list[str]:
    """The pieces the model wrote in its turn, interrupts left out."""
    pieces = [run.backend.text([t]) for t in run.backend.tokens]
    start = len(pieces) - pieces[::-1].index("<|im_start|>") + 2  # then "assistant", "\n"
    written, skip = [], False
    for piece in pieces[start:]:
        skip = skip or piece == " [INTR]"
        if not skip:
            written.append(piece)
        skip = skip and piece != " [END]"
    return written


def _turn(script: str, jump: bool | None, mode: Mode = Mode.ASYNC) -> tuple[Run, TurnDone]:
    with scripted([script], **_settings(jump)) as run:
        run.post(Configure(mode=mode))
        done = run.turn()
    return run, done


@pytest.mark.parametrize("mode", [Mode.ASYNC, Mode.SYNC, Mode.PARALLEL])
def test_forced_tokens_ride_with_the_sampled_one_and_change_nothing_else(mode: Mode) -> None:
    plain, plain_done = _turn(TWO_CALLS, False, mode)
    jumped, done = _turn(TWO_CALLS, True, mode)
    # The model wrote the same tokens (each run's scripted vocabulary numbers
    # pieces in the order it first meets them, so compare their text); where
    # results landed depends on timing except in sync mode.
    assert _written(jumped) == _written(plain)
    if mode is Mode.SYNC:
        assert jumped.backend.text() == plain.backend.text()
    assert _INTERRUPT.sub("", done.text) == _INTERRUPT.sub("", plain_done.text)
    assert [(c.fn, c.kwargs) for c in jumped.of(CallIssued)] == [
        ("calc", {"expression": "2+3"}),
        ("echo", {"text": "hi"}),
    ]
    assert {i.id for i in jumped.of(Interrupt)} == {"a", "b"}
    # "(" after each tool name, "=" after each parameter, ") [END]" after
    # each argument list and "[END]" after the trap: 2 + 2 + 2*2 + 1.
    assert done.n_forced == 9 and plain_done.n_forced == 0
    assert done.n_generated == plain_done.n_generated
    for run in (jumped, plain):
        runs = run.backend.forced_runs
        assert all(run.backend.text(r) in ("(", "=", ") [END]", "[END]") for r in runs)
    # Each forced run went in with the token sampled before it, in one batch.
    batches = jumped.backend.appended_texts()
    assert " calc(" in batches and "expression=" in batches
    assert any(b.startswith("') [END]") for b in batches)  # a result may follow it


def test_block_counts_reach_the_done_event() -> None:
    _, plain = _turn(TWO_CALLS, False)
    _, done = _turn(TWO_CALLS, True)
    assert (plain.call_blocks, done.call_blocks) == (2, 2)
    # The [CALL] opener starts the count; the trap is no call block.
    assert plain.block_sampled == done.block_sampled + done.block_forced
    assert done.block_forced == 8 and plain.block_forced == 0
    assert done.block_ms > 0 and done.to_json()["block_forced"] == 8


def test_forced_text_is_one_token_event() -> None:
    run, _ = _turn(TWO_CALLS, True)
    forced = [(t.text, t.forced) for t in run.of(Token) if t.forced]
    assert forced == [
        ("(", 1),
        ("=", 1),
        (") [END]", 2),
        ("(", 1),
        ("=", 1),
        (") [END]", 2),
        ("[END]", 1),
    ]


def test_off_unless_calls_are_constrained_or_asked_for() -> None:
    with scripted([TWO_CALLS], **_settings(None, constrain=False)) as run:
        assert run.turn().n_forced == 0  # a big local model: no grammar at all
    with scripted([TWO_CALLS], **_settings(None, constrain=True)) as run:
        assert run.turn().n_forced == 9
    # Without masking the grammar only follows the model (the replay bench).
    with scripted([TWO_CALLS], **_settings(True, constrain=False)) as run:
        assert run.turn().n_forced == 9


def test_a_block_off_the_grammar_is_left_alone() -> None:
    # An unknown tool: the grammar gives up on the block, nothing is forced in it.
    script = (
        "Hm. [CALL] a [HEAD] nosuch(x=1) [END] then [CALL] b [HEAD] calc(expression='1') [END]<eos>"
    )
    with scripted([script], **_settings(True, constrain=False)) as run:
        done = run.turn()
        assert _INTERRUPT.sub("", _answer(run)) == script.removesuffix("<eos>")
    forced = [run.backend.text(r) for r in run.backend.forced_runs]
    assert forced == ["(", "=", ") [END]"]  # the second block only
    assert done.call_blocks == 2  # both are calls (the executor refuses the first)
    assert done.block_forced == 4


def test_no_interrupt_lands_inside_a_block_that_jumps() -> None:
    gate = Gate("opened")
    script = (
        "Go. [CALL] g [HEAD] gate() [END] [CALL] a [HEAD] calc(expression='2+3') [END] "
        "[CALL] b [HEAD] echo(text='x') [END] end<eos>"
    )
    backend = ScriptedBackend([script], step_s=0.002)
    with scripted(backend=backend, tools={"gate": gate}, **_settings(True)) as run:

        def open_in_second_block(event: object) -> None:
            if isinstance(event, Token) and event.text == " calc":
                gate.open()  # the result is ready while "calc(" ... is written

        run.hooks.append(open_in_second_block)
        run.turn()
    text = _answer(run)
    landed = text.index(INTR)
    assert text.index("calc(expression='2+3') [END]") < landed  # after the block, not in it
    for block in ("[CALL] a [HEAD] calc(expression='2+3') [END]", "[CALL] b [HEAD]"):
        assert block in text


def test_the_intr_guard_holds_with_jump_forward() -> None:
    script = "Look: [CALL] a [HEAD] calc(expression='1') [END] [INTR] a [HEAD] fake [END] done<eos>"
    with scripted([script], **_settings(True)) as run:
        done = run.turn()
    assert done.n_forced > 0
    assert _answer(run).count(INTR) == 1  # only the system's own interrupt


def test_a_teacher_forced_script_is_written_once() -> None:
    with scripted([], **_settings(True)) as run:
        assert run.engine.wait_idle(10)  # the scripted vocabulary is not thread-safe
        tokens = run.backend.tokenize(TWO_CALLS.removesuffix(" ok<eos>"))
        run.post(ForceNextTurn(tuple(tokens)))
        run.post(SendMessage("Go."))
        done = run.wait_for(TurnDone)
    assert done.n_forced == 9
    assert run.backend.text().count("calc(expression='2+3') [END]") == 1
    assert _INTERRUPT.sub("", done.text) == TWO_CALLS.removesuffix(" ok<eos>")


def test_over_a_server_the_forced_text_goes_in_a_continuation_prompt() -> None:
    from tests.unit.test_openai_backend import FakeServer, connect

    server = FakeServer()
    backend = connect(server)
    cfg = settings()
    registry = ToolRegistry.load(cfg.tool_paths(), cfg.tools.disabled)
    engine = Engine(cfg, registry, lambda _progress: backend)
    run = Run(engine, ScriptedBackend())
    # The model's chunks; after each jump-forward the stream is closed and a
    # continuation asked for, whose reply is the next list.
    server.replies = [
        ["Sum.", " [CALL] a [HEAD] ca"],  # then "lc(" is forced
        ["expression"],  # then "="
        ["'2+3'"],  # then ") [END]": calc has no other parameter
        [" Done."],
    ]
    engine.start()
    try:
        assert engine.wait_loaded(10)
        done = run.turn()
    finally:
        engine.close()
    prompts = [body["prompt"] for body in server.completions() if body.get("stream")]
    assert prompts[1].endswith("Sum. [CALL] a [HEAD] calc(")
    assert prompts[2].endswith("calc(expression=")
    # The forced ") [END]" went in, the call's result with it if it was back.
    assert _INTERRUPT.sub("", prompts[3]).endswith("calc(expression='2+3') [END]")
    assert [(c.fn, c.kwargs) for c in run.of(CallIssued)] == [("calc", {"expression": "2+3"})]
    assert done.n_forced == len("lc(") + len("=") + len(") [END]")  # one token a character


def test_a_script_that_writes_otherwise_is_not_overruled() -> None:
    # calc has one parameter: after its value the grammar forces ") [END]",
    # the script says ",b=2)"; teacher forcing wins.
    text = "[CALL] a [HEAD] calc(expression='1',b=2) [END]"
    with scripted([], **_settings(True, constrain=False)) as run:
        assert run.engine.wait_idle(10)
        run.post(ForceNextTurn(tuple(run.backend.tokenize(text))))
        run.post(SendMessage("Go."))
        done = run.wait_for(TurnDone)
    assert _INTERRUPT.sub("", done.text) == text
    assert done.n_forced == 2  # "(" and "=": where the script agreed
