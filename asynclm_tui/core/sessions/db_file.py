"""The sessions database as a file: opening it read-only, checking it is
sound, and one-line messages for what can go wrong with it."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

BUSY_TIMEOUT_S = 5.0
"""How long a statement waits for another process's write lock."""
CHECK_BUDGET_S = 0.25
"""Longest ``PRAGMA quick_check`` at open; a database too large to check in
this time is used unchecked (damage then shows when a page is read)."""


class StoreError(Exception):
    """The database cannot be used; ``str()`` is a one-line message naming it."""


def check_sound(db: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA quick_check``, given at most :data:`CHECK_BUDGET_S`: a file
    damaged in the middle opens and even takes new chats, while reading its
    damaged part fails later, so it is refused at once.

    Raises:
        StoreError: the file is damaged.
        sqlite3.DatabaseError: it is not a database at all.
    """
    deadline = time.monotonic() + CHECK_BUDGET_S
    db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        rows = db.execute("PRAGMA quick_check").fetchall()
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            return  # too large to check in time: used as it is
        raise
    finally:
        db.set_progress_handler(None, 0)
    verdict = "; ".join(" ".join(str(r[0]).split()) for r in rows)
    if verdict != "ok":
        raise StoreError(damaged(path, verdict[:200]))


def describe(path: Path, exc: sqlite3.Error) -> str:
    """A one-line message for an SQLite failure, naming the file."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return (
            f"{path}: the sessions database is locked by another process "
            f"(waited {BUSY_TIMEOUT_S:.0f} s); close it and try again"
        )
    if "not a database" in text or "malformed" in text or "disk image" in text:
        return damaged(path, text)
    if "readonly" in text or "read-only" in text:
        return (
            f"{path}: the sessions database is read-only here ({text}); chats can be "
            "listed, shown and exported, not saved or changed"
        )
    return f"{path}: sessions database error: {text}"


def damaged(path: Path, why: str) -> str:
    """The message for a damaged database, with what to do about it."""
    return (
        f"{path}: the sessions database is damaged ({why}); "
        "move it aside to start a new one (`sqlite3 FILE .recover` may save its data)"
    )


def writable(path: Path) -> bool:
    """Whether this process may write the database and its folder (SQLite
    creates its journal files next to it)."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection.  ``mode=ro`` still needs the WAL index file,
    which a read-only folder may not hold; ``immutable=1`` then reads the main
    file alone (what a cleanly closed database holds in full)."""
    uri = path.resolve().as_uri()
    error: sqlite3.Error | None = None
    for query in ("?mode=ro", "?mode=ro&immutable=1"):
        try:
            db = sqlite3.connect(
                uri + query, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False
            )
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError as exc:
            error = exc
    assert error is not None
    raise error
