"""Calls running when a chat ends are saved as interrupted at exit, and a
continued chat shows them so instead of as running forever (issue 36,
finding 5: the ghost whose timer kept ticking)."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    Event,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.core.sessions.recorder import Recorder
from asynclm_tui.core.sessions.store import SessionStore, StoredSession
from asynclm_tui.core.tools.executor import AT_EXIT
from asynclm_tui.lab.bench.open_chat import SYSTEM, chat_turn
from asynclm_tui.ui.replay import turn_events
from asynclm_tui.ui.state import ChatState
from tests.engine.engine_harness import Gate, scripted

SESSION = 1
"""The engine's first session (what a real chat records)."""


def live_events(number: int, *, done: bool) -> list[Event]:
    """A turn of a real chat: events carry the engine session; its call
    is still running when the events stop."""
    out: list[Event] = []
    for event in chat_turn(number, t0=float(number), done=False):
        if isinstance(event, TurnStarted | CallIssued | CallUpdated):
            event = dataclasses.replace(event, session=SESSION)
        out.append(event)
    if done:  # the answer ended (stopped), the call still running
        out.append(TurnDone(number + 0.5, "stopped", 40, 4, 0, 0, 2048, 500.0, 100.0, 8.0, "x"))
    return out


def record(db: Path, turns: list[list[Event]]) -> Recorder:
    rec = Recorder(db, system=lambda: SYSTEM, interval=0.05)
    for events in turns:
        for event in events:
            rec(event)
    rec.flush()
    return rec


def as_killed(db: Path, copy: Path) -> StoredSession:
    """The database as a process killed now leaves it (no close)."""
    src, dst = sqlite3.connect(db), sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    store = SessionStore(copy)
    try:
        return store.load(1)
    finally:
        store.close()


def replayed(stored: StoredSession) -> ChatState:
    state = ChatState()
    for turn in stored.turns:
        for event in turn_events(turn):
            state.apply(event)
    return state


@pytest.mark.parametrize("done", [False, True], ids=["mid-answer", "after-the-answer"])
def test_a_continued_chat_shows_a_call_cut_off_by_a_kill_as_interrupted(
    tmp_path: Path, done: bool
) -> None:
    rec = record(tmp_path / "s.db", [live_events(1, done=done)])
    try:
        stored = as_killed(tmp_path / "s.db", tmp_path / "killed.db")
    finally:
        rec.close()
    (call,) = stored.turns[0].calls
    assert call.status == "running"  # as the kill left it
    state = replayed(stored)
    record_ = state.calls["c1"]
    assert record_.status is CallStatus.CANCELLED, "a ghost: still running"
    assert record_.value == f"error: {AT_EXIT}"
    assert state.active_calls() == []
    # Its timer stopped: the elapsed time no longer grows with the clock.
    assert record_.elapsed_ms(1e6) == record_.elapsed_ms(2e6)


def test_closing_the_recorder_saves_pending_calls_as_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    record(db, [live_events(1, done=True)]).close()
    store = SessionStore(db)
    turn = store.load(1).turns[0]
    store.close()
    (call,) = turn.calls
    assert (call.status, call.ok, call.result) == ("cancelled", False, f"error: {AT_EXIT}")
    kind, data = turn.events[-1]
    assert kind == "result" and data["session"] == SESSION and data["id"] == "c1"
    assert replayed(SessionStore(db).load(1)).calls["c1"].status is CallStatus.CANCELLED


def test_an_engine_closed_with_a_call_running_ends_it_as_interrupted_at_exit(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    gate = Gate()
    rec = Recorder(db, system=lambda: SYSTEM, interval=0.05)
    try:
        with scripted(["Starting. [CALL] gate() [END] Done."], tools={"gate": gate}) as run:
            run.engine.subscribe(rec)
            run.turn()
            run.wait_for(CallUpdated, status=CallStatus.RUNNING)
        finished = run.of(CallFinished)
        assert [(f.status, f.value) for f in finished] == [
            (CallStatus.CANCELLED, f"error: {AT_EXIT}")
        ]
    finally:
        gate.open()
        rec.close()
    store = SessionStore(db)
    (call,) = store.load(1).turns[0].calls
    store.close()
    assert (call.status, call.result) == ("cancelled", f"error: {AT_EXIT}")
