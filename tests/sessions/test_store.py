"""The sessions database: what the recorder keeps and how it reads back."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from asynclm_tui.core.api.events import Token, TurnStarted
from asynclm_tui.core.sessions.export import render, to_jsonl
from asynclm_tui.core.sessions.recorder import Recorder
from asynclm_tui.core.sessions.store import SCHEMA_VERSION, SessionStore, StoreError
from asynclm_tui.core.tools.executor import AT_EXIT
from asynclm_tui.lab.bench.open_chat import SYSTEM
from asynclm_tui.lab.bench.open_chat import record_chat as record


def test_a_recorded_turn_has_everything_to_show_and_continue_it(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    sid = record(db, 2)
    store = SessionStore(db)
    chat = store.load(sid)
    assert chat.info.title == "question 1 about parsers"
    assert chat.info.model == "test.gguf"
    assert [t.number for t in chat.turns] == [1, 2]
    assert chat.turns[0].raw_text.endswith("[INTR] user [HEAD] be brief [END] Done.")
    turn = chat.turns[1]
    assert turn.complete and turn.reason == "eos"
    assert turn.raw_text.startswith("Turn 2 starts. [CALL] c2 [HEAD] sleep(ms=2) [END]")
    assert "[INTR] c2 [HEAD] slept 2 ms [END]" in turn.raw_text
    assert turn.visible_text == "Turn 2 starts. Waiting Done."
    (call,) = turn.calls
    assert (call.fn, call.args, call.status, call.ok, call.result) == (
        "sleep",
        {"args": [], "kwargs": {"ms": 2}},
        "done",
        True,
        "slept 2 ms",
    )
    assert call.started_t == pytest.approx(2.22) and call.ms == 280.0
    # Interrupts land after the prompt (80 tokens) and the 4 tokens written.
    assert [(i.call_id, i.kind, i.token_offset) for i in turn.interrupts] == [
        ("c2", "tool", 84),
        ("user", "user", 93),
    ]
    assert chat.messages()[0] == {"role": "system", "content": SYSTEM}
    assert chat.messages()[-1] == {"role": "assistant", "content": turn.raw_text}
    assert store.integrity() == "ok"


def test_schema_is_versioned_and_wal(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    SessionStore(db).close()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer asynclm"):
        SessionStore(db)


def test_list_search_rename_delete(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    first = record(db, 1)
    second = record(db, 3)
    store = SessionStore(db)
    assert [(s.id, s.turns) for s in store.list_sessions()] == [(second, 3), (first, 1)]
    assert store.latest() == second
    assert [s.id for s in store.list_sessions("QUESTION 3")] == [second]
    assert [s.id for s in store.list_sessions("Waiting Done")] == [second, first]
    assert store.list_sessions("100%_") == []
    store.rename(first, "  parsers  ")
    assert store.load(first).info.title == "parsers"
    store.delete(second)
    assert [s.id for s in store.list_sessions()] == [first]
    assert store.db.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 1
    with pytest.raises(StoreError, match="no session 99"):
        store.delete(99)
    with pytest.raises(StoreError, match="no session"):
        store.load(second)


def test_a_partial_turn_is_kept_and_marked(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    sid = record(db, 2, last_done=False)
    chat = SessionStore(db).load(sid)
    last = chat.turns[-1]
    assert not last.complete
    assert last.raw_text == "Turn 2 starts. [CALL] c2 [HEAD] sleep(ms=2) [END] Waiting [TRAP][END]"
    # The recorder closed with the call pending: it ended with the chat.
    assert (last.calls[0].status, last.calls[0].result) == ("cancelled", f"error: {AT_EXIT}")
    assert "cut off when asynclm closed" in render(chat, "md")


def test_exports(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    sid = record(db, 2)
    chat = SessionStore(db).load(sid)
    md = render(chat, "md")
    assert "## You (turn 2)" in md and "> ⚙ `c2 = sleep(ms=2)`" in md
    assert "> ↩ c2 (280 ms): slept 2 ms" in md and "> ✉ you, mid-answer: be brief" in md
    data = json.loads(render(chat, "json"))
    assert data["turns"][1]["calls"][0]["result"] == "slept 2 ms"
    assert data["turns"][1]["interrupts"][0]["token_offset"] == 84
    lines = render(chat, "jsonl").splitlines()
    assert len(lines) == 2
    records = to_jsonl(chat)
    second = records[1]
    roles = [m["role"] for m in second["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    answer = second["messages"][-1]["content"]
    spans = second["meta"]["interrupt_spans"]
    assert [answer[a:b] for a, b in spans] == [
        " [INTR] c2 [HEAD] slept 2 ms [END]",
        " [INTR] user [HEAD] be brief [END]",
    ]
    assert "Queued" not in md and data["queued"] == []
    queued = dataclasses.replace(chat, queued=["then the weather"])
    assert "## Queued, not sent yet\n\n1. then the weather" in render(queued, "md")
    assert json.loads(render(queued, "json"))["queued"] == ["then the weather"]


def test_writes_are_batched_not_lost_on_close(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    rec = Recorder(db, interval=60)  # nothing is written by the timer
    rec(TurnStarted(0.0, 1, "async", "hi"))
    for _ in range(500):
        rec(Token(0.1, "ab", "ab"))
    rec.flush()
    assert SessionStore(db).load(1).turns[0].raw_text == "ab" * 500
    rec(Token(0.2, "cd", "cd"))
    rec.close()
    assert SessionStore(db).load(1).turns[0].raw_text.endswith("abcd")


def test_a_locked_database_delays_saving_without_losing_it(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    sid = record(db, 1)
    errors: list[str] = []
    got_error = threading.Event()

    def on_error(message: str) -> None:
        errors.append(message)
        got_error.set()

    rec = Recorder(db, session_id=sid, interval=0.05, on_error=on_error)
    rec.store.db.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    rec(TurnStarted(5.0, 2, "async", "while locked"))
    assert got_error.wait(10)
    assert "locked by another process" in errors[0] and str(db) in errors[0]
    # Data written before is still readable while the lock is held.
    assert SessionStore(db).load(sid).turns[0].user_text == "question 1 about parsers"
    other.execute("COMMIT")
    other.close()
    rec.close()
    assert [t.user_text for t in SessionStore(db).load(sid).turns][-1] == "while locked"
    assert len(errors) == 1


def test_a_truncated_database_reports_the_file(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    record(db, 30)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError) as info:
        store = SessionStore(db)
        store.list_sessions()
        for s in store.list_sessions():
            store.load(s.id)
    assert str(db) in str(info.value)
    assert "damaged" in str(info.value)


def test_not_a_database(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    db.write_text("hello, not sqlite\n" * 100)
    with pytest.raises(StoreError, match="damaged"):
        SessionStore(db)


def test_queued_messages_are_saved_with_their_chat(tmp_path: Path) -> None:
    """Typed before the first turn, edited, carried into a new chat: the
    database always holds the queue as it is, without a clean close."""
    db = tmp_path / "s.db"
    rec = Recorder(db, system=lambda: SYSTEM, interval=0.05)
    rec.save_queued(["after that, the weather", "and a note"])
    rec(TurnStarted(0.0, 1, "async", "first question"))
    rec.flush()
    sid = rec.session_id
    assert sid is not None
    reader = SessionStore(db)  # another connection, as after a crash
    assert reader.load(sid).queued == ["after that, the weather", "and a note"]
    rec.save_queued(["and a note"])
    rec.flush()
    assert reader.load(sid).queued == ["and a note"]
    rec.new_session()  # a new chat: the queue goes with the user
    rec(TurnStarted(1.0, 1, "async", "another chat"))
    rec.flush()
    assert reader.load(sid).queued == []
    assert rec.session_id != sid and reader.load(rec.session_id).queued == ["and a note"]
    rec.close()
    reader.delete(rec.session_id)
    assert reader.db.execute("SELECT COUNT(*) FROM queued").fetchone()[0] == 0


AS_VERSION_2 = (
    "ALTER TABLE turns DROP COLUMN started_by; ALTER TABLE calls DROP COLUMN background_t; "
    "ALTER TABLE calls DROP COLUMN deliver; ALTER TABLE calls DROP COLUMN deliver_idle; "
    "ALTER TABLE calls DROP COLUMN held_t;"
)
"""Turns a database of this schema into one of version 2 (before calls
could outlive their answer)."""


def test_a_version_1_database_gets_the_queue_table(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    sid = record(db, 1)
    con = sqlite3.connect(db)
    con.executescript(f"{AS_VERSION_2} DROP TABLE queued; PRAGMA user_version = 1;")
    con.close()
    store = SessionStore(db)
    assert store.load(sid).queued == [] and store.integrity() == "ok"
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
