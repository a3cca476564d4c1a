"""Chats kept in SQLite: one file, WAL journal, a versioned schema.

Every reader and writer opens its own :class:`SessionStore` (one connection,
used by one thread).  The recorder writes while a turn runs; the CLI and the
sessions screen read.  WAL lets them do so at the same time, and a process
killed mid-write leaves the last committed transaction intact.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from asynclm_tui.core.sessions.db_file import BUSY_TIMEOUT_S as BUSY_TIMEOUT_S
from asynclm_tui.core.sessions.db_file import StoreError as StoreError
from asynclm_tui.core.sessions.db_file import (
    check_sound,
    connect_read_only,
    writable,
)
from asynclm_tui.core.sessions.db_file import describe as describe
from asynclm_tui.core.sessions.records import record_data
from asynclm_tui.core.sessions.stored import SessionInfo as SessionInfo
from asynclm_tui.core.sessions.stored import StoredCall as StoredCall
from asynclm_tui.core.sessions.stored import StoredInterrupt as StoredInterrupt
from asynclm_tui.core.sessions.stored import StoredSession as StoredSession
from asynclm_tui.core.sessions.stored import StoredTurn as StoredTurn
from asynclm_tui.core.settings import paths

DB_NAME = "sessions.db"

MIGRATIONS: tuple[str, ...] = (
    # 1: sessions, turns, calls, interrupts and the replay log of events.
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        updated REAL NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        system TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT 'chat'
    );
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        mode TEXT NOT NULL,
        user_text TEXT NOT NULL,
        raw_text TEXT NOT NULL DEFAULT '',
        visible_text TEXT NOT NULL DEFAULT '',
        started REAL NOT NULL,
        ended REAL,
        reason TEXT,
        n_prompt INTEGER NOT NULL DEFAULT 0,
        n_generated INTEGER NOT NULL DEFAULT 0,
        n_injected INTEGER NOT NULL DEFAULT 0,
        tok_s REAL,
        UNIQUE (session_id, number)
    );
    CREATE TABLE calls (
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        call_id TEXT NOT NULL,
        turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
        fn TEXT NOT NULL,
        args TEXT NOT NULL,
        wants_result INTEGER NOT NULL,
        estimate_ms REAL NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        issued_t REAL NOT NULL,
        started_t REAL,
        finished_t REAL,
        ms REAL,
        ok INTEGER,
        result TEXT,
        PRIMARY KEY (session_id, call_id)
    );
    CREATE TABLE interrupts (
        turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        call_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        n_tokens INTEGER NOT NULL,
        token_offset INTEGER NOT NULL,
        t REAL NOT NULL,
        PRIMARY KEY (turn_id, seq)
    );
    CREATE TABLE events (
        turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (turn_id, seq)
    );
    CREATE INDEX turns_by_session ON turns(session_id, number);
    CREATE INDEX sessions_by_updated ON sessions(updated);
    """,
    # 2: messages queued for after the answer (Tab), so a crash keeps them.
    """
    CREATE TABLE queued (
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (session_id, position)
    );
    """,
    # 3: calls that outlive their answer: the turns their results start, and
    # each call's time in the background, its delivery and its held result.
    """
    ALTER TABLE turns ADD COLUMN started_by TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE calls ADD COLUMN background_t REAL;
    ALTER TABLE calls ADD COLUMN deliver TEXT;
    ALTER TABLE calls ADD COLUMN deliver_idle TEXT;
    ALTER TABLE calls ADD COLUMN held_t REAL;
    """,
)
BACKGROUND_SCHEMA = 3
"""The first schema with the columns of calls that outlive their answer."""
SCHEMA_VERSION = len(MIGRATIONS)


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/asynclm/sessions.db`` (or the platform equivalent)."""
    return paths.user_data_dir() / DB_NAME


class SessionStore:
    """One connection to the sessions database (use it from one thread)."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        """Open (or, with ``create``, create) the database at ``path``.

        Without ``create`` a database this process may not write (a
        read-only file or folder) is opened read-only: it can be listed,
        shown and exported, and changing it fails with a clear message.
        A damaged file is refused with advice on saving what it holds.

        Raises:
            StoreError: missing (without ``create``), damaged or unusable.
        """
        self.path = path
        self.read_only = False
        """True when opened read-only (writes raise :class:`StoreError`)."""
        if not create and not path.exists():
            raise StoreError(f"{path}: no sessions database here")
        try:
            existed = path.exists() and path.stat().st_size > 0
            if not create and not writable(path):
                self.db = connect_read_only(path)
                self.read_only = True
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
            if existed:
                check_sound(self.db, path)
            if not self.read_only:
                self.db.execute("PRAGMA foreign_keys = ON")
                self.db.execute("PRAGMA journal_mode = WAL")
                # NORMAL in WAL mode: a power cut may lose the last commits, but a
                # killed process loses nothing committed and never corrupts the file.
                self.db.execute("PRAGMA synchronous = NORMAL")
                self._migrate()
            self.version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StoreError(describe(path, exc)) from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot open the sessions database: {exc}") from None
        if self.version > SCHEMA_VERSION:
            raise StoreError(newer(path, self.version))

    @classmethod
    def in_memory(cls) -> SessionStore:
        """A store in memory (a chat whose database went away lives here
        until it is saved to a file)."""
        store = cls.__new__(cls)
        store.path = Path(":memory:")
        store.read_only = False
        store.db = sqlite3.connect(":memory:", check_same_thread=False)
        store.db.execute("PRAGMA foreign_keys = ON")
        store._migrate()
        store.version = SCHEMA_VERSION
        return store

    # ------------------------------------------------------------ schema

    def _migrate(self) -> None:
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(newer(self.path, version))
        for number in range(version, SCHEMA_VERSION):
            with self.transaction():
                self.db.executescript(
                    "BEGIN;" + MIGRATIONS[number] + f"; PRAGMA user_version = {number + 1};"
                )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Commit on success, roll back on error."""
        try:
            yield self.db
        except BaseException:
            if self.db.in_transaction:
                self.db.rollback()
            raise
        else:
            if self.db.in_transaction:
                self.db.commit()

    def close(self) -> None:
        """Close the connection (committed data stays)."""
        self.db.close()

    # ------------------------------------------------------------ writes

    def create_session(
        self, title: str, *, model: str = "", system: str = "", source: str = "chat"
    ) -> int:
        """A new, empty session; returns its id."""
        now = time.time()
        cur = self.db.execute(
            "INSERT INTO sessions (title, created, updated, model, system, source) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (title, now, now, model, system, source),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def rename(self, session_id: int, title: str) -> None:
        """Change a session's title.

        Raises:
            StoreError: no such session.
        """
        cur = self._write("UPDATE sessions SET title = ? WHERE id = ?", [title.strip(), session_id])
        if cur.rowcount == 0:
            raise StoreError(f"no session {session_id}")

    def delete(self, session_id: int) -> None:
        """Delete a session and everything in it.

        Raises:
            StoreError: no such session.
        """
        cur = self._write("DELETE FROM sessions WHERE id = ?", [session_id])
        if cur.rowcount == 0:
            raise StoreError(f"no session {session_id}")

    # ------------------------------------------------------------ reads

    def list_sessions(self, search: str = "", limit: int | None = None) -> list[SessionInfo]:
        """Sessions, most recently updated first; ``search`` matches titles and
        the text of every message, case-insensitively."""
        sql = (
            "SELECT s.id, s.title, s.created, s.updated, s.model, s.source, "
            "(SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id) FROM sessions s"
        )
        params: list[Any] = []
        if search:
            like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql += (
                " WHERE s.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM turns t"
                " WHERE t.session_id = s.id AND (t.user_text LIKE ? ESCAPE '\\'"
                " OR t.visible_text LIKE ? ESCAPE '\\'))"
            )
            params += [like, like, like]
        sql += " ORDER BY s.updated DESC, s.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._read(sql, params)
        return [SessionInfo(r[0], r[1], r[2], r[3], r[6], r[4], r[5]) for r in rows]

    def latest(self) -> int | None:
        """The most recently updated session's id."""
        found = self.list_sessions(limit=1)
        return found[0].id if found else None

    def load(self, session_id: int, *, events: bool = True) -> StoredSession:
        """A whole session.

        Raises:
            StoreError: no such session, or the file is damaged.
        """
        row = self._read(
            "SELECT id, title, created, updated, model, source, system FROM sessions WHERE id = ?",
            [session_id],
        )
        if not row:
            raise StoreError(f"no session {session_id} (see `asynclm sessions list`)")
        r = row[0]
        # An old file opened read-only is not migrated: its turns and calls
        # lack the background columns, read as their defaults.
        new = self.version >= BACKGROUND_SCHEMA
        started_by = "started_by" if new else "'[]'"
        background = "background_t, deliver, deliver_idle, held_t" if new else "NULL, " * 3 + "NULL"
        turns: dict[int, StoredTurn] = {}
        for t in self._read(
            "SELECT id, number, mode, user_text, raw_text, visible_text, started, ended, "
            "reason, n_prompt, n_generated, n_injected, tok_s, "
            f"{started_by} FROM turns "
            "WHERE session_id = ? ORDER BY number",
            [session_id],
        ):
            turn = turns[t[0]] = StoredTurn(*t[1:-1])
            turn.started_by = _ids(t[-1])
        for c in self._read(
            "SELECT turn_id, call_id, fn, args, wants_result, status, issued_t, started_t, "
            "finished_t, ms, ok, result, estimate_ms, "
            f"{background} FROM calls WHERE session_id = ? ORDER BY issued_t",
            [session_id],
        ):
            if c[0] in turns:
                ok = None if c[10] is None else bool(c[10])
                turns[c[0]].calls.append(
                    StoredCall(
                        c[1],
                        c[2],
                        json.loads(c[3]),
                        bool(c[4]),
                        c[5],
                        c[6],
                        c[7],
                        c[8],
                        c[9],
                        ok,
                        c[11],
                        c[12],
                        *c[13:],
                    )
                )
        ids = ",".join(str(i) for i in turns) or "NULL"
        for i in self._read(
            "SELECT turn_id, call_id, kind, value, n_tokens, token_offset, t FROM interrupts "
            f"WHERE turn_id IN ({ids}) ORDER BY turn_id, seq",
            [],
        ):
            turns[i[0]].interrupts.append(StoredInterrupt(*i[1:]))
        if events:
            for e in self._read(
                f"SELECT turn_id, kind, data FROM events WHERE turn_id IN ({ids}) "
                "ORDER BY turn_id, seq",
                [],
            ):
                turns[e[0]].events.append((e[1], record_data(e[2])))
        info = SessionInfo(r[0], r[1], r[2], r[3], len(turns), r[4], r[5])
        queued = (
            [
                q[0]
                for q in self._read(
                    "SELECT text FROM queued WHERE session_id = ? ORDER BY position", [session_id]
                )
            ]
            if self.version >= 2
            else []
        )  # an old file opened read-only: not migrated
        return StoredSession(info, r[6], list(turns.values()), queued)

    def save_queued(self, session_id: int, texts: Sequence[str]) -> None:
        """Replace session ``session_id``'s queued messages (inside a transaction)."""
        self.db.execute("DELETE FROM queued WHERE session_id = ?", (session_id,))
        self.db.executemany(
            "INSERT INTO queued (session_id, position, text) VALUES (?, ?, ?)",
            [(session_id, i, text) for i, text in enumerate(texts)],
        )

    def integrity(self) -> str:
        """``PRAGMA integrity_check``'s verdict (``ok`` when sound)."""
        return "; ".join(str(r[0]) for r in self._read("PRAGMA integrity_check", []))

    def _write(self, sql: str, params: list[Any]) -> sqlite3.Cursor:
        """One statement in its own transaction; failures as :class:`StoreError`."""
        try:
            with self.transaction():
                return self.db.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            raise StoreError(describe(self.path, exc)) from None

    def _read(self, sql: str, params: list[Any]) -> list[Any]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(describe(self.path, exc)) from None


def _ids(text: str) -> tuple[str, ...]:
    """A stored JSON list of call ids (damaged text reads as none)."""
    try:
        data = json.loads(text)
    except ValueError:
        return ()
    return tuple(str(i) for i in data) if isinstance(data, list) else ()


def newer(path: Path, version: int) -> str:
    """The message for a file written by a later schema."""
    return (
        f"{path}: written by a newer asynclm (schema {version}, "
        f"this one knows {SCHEMA_VERSION}); upgrade asynclm-tui"
    )
