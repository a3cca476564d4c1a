"""Engine-shaped event streams for session tests (no model needed)."""

from __future__ import annotations

from pathlib import Path

from asynclm_tui.core.cml import format_interrupt
from asynclm_tui.core.events import (
    CallFinished,
    CallIssued,
    CallStatus,
    CallUpdated,
    Event,
    Interrupt,
    ModelLoaded,
    Prefilled,
    Resumed,
    Token,
    Trapped,
    TurnDone,
    TurnStarted,
    UserMessage,
)
from asynclm_tui.core.sessions.recorder import Recorder

SYSTEM = "You are a test."


def turn_events(number: int, *, t0: float = 0.0, done: bool = True) -> list[Event]:
    """One turn: text, a call, a trap, its result, a user interrupt, more text."""
    call = f"c{number}"
    call_text = f" [CALL] {call} [HEAD] sleep(ms={number}) [END]"
    raw = [f"Turn {number} starts.", call_text, " Waiting", " [TRAP][END]"]
    visible = [f"Turn {number} starts.", "", " Waiting", ""]
    result = f"slept {number} ms"
    out: list[Event] = [
        TurnStarted(t0, number, "async", f"question {number} about parsers"),
        Prefilled(t0 + 0.1, 40 * number, 40, 5.0),
    ]
    for r, v in zip(raw[:2], visible[:2], strict=True):
        out.append(Token(t0 + 0.2, r, v))
    out += [
        CallIssued(t0 + 0.21, call, "sleep", (), {"ms": number}, True, 1000.0),
        CallUpdated(t0 + 0.22, call, CallStatus.RUNNING),
    ]
    for r, v in zip(raw[2:], visible[2:], strict=True):
        out.append(Token(t0 + 0.3, r, v))
    out.append(Trapped(t0 + 0.31, "trap", (call,)))
    if not done:
        return out
    out += [
        CallFinished(t0 + 0.5, call, True, 280.0, CallStatus.DONE, result),
        Resumed(t0 + 0.51, 200.0),
        Interrupt(t0 + 0.51, call, result, 9, 190.0, 3.0, "tool"),
        UserMessage(t0 + 0.6, "be brief"),
        Interrupt(t0 + 0.6, "user", "be brief", 8, 0.0, 2.0, "user"),
        Token(t0 + 0.7, " Done.", " Done."),
    ]
    text = (
        "".join(raw)
        + format_interrupt(call, result)
        + format_interrupt("user", "be brief")
        + " Done."
    )
    out.append(TurnDone(t0 + 0.8, "eos", 40 * number, 5, 17, 0, 2048, 800.0, 300.0, 16.0, text))
    return out


def record(db: Path, turns: int, *, last_done: bool = True) -> int:
    """Write a chat of ``turns`` turns through a recorder; returns its id."""
    rec = Recorder(db, system=lambda: SYSTEM, interval=0.05)
    rec(ModelLoaded(0.0, "test.gguf", 2048, 0, False, 1.0))
    for n in range(1, turns + 1):
        for event in turn_events(n, t0=float(n), done=last_done or n < turns):
            rec(event)
    rec.close()
    assert rec.session_id is not None
    return rec.session_id
