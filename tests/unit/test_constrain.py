"""The call grammar accepts exactly viable prefixes of well-formed calls."""

from __future__ import annotations

import pytest

from asynclm_tui.core.cml.constrain import BlockGrammar, tool_shape

TOOLS = {
    "sleep": tool_shape(
        {"type": "object", "properties": {"ms": {"type": "integer"}}, "required": ["ms"]}
    ),
    "spotify.play": tool_shape(
        {
            "type": "object",
            "properties": {"artist": {"type": "string"}, "n": {"type": "integer"}, "x": {}},
            "required": ["artist"],
        }
    ),
}


def run(text: str, kind: str = "[CALL]") -> tuple[bool, bool]:
    grammar = BlockGrammar(TOOLS, kind)
    ok = grammar.feed(text)
    return ok, grammar.done


@pytest.mark.parametrize(
    "text",
    [
        " a [HEAD] sleep(ms=1500) [END]",
        " sleep(ms=15)[END]",
        "\nb\n[HEAD]\nspotify.play(artist='A \\'B\\'', n=-3)\n[END]",
        " spotify.play(artist=\"x\", x=[1, {'a': (2, 3)}, None, -1.5e3],) [END]",
    ],
)
def test_accepts_complete_calls(text: str) -> None:
    assert run(text) == (True, True)


@pytest.mark.parametrize(
    "text",
    [
        " a [HEAD] sleep(ms='x') [END]",  # wrong type for an integer parameter
        " a [HEAD] sleep() [END]",  # required parameter missing
        " a [HEAD] sleep(ms=1, ms=2) [END]",  # repeated parameter
        " a [HEAD] sleep(sec=1) [END]",  # unknown parameter
        " user [HEAD] sleep(ms=1) [END]",  # reserved id
        " foo(ms=1) [END]",  # unregistered tool
        " a.b [HEAD] sleep(ms=1) [END]",  # dotted id
        " [END]",  # empty call
        " x [END]",  # bare identifier
        " a [HEAD] spotify.play(artist='x\ny') [END]",  # newline inside a string
    ],
)
def test_rejects_invalid_calls(text: str) -> None:
    assert run(text)[0] is False


def test_prefixes_are_viable_and_state_is_unchanged_on_reject() -> None:
    grammar = BlockGrammar(TOOLS, "[CALL]")
    text = " a [HEAD] sleep(ms=1500) [END]"
    for ch in text:
        assert grammar.accepts(ch)
        assert not grammar.accepts("!")  # never viable here
        assert grammar.feed(ch)
    assert grammar.done


def test_trap_only_allows_end() -> None:
    assert run(" [END]", "[TRAP]") == (True, True)
    assert run("x[END]", "[TRAP]")[0] is False
