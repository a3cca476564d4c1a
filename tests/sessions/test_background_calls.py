"""Saved chats with calls that outlived their answer: a turn their result
started is saved as such (no user message, the calls that started it), a
call's time in the background and its held result are part of the call, and
one still running when asynclm quit is interrupted at exit, which a
continued chat tells the model once (issue 31)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from asynclm_tui.core.api.delivery import CallBackgrounded
from asynclm_tui.core.api.enums import CallStatus, InterruptKind
from asynclm_tui.core.api.events import (
    CallFinished,
    CallUpdated,
    Input,
    Interrupt,
    NewSession,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.core.decode.background import AT_EXIT_NOTE
from asynclm_tui.core.sessions import store as store_module
from asynclm_tui.core.sessions.export import render, to_jsonl
from asynclm_tui.core.sessions.recorder import Recorder, resume_into
from asynclm_tui.core.sessions.records import from_record
from asynclm_tui.core.sessions.rescue import copy_session
from asynclm_tui.core.sessions.store import SessionStore, StoredSession
from asynclm_tui.core.tools.executor import AT_EXIT
from asynclm_tui.lab.bench.open_chat import SYSTEM
from asynclm_tui.lab.bench.open_chat import record_chat as record
from asynclm_tui.ui.replay import turn_events
from tests.engine.engine_harness import Gate, scripted
from tests.sessions.test_store import AS_VERSION_2

CALL = "Starting the build. [CALL] a [HEAD] build() [END] I will tell you.<eos> Noted."
REPORT = "The build finished: built."


def load(db: Path, session_id: int = 1) -> StoredSession:
    store = SessionStore(db)
    try:
        return store.load(session_id)
    finally:
        store.close()


class Posts:
    """Stands for the engine: keeps what is posted to it."""

    def __init__(self) -> None:
        self.posted: list[Input] = []

    def post(self, inp: Input) -> None:
        self.posted.append(inp)


def record_result_turn(db: Path) -> None:
    """A chat whose call outlives its answer and whose result starts turn 2."""
    gate = Gate("built")
    rec = Recorder(db, system=lambda: SYSTEM, interval=0.05)
    try:
        with scripted([CALL, REPORT], tools={"build": gate},
                      **{"tools.wait_at_end_s": 0}) as run:  # fmt: skip
            run.engine.subscribe(rec)
            run.turn("Build it.")
            run.wait_for(CallBackgrounded, id="a")
            gate.open()
            started = run.wait_for(TurnStarted, 2)
            run.wait_for(TurnDone, 2)
        assert started.started_by == ("a",)
    finally:
        gate.open()
        rec.close()


def test_a_turn_started_by_a_result_is_saved_as_such_and_reads_back(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    record_result_turn(db)
    chat = load(db)
    first, second = chat.turns
    assert (first.started_by, first.user_text) == ((), "Build it.")
    assert (second.started_by, second.user_text) == (("a",), "")
    # No message of the user's: the model answered the result's notice.
    roles = [m["role"] for m in chat.messages()]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert chat.messages()[3]["content"] == "a finished."
    assert chat.messages()[-1]["content"].lstrip().startswith("[INTR] a [HEAD] built [END]")
    assert [(i.call_id, i.kind) for i in first.interrupts] == [("a", "background")]
    assert [(i.call_id, i.kind) for i in second.interrupts] == [("a", "tool")]
    (call,) = first.calls
    assert (call.status, call.result, call.deliver, call.deliver_idle) == (
        "done",
        "built",
        "interrupt",
        "answer",
    )
    assert call.background_t is not None and call.held_t is not None
    assert call.issued_t < call.background_t <= call.held_t
    assert chat.interrupted_at_exit() == ()
    # The replay log has the call's time in the background and its turn's start.
    kinds = [k for t in chat.turns for k, _ in t.events]
    assert "background" in kinds and "result_held" in kinds
    replayed = [from_record(k, d) for k, d in second.events]
    turn = next(e for e in replayed if isinstance(e, TurnStarted))
    assert turn.started_by == ("a",)
    held = [from_record(k, d) for t in chat.turns for k, d in t.events if k == "background"]
    assert [type(e) for e in held] == [CallBackgrounded]


def test_a_result_turn_exports_as_an_answer_saying_what_started_it(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    record_result_turn(db)
    chat = load(db)
    md = render(chat, "md")
    assert "## You (turn 2)" not in md
    assert "## Assistant (turn 2)\n\n*(started by build a, finished after " in md
    assert "> ⏳ a goes on in the background" in md
    data = json.loads(render(chat, "json"))
    assert [t["started_by"] for t in data["turns"]] == [[], ["a"]]
    assert data["turns"][0]["calls"][0]["deliver_idle"] == "answer"
    second = to_jsonl(chat)[1]
    roles = [m["role"] for m in second["messages"]]
    assert roles == ["system", "user", "assistant", "assistant"]
    assert second["meta"]["started_by"] == ["a"]


def test_a_saved_copy_keeps_the_result_turn_and_the_calls_delivery(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    record_result_turn(db)
    target = SessionStore(tmp_path / "copy.db")
    src = sqlite3.connect(db)
    try:
        copied = copy_session(src, target, 1)
    finally:
        src.close()
        target.close()
    assert not copied.missing
    before, after = load(db), load(tmp_path / "copy.db", copied.session_id)
    assert [t.started_by for t in after.turns] == [t.started_by for t in before.turns]
    assert after.calls() == before.calls()


def test_a_background_call_running_at_exit_is_told_to_the_model_once_on_resume(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    gate = Gate("too late")
    rec = Recorder(db, system=lambda: SYSTEM, interval=0.05)
    try:
        with scripted([CALL], tools={"build": gate}, **{"tools.wait_at_end_s": 0}) as run:
            run.engine.subscribe(rec)
            run.turn("Build it.")
            run.wait_for(CallBackgrounded, id="a")
            run.wait_for(CallUpdated, id="a", status=CallStatus.RUNNING)
        # asynclm quits: the engine closes with the call in the background.
    finally:
        gate.open()
        rec.close()
    chat = load(db)
    (call,) = chat.turns[0].calls
    assert call.status == "cancelled" and AT_EXIT in (call.result or "")
    assert call.background_t is not None
    assert call.held_t is None  # nothing waited for a turn: asynclm quit
    assert "result_held" not in [k for k, _ in chat.turns[0].events]
    assert chat.interrupted_at_exit() == ("a",)
    assert "> ✗ a: interrupted at exit (asynclm quit while it ran)" in render(chat, "md")
    # Shown as interrupted at exit when the chat is drawn again.
    ended = [e for e in turn_events(chat.turns[0]) if isinstance(e, CallFinished)]
    assert [(e.id, e.status) for e in ended] == [("a", CallStatus.CANCELLED)]
    assert AT_EXIT in ended[-1].value

    posts = Posts()
    resume_into(posts, chat)  # type: ignore[arg-type]  # (post is all it uses)
    (new,) = posts.posted
    assert isinstance(new, NewSession) and new.interrupted == ("a",)
    assert new.history == tuple(chat.messages()) and "a" in new.call_ids

    # Continued: the next turn starts by telling the model, and that is saved.
    rec = Recorder(db, session_id=chat.info.id, system=lambda: SYSTEM, interval=0.05)
    try:
        with scripted(["It was lost; shall I start it again?"]) as run:
            run.engine.subscribe(rec)
            resume_into(run.engine, chat)
            done = run.turn("Is it built?")
        told = [e for e in run.of(Interrupt) if e.kind is InterruptKind.ERROR]
        assert [(e.id, e.value) for e in told] == [("a", AT_EXIT_NOTE)]
        assert done.text.lstrip().startswith(f"[INTR] a [HEAD] {AT_EXIT_NOTE} [END]")
    finally:
        rec.close()
    again = load(db)
    assert [(i.call_id, i.kind) for i in again.turns[1].interrupts] == [("a", "error")]
    assert again.interrupted_at_exit() == ()  # told once: not again on the next resume


def test_a_call_killed_mid_run_counts_as_interrupted_unless_its_result_was_read(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    record(db, 2)
    con = sqlite3.connect(db)
    # c1's result reached the model; c2 never finished (the process was killed).
    con.execute("UPDATE calls SET status = 'running', ok = NULL, result = NULL")
    con.execute("DELETE FROM interrupts WHERE call_id = 'c2'")
    con.commit()
    con.close()
    assert load(db).interrupted_at_exit() == ("c2",)


def test_a_version_2_database_gains_the_background_columns(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    sid = record(db, 1)
    con = sqlite3.connect(db)
    con.executescript(f"{AS_VERSION_2} PRAGMA user_version = 2;")
    con.close()
    chat = load(db, sid)
    assert chat.turns[0].started_by == () and chat.turns[0].calls[0].background_t is None
    store = SessionStore(db)
    assert store.version == store_module.SCHEMA_VERSION
    store.close()


def test_a_read_only_version_2_database_reads_without_the_new_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    sid = record(db, 2)
    con = sqlite3.connect(db)
    con.executescript(f"{AS_VERSION_2} PRAGMA user_version = 2;")
    con.close()
    monkeypatch.setattr(store_module, "writable", lambda path: False)
    store = SessionStore(db, create=False)
    try:
        assert store.read_only and store.version == 2
        chat = store.load(sid)
    finally:
        store.close()
    assert [t.started_by for t in chat.turns] == [(), ()]
    assert [c.held_t for t in chat.turns for c in t.calls] == [None, None]
