"""The call grammar accepts exactly viable prefixes of well-formed calls in
their canonical form, and knows what every continuation must start with."""

from __future__ import annotations

import random

import pytest

from asynclm_tui.core.cml.constrain import MAX_ID_CHARS, BlockGrammar, tool_shape

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
    "spotify.pause": tool_shape({"type": "object", "properties": {}}),
    "set_flag": tool_shape(
        {
            "type": "object",
            "properties": {"on": {"type": "boolean"}, "note": {"type": "null"}},
            "required": ["on", "note"],
        }
    ),
}
PRINTABLE = "".join(chr(c) for c in range(32, 127)) + "\n\t\u00e9"


def run(text: str, kind: str = "[CALL]") -> tuple[bool, bool]:
    grammar = BlockGrammar(TOOLS, kind)
    ok = grammar.feed(text)
    return ok, grammar.done


VALID = [
    " a [HEAD] sleep(ms=1500) [END]",
    " sleep(ms=15) [END]",
    " b [HEAD] spotify.play(artist='A \\'B\\'', n=-3) [END]",
    " spotify.play(artist=\"x\", x=[1, {'a': (2, 3)}, None, -1.5e3]) [END]",
    " c [HEAD] spotify.play('Muse', 2) [END]",  # positional, bound in order
    " spotify.play('Muse', x=[]) [END]",
    " spotify.pause() [END]",
    " f [HEAD] set_flag(on=True, note=None) [END]",
]


@pytest.mark.parametrize("text", VALID)
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
        " spotify.play(artist='x', 'y') [END]",  # positional after a keyword
        " sleep(1, 2) [END]",  # more positional arguments than parameters
        # Outside literals the whitespace is the canonical form's, nothing else:
        " sleep(ms=15)[END]",
        "\nb\n[HEAD]\nsleep(ms=1)\n[END]",
        " a  [HEAD] sleep(ms=1) [END]",
        " a[HEAD] sleep(ms=1) [END]",
        " a [HEAD]sleep(ms=1) [END]",
        " sleep (ms=1) [END]",
        " sleep( ms=1) [END]",
        " sleep(ms = 1) [END]",
        " spotify.play(artist='x',n=1) [END]",
        " spotify.play(artist='x', n=1,) [END]",
        " sleep(ms=1)  [END]",
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
    assert run("[END]", "[TRAP]") == (True, True)
    assert run(" [END]", "[TRAP]")[0] is False
    assert run("x[END]", "[TRAP]")[0] is False


@pytest.mark.parametrize(
    ("written", "forced"),
    [
        ("", " "),  # after [CALL]: one space, then the model's id or tool name
        (" a", ""),  # the id may go on
        (" a ", "[HEAD] s"),  # then [HEAD], a space, and every tool starts with s
        (" a [H", "EAD] s"),
        (" a [HEAD] s", ""),  # sleep, spotify.play, set_flag: a choice
        (" a [HEAD] sl", "eep("),  # one tool; then ms= or a positional value
        (" a [HEAD] set", "_flag("),
        (" a [HEAD] set_flag(o", "n="),
        (" a [HEAD] sp", "otify.p"),  # play or pause
        (" a [HEAD] spotify.pa", "use() [END]"),  # no parameters: the whole rest
        (" a [HEAD] sleep(ms=15", ""),  # more digits, or the end of the call
        (" a [HEAD] sleep(ms=15)", " [END]"),
        (" a [HEAD] sleep(ms=15) [END]", ""),  # closed
        (" f [HEAD] set_flag(on=T", "rue, note=None) [END]"),
        (" b [HEAD] spotify.play(artist='x'", ""),  # n, x or the end
        (" b [HEAD] spotify.play(artist=", ""),  # ' or "
    ],
)
def test_forced_is_the_only_continuation(written: str, forced: str) -> None:
    grammar = BlockGrammar(TOOLS)
    assert grammar.feed(written)
    before = grammar.state.copy()
    assert grammar.forced() == forced
    assert grammar.state == before  # nothing was consumed


def test_trap_forces_its_end() -> None:
    grammar = BlockGrammar(TOOLS, "[TRAP]")
    assert grammar.forced() == "[END]"
    assert grammar.feed("[E") and grammar.forced() == "ND]"


def brute_forced(grammar: BlockGrammar) -> str:
    """The forced text found by trying every character at every step."""
    probe = BlockGrammar(TOOLS)
    probe.state = grammar.state.copy()
    out = ""
    while not probe.done:
        viable = [ch for ch in PRINTABLE if probe.accepts(ch)]
        if len(viable) != 1:
            break
        probe.feed(viable[0])
        out += viable[0]
    return out


@pytest.mark.parametrize("seed", range(4))
def test_forced_agrees_with_trying_every_character(seed: int) -> None:
    rng = random.Random(seed)
    for text in VALID:
        grammar = BlockGrammar(TOOLS)
        for ch in text:
            if rng.random() < 0.5:
                assert grammar.forced() == brute_forced(grammar), (text, ch)
            assert grammar.feed(ch)
            if grammar.done:
                break


def test_viable_after() -> None:
    grammar = BlockGrammar(TOOLS)
    assert grammar.feed(" a [HEAD] spotify.play(")
    # a, n, x start a parameter; a quote starts artist, the first, positionally
    assert set(grammar.viable_after("") or "") == set("anx'\"")
    assert grammar.viable_after("artist='x') [END]") is None  # anything may follow
    assert grammar.viable_after("!") == ""


def test_an_id_cannot_grow_forever() -> None:
    grammar = BlockGrammar(TOOLS)
    assert grammar.feed(" " + "x" * MAX_ID_CHARS)
    assert not grammar.accepts("x")  # no tool is named like that either
    assert grammar.forced() == " [HEAD] s"
    assert BlockGrammar(TOOLS).feed(" spotify.pause() [END]")  # names are not ids
