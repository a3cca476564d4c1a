"""The ``--json`` line of every event comes from one ``to_json``."""

from __future__ import annotations

from asynclm_tui.core.api.enums import CallStatus, StopReason
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    Event,
    ModelLoaded,
    Token,
    TurnDone,
    TurnFailed,
)


def test_every_event_shares_the_base_to_json() -> None:
    def subclasses(cls: type[Event]) -> list[type[Event]]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    assert subclasses(Event)
    assert all("to_json" not in vars(c) for c in subclasses(Event))


def test_fields_are_rounded_renamed_or_left_out() -> None:
    assert Token(1.234567, "a", visible="a").to_json() == {
        "event": "token",
        "t": 1.2346,
        "text": "a",
    }
    call = CallIssued(1.0, "c1", "echo", ("hi",), {"x": 1.23456}, False, 5.0, session=3)
    assert call.to_json() == {
        "event": "call",
        "t": 1.0,
        "id": "c1",
        "name": "echo",
        "args": ["hi"],
        "kwargs": {"x": 1.23456},
    }
    result = CallFinished(2.0, "c1", True, 12.3456, CallStatus.DONE, "long value", session=3)
    assert result.to_json() == {
        "event": "result",
        "t": 2.0,
        "id": "c1",
        "ok": True,
        "ms": 12.35,
        "status": "done",
    }
    done = TurnDone(3.0, StopReason.EOS, 1, 2, 3, 4, 5, 6.789, 7.891, 8.123, text="all of it")
    assert done.to_json()["reason"] == "eos" and "text" not in done.to_json()
    assert done.to_json()["tok_s"] == 8.12
    assert TurnFailed(3.0, "boom", detail="Traceback").to_json() == {
        "event": "error",
        "t": 3.0,
        "message": "boom",
        "reason": "error",
    }
    loaded = ModelLoaded(0.1, "m.gguf", 2048, 0, False, 1234.5678, 2, ("a", "b")).to_json()
    assert loaded["tools"] == ["a", "b"] and loaded["load_ms"] == 1234.57
