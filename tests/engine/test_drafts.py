"""Drafted call text on the scripted backend: what is guessed goes in with the
step's tokens, is kept only where the script (the model) writes it, and the
answer is the same as without drafts."""

from __future__ import annotations

from typing import Any

import pytest

from asynclm_tui.core.api.enums import Mode
from asynclm_tui.core.api.events import CallIssued, Configure, Token, TurnDone
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.cml.constrain import BlockGrammar, tool_shape
from asynclm_tui.core.cml.syntax import CMLParser
from asynclm_tui.core.decode.drafts import Drafter
from asynclm_tui.core.decode.jump_forward import GrammarFollower, JumpForward
from asynclm_tui.core.tools.registry import ToolRegistry
from tests.engine.engine_harness import Run, scripted

SCHEMAS: dict[str, dict[str, Any]] = {
    "calc": {"type": "object", "properties": {"expression": {"type": "string"}}, "required": []},
    "weather": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "units": {"type": "string"}},
        "required": ["city"],
    },
}
SHAPES = {name: tool_shape(schema) for name, schema in SCHEMAS.items()}
ASK = "What is the weather in Buenos Aires, and 2+3?"
SCRIPT = (
    "Checking. [CALL] weather1 [HEAD] weather(city='Buenos Aires Argentina', units='metric') "
    "[END] [CALL] calc1 [HEAD] calc(expression='2+3') [END] [TRAP][END] Done.<eos>"
)


def _settings(drafts: bool) -> dict[str, Any]:
    return {"generation.constrain_calls": True, "generation.draft_calls": drafts}


def _registry() -> ToolRegistry:
    registry = ToolRegistry()
    for name, schema in SCHEMAS.items():
        registry.add_function(
            name, lambda **kw: f"ok {kw}", description="test tool", parameters=schema
        )
    return registry


def _turn(drafts: bool, script: str = SCRIPT, *, verifies: bool = True) -> tuple[Run, TurnDone]:
    backend = ScriptedBackend([script], verifies=verifies)
    with scripted(backend=backend, registry=_registry(), **_settings(drafts)) as run:
        run.post(Configure(mode=Mode.SYNC))  # results land in the same places
        done = run.turn(ASK)
    return run, done


def test_drafts_write_the_same_answer_in_fewer_steps() -> None:
    plain_run, plain = _turn(False)
    run, done = _turn(True)
    assert run.backend.text() == plain_run.backend.text()
    assert done.text == plain.text and done.n_generated == plain.n_generated
    assert [(c.fn, c.kwargs) for c in run.of(CallIssued)] == [
        ("weather", {"city": "Buenos Aires Argentina", "units": "metric"}),
        ("calc", {"expression": "2+3"}),
    ]
    assert plain.n_drafted == 0 < done.n_drafted == done.block_drafted
    written = done.block_sampled + done.block_forced + done.block_drafted
    assert written == plain.block_sampled + plain.block_forced
    # Fewer decode calls: the kept drafts took none of their own.
    assert len(run.backend.appends) < len(plain_run.backend.appends)
    kept = [t.text for t in run.of(Token) if t.checked and not t.forced]
    assert " Aires" in kept  # copied from the request, after " Buenos"


def test_a_wrong_guess_costs_no_token_of_the_models() -> None:
    # The required parameter is guessed first; the model writes the other one.
    script = "Ok. [CALL] w [HEAD] weather(units='metric', city='Oslo') [END]<eos>"
    plain_run, plain = _turn(False, script)
    run, done = _turn(True, script)
    assert run.backend.text() == plain_run.backend.text()
    assert done.text == plain.text
    # "city=" went in with " weather(" and was dropped again: the cache never kept it.
    assert " weather(city=" in run.backend.appended_texts()
    assert "weather(city" not in run.backend.text().split("<|im_start|>assistant")[-1]
    assert done.n_drafted == 0 and done.block_sampled == plain.block_sampled  # nothing lost


def test_a_backend_that_cannot_check_gets_no_drafts() -> None:
    _, done = _turn(True, verifies=False)
    assert done.n_drafted == 0 and done.n_forced > 0


def _drafted(text: str, source: str = "") -> str:
    """What the drafter guesses after ``text`` (the open block's parse)."""
    vocab = ScriptedBackend()
    parser, follower = CMLParser(), GrammarFollower(SHAPES)
    parser.feed(text)
    follower.follow(parser)
    drafter = Drafter(vocab, SHAPES, JumpForward(vocab))
    drafts = drafter.draft(parser.block_kind, parser.block_tail, follower.active, source + text, 12)
    return vocab.text([d.token for d in drafts])


@pytest.mark.parametrize(
    ("text", "source", "guess"),
    [
        # The id's counter, [HEAD] and the tool it names.
        (" [CALL] calc", "", "1 [HEAD] calc("),
        (" [CALL] calc [HEAD] x [END] [CALL] calc", "", "2 [HEAD] calc("),
        (" [CALL] weather2", "", " [HEAD] weather("),
        (" [CALL] w7", "", " [HEAD]"),
        # The next parameter, required first; its "=" is forced (this
        # vocabulary has no "='" for the model to write instead).
        (" [CALL] a [HEAD] weather(", "", "city="),
        (" [CALL] a [HEAD] weather(city='x',", "", " units="),
        # An argument the request spells out, never the argument itself.
        (" [CALL] a [HEAD] weather(city='Buenos", "in Buenos Aires, ok", " Aires"),
        (" [CALL] a [HEAD] weather(city='Buenos", "in Buenos Aires\nok", " Aires"),
        (" [CALL] a [HEAD] weather(city='Buenos", "", ""),
        # Nothing to guess outside a call's arguments and names.
        (" [CALL] a [HEAD] calc(expression='2", "", ""),
        ("Plain text", "", ""),
    ],
)
def test_guesses(text: str, source: str, guess: str) -> None:
    assert _drafted(text, source) == guess


def test_a_draft_never_closes_its_block() -> None:
    vocab = ScriptedBackend()
    grammar = BlockGrammar(SHAPES)
    assert grammar.feed(" a [HEAD] calc(expression='2+3'")
    drafter = Drafter(vocab, SHAPES, JumpForward(vocab))
    # ") [END]" is forced from here, and closing the block is jump-forward's.
    assert drafter.draft("[CALL]", " a [HEAD] calc(expression='2+3'", grammar, "", 12) == []
