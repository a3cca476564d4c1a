"""``asynclm run``'s readable output, event by event: prose streams as it
comes, a call or a result is a line of its own, no CML and no escape
sequence reaches the terminal."""

from __future__ import annotations

import io

from asynclm_tui.core.api.enums import CallStatus, InterruptKind, Mode, PauseReason, StopReason
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    Event,
    Interrupt,
    Token,
    Trapped,
    TurnDone,
    TurnStarted,
    UserMessage,
)
from asynclm_tui.headless.answer_text import AnswerText

DONE = TurnDone(9.0, StopReason.EOS, 10, 20, 5, 35, 2048, 100.0, 80.0, 25.0)


class Printer:
    def __init__(self, *, color: bool = False) -> None:
        self.out = io.StringIO()
        self.text = AnswerText(self.out, color=color)
        self.text.write(TurnStarted(0.0, 1, Mode.ASYNC, "Go."))

    def feed(self, *events: Event | str) -> str:
        for event in events:
            self.text.write(Token(1.0, event) if isinstance(event, str) else event)
        return self.out.getvalue()


def call(call_id: str, fn: str = "clock", **kwargs: object) -> CallIssued:
    return CallIssued(1.0, call_id, fn, (), dict(kwargs))


def result(call_id: str, value: str, ms: float = 120.0) -> list[Event]:
    return [
        CallUpdated(1.0, call_id, CallStatus.RUNNING),
        CallFinished(1.1, call_id, True, ms),
        Interrupt(1.2, call_id, value, 5, 10.0),
    ]


def test_prose_is_written_as_it_comes_and_only_a_possible_marker_waits() -> None:
    p = Printer()
    assert p.feed("Hello wor") == "Hello wor"
    # "[" may start [CALL]: it waits for the next token, and no longer.
    assert p.feed("ld, see [") == "Hello world, see"
    assert p.feed("1] for more") == "Hello world, see [1] for more"


def test_a_call_split_across_tokens_is_one_line_and_the_sentence_end_stays_before_it() -> None:
    p = Printer()
    assert p.feed("Let me check", " [CA", "LL] a [HEAD] clock(tz=", "'Asia/Tokyo') [END") == (
        "Let me check"
    )
    # The token that closes the block also ends the sentence and starts the
    # next one; the engine announces the call after that token.
    p.feed("]. Then")
    out = p.feed(call("a", tz="Asia/Tokyo"), " I wait.")
    assert out == "Let me check.\n⚙ a = clock(tz='Asia/Tokyo')\nThen I wait."
    assert "[CALL]" not in out and "[END]" not in out


def test_a_call_that_asks_no_result_says_so() -> None:
    p = Printer()
    p.feed("Noted. [CALL] save_note(text='tea') [END]")
    out = p.feed(CallIssued(1.0, "~1", "save_note", (), {"text": "tea"}, False), " Bye.", DONE)
    assert out == "Noted.\n⚙ save_note(text='tea')  (no result wanted)\nBye.\n"


def test_a_result_that_lands_mid_sentence_is_shown_at_the_sentence_end() -> None:
    p = Printer()
    p.feed("[CALL] a [HEAD] clock() [END]", call("a"), "Let", " me")
    out = p.feed(*result("a", "15:07 JST"), " look", " that", " up.", " Done.", DONE)
    assert out == "⚙ a = clock()\nLet me look that up.\n↩ a → 15:07 JST · took 120 ms\nDone.\n"


def test_a_result_at_a_line_start_and_a_pause_are_shown_at_once() -> None:
    p = Printer()
    p.feed("[CALL] a [HEAD] clock() [END]", call("a"), "Waiting. [TRAP][END]")
    out = p.feed(Trapped(1.0, PauseReason.TRAP, ("a",)))
    assert out.endswith("Waiting.\n⏸ waiting for a …\n")
    out = p.feed(*result("a", "line one\nline two"))
    assert out.endswith("⏸ waiting for a …\n↩ a → line one line two · took 120 ms\n")


def test_failures_and_messages_mid_answer_have_their_own_lines() -> None:
    p = Printer()
    p.feed("[CALL] a [HEAD] nope() [END]", call("a", "nope"))
    p.feed(CallFinished(1.0, "a", False, 0.0, CallStatus.FAILED), "Hm.")
    p.feed(Interrupt(1.1, "a", "error: unknown function", 4, 1.0))
    out = p.feed(
        UserMessage(1.2, "make it short"),
        Interrupt(1.2, "user", "x", 3, 0.0, kind=InterruptKind.USER),
        DONE,
    )
    assert out == (
        "⚙ a = nope()\nHm.\n✗ a → error: unknown function\n✉ you, mid-answer: make it short\n"
    )


def test_escape_sequences_from_the_model_and_a_tool_never_reach_the_terminal() -> None:
    p = Printer(color=True)
    p.feed("Title \x1b]0;pwned\x07 set. [CALL] a [HEAD] echo(text='x') [END]", call("a", "echo"))
    out = p.feed(*result("a", "\x1b[2J\x9b31m cleared"), DONE)
    assert "␛]0;pwned␇" in out and "␛[2J" in out and "\ufffd31m" in out
    # The only escape sequences are the dimming of the chips' lines.
    assert out.replace("\x1b[2m", "").replace("\x1b[0m", "").count("\x1b") == 0
    assert "\x1b[2m⚙ a = echo()\x1b[0m\n" in out


def test_an_answer_ends_on_a_line_break_without_trailing_space() -> None:
    p = Printer()
    assert p.feed("One.  \n\n", DONE) == "One.\n"
    assert p.feed(TurnStarted(10.0, 2, Mode.ASYNC, "More."), "Two.", DONE) == "One.\nTwo.\n"
