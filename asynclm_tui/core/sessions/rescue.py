"""Chats that end badly: a database lost under them, calls left running.

SQLite keeps writing happily to a database file that was deleted (the open
file lives on, unnamed) or replaced (the old one does), so the recorder checks
the file it opened is still the one at its path, and still a database.  When
it is not, the chat moves to memory (:func:`copy_session` into an in-memory
store), a :class:`SavingStopped` notice says so, and the chat can be saved to
any other file later.  :func:`interrupt_unfinished` ends the calls a chat
still had pending when it ended, so a continued chat shows them as ended.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.api.events import CallFinished
from asynclm_tui.core.sessions.records import record_data, to_record
from asynclm_tui.core.sessions.store import SessionStore

SQLITE_MAGIC = b"SQLite format 3\x00"


class LossKind(StrEnum):
    """What happened to the database a chat was being saved to."""

    DELETED = "deleted"
    REPLACED = "replaced"
    """Another file (or folder) now has its name."""
    DAMAGED = "damaged"


@dataclass(frozen=True)
class SavingStopped:
    """The chat is no longer saved to its database; it is kept in memory
    until :meth:`Recorder.save_to` saves it to another file."""

    path: Path
    """The database it was being saved to."""
    kind: LossKind
    message: str
    """One line for the user: what happened and what to do."""
    suggested: Path
    """Where to save the chat, unless the user picks another file."""


def identity(path: Path) -> tuple[int, int] | None:
    """``(device, inode)`` of ``path``, or None when nothing is there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def what_happened(path: Path, opened: tuple[int, int] | None) -> LossKind | None:
    """Whether the file at ``path`` is still the database opened as ``opened``."""
    now = identity(path)
    if now is None:
        return LossKind.DELETED
    if opened is not None and now != opened:
        return LossKind.REPLACED
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError:
        return None  # unreadable for a moment; writing will tell
    if head and head != SQLITE_MAGIC:
        return LossKind.DAMAGED  # overwritten in place
    return None


def suggested_path(path: Path) -> Path:
    """A new file beside ``path`` (or in the current folder when its folder is
    gone) to save a rescued chat to."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = path.parent if path.parent.is_dir() else Path.cwd()
    return folder / f"{path.stem}-rescued-{stamp}{path.suffix or '.db'}"


def notice(path: Path, kind: LossKind, why: str = "") -> SavingStopped:
    """The notice for ``kind``, with its one-line message."""
    suggested = suggested_path(path)
    what = {
        LossKind.DELETED: "was deleted",
        LossKind.REPLACED: "was replaced by another file",
        LossKind.DAMAGED: f"is damaged ({why})" if why else "is damaged",
    }[kind]
    return SavingStopped(
        path,
        kind,
        f"{path} {what} while this chat was open: the chat is kept in memory and no "
        f"longer saved; save it to another file (for example {suggested})",
        suggested,
    )


@dataclass(frozen=True)
class Copied:
    """What :func:`copy_session` wrote."""

    session_id: int
    turns: dict[int, int]
    """Old turn id to new turn id."""
    missing: tuple[str, ...] = ()
    """Tables whose rows could not be read (a damaged file)."""


_CALL_COLUMNS = (
    "fn, args, wants_result, estimate_ms, status, issued_t, started_t, finished_t, ms, ok, "
    "result, background_t, deliver, deliver_idle, held_t"
)
"""The columns of a call :func:`copy_session` copies as they are."""


def copy_session(src: sqlite3.Connection, dst: SessionStore, session_id: int) -> Copied:
    """Copy session ``session_id`` (turns, calls, interrupts, the replay log
    and the queue) from ``src`` into ``dst`` under new ids, in one transaction.
    Rows a damaged file cannot give are left out and named in ``missing``."""
    missing: list[str] = []

    def rows(sql: str, params: tuple[object, ...], table: str) -> list[tuple[object, ...]]:
        try:
            return src.execute(sql, params).fetchall()
        except sqlite3.DatabaseError:
            missing.append(table)
            return []

    db = dst.db
    with dst.transaction():
        head = rows(
            "SELECT title, created, updated, model, system, source FROM sessions WHERE id = ?",
            (session_id,),
            "sessions",
        )
        now = time.time()
        title, created, updated, model, system, source = (
            head[0]
            if head
            else (
                "rescued chat",
                now,
                now,
                "",
                "",
                "chat",
            )
        )
        cur = db.execute(
            "INSERT INTO sessions (title, created, updated, model, system, source) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (title, created, updated, model, system, source),
        )
        assert cur.lastrowid is not None
        new_id = cur.lastrowid
        turns: dict[int, int] = {}
        for old, *fields in rows(
            "SELECT id, number, mode, user_text, raw_text, visible_text, started, ended, "
            "reason, n_prompt, n_generated, n_injected, tok_s, started_by FROM turns "
            "WHERE session_id = ? ORDER BY number",
            (session_id,),
            "turns",
        ):
            cur = db.execute(
                "INSERT INTO turns (session_id, number, mode, user_text, raw_text, "
                "visible_text, started, ended, reason, n_prompt, n_generated, n_injected, "
                "tok_s, started_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (new_id, *fields),
            )
            assert cur.lastrowid is not None and isinstance(old, int)
            turns[old] = cur.lastrowid
        for call_id, turn_id, *fields in rows(
            f"SELECT call_id, turn_id, {_CALL_COLUMNS} FROM calls WHERE session_id = ?",
            (session_id,),
            "calls",
        ):
            if turn_id in turns:
                db.execute(
                    f"INSERT INTO calls (session_id, call_id, turn_id, {_CALL_COLUMNS}) "
                    f"VALUES ({','.join('?' * (3 + _CALL_COLUMNS.count(',') + 1))})",
                    (new_id, call_id, turns[turn_id], *fields),  # type: ignore[index]
                )
        for old, new in turns.items():
            for table, columns in (
                ("interrupts", "seq, call_id, kind, value, n_tokens, token_offset, t"),
                ("events", "seq, kind, data"),
            ):
                marks = ",".join("?" * (columns.count(",") + 2))
                db.executemany(
                    f"INSERT INTO {table} (turn_id, {columns}) VALUES ({marks})",
                    [
                        (new, *r)
                        for r in rows(
                            f"SELECT {columns} FROM {table} WHERE turn_id = ?", (old,), table
                        )
                    ],
                )
        queued = rows(
            "SELECT text FROM queued WHERE session_id = ? ORDER BY position",
            (session_id,),
            "queued",
        )
        dst.save_queued(new_id, [str(q[0]) for q in queued])
    return Copied(new_id, turns, tuple(dict.fromkeys(missing)))


def interrupt_unfinished(store: SessionStore, session_id: int, value: str) -> list[str]:
    """End the session's calls that have no end yet as cancelled with
    ``value``, in the calls table and in the replay log (after the last
    event of the turn that issued each); returns their ids."""
    finished = [s.value for s in CallStatus if s.finished]
    marks = ",".join("?" * len(finished))
    db = store.db
    ended: list[str] = []
    with store.transaction():
        pending = db.execute(
            f"SELECT call_id, turn_id, started_t FROM calls "
            f"WHERE session_id = ? AND status NOT IN ({marks})",
            (session_id, *finished),
        ).fetchall()
        for call_id, turn_id, started in pending:
            seq, last, session = -1, 0.0, 0
            for s, kind, data in db.execute(
                "SELECT seq, kind, data FROM events WHERE turn_id = ? ORDER BY seq", (turn_id,)
            ):
                record = record_data(data)
                seq, last = s, float(record.get("t", last))
                if kind == "call" and record.get("id") == call_id:
                    session = int(record.get("session", 0))
            # One that had started ran at least until the last thing saved.
            ms = 0.0 if started is None else max(0.0, last - float(started)) * 1000
            # The session of the call's own events: the chat matches on it.
            event = CallFinished(last, call_id, False, ms, CallStatus.CANCELLED, value, session)
            db.execute(
                "UPDATE calls SET status = ?, ok = 0, result = ?, ms = COALESCE(ms, ?), "
                "finished_t = COALESCE(finished_t, ?) WHERE session_id = ? AND call_id = ?",
                (CallStatus.CANCELLED.value, value, ms, last, session_id, call_id),
            )
            db.execute(
                "INSERT INTO events (turn_id, seq, kind, data) VALUES (?, ?, ?, ?)",
                (turn_id, seq + 1, *to_record(event)),
            )
            ended.append(call_id)
    return ended
