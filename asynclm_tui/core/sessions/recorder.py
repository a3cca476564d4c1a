"""Writes a chat to the sessions database while it happens.

The recorder is an engine sink: events are queued on the engine's threads
(never blocking them) and a writer thread commits them together every
:data:`FLUSH_INTERVAL_S`.  A process killed mid-answer therefore loses at most
that much of the answer, and SQLite's WAL journal keeps the file sound.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    Event,
    Interrupt,
    ModelLoaded,
    NewSession,
    Prefilled,
    Token,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.core.api.handle import EngineHandle
from asynclm_tui.core.cml.syntax import format_interrupt
from asynclm_tui.core.sessions.records import REPLAYED, to_record
from asynclm_tui.core.sessions.store import SessionStore, StoredSession, StoreError, describe

FLUSH_INTERVAL_S = 0.5
"""Longest time an event waits in memory before it is committed."""
TITLE_CHARS = 80


@dataclass
class _NewSession:
    """Queue marker: the next turn starts a new session (or continues one)."""

    session_id: int | None


@dataclass
class _Queued:
    """Queue marker: the user's queued messages are now ``texts``."""

    texts: tuple[str, ...]


@dataclass
class _Flush:
    """Queue marker: commit now and say so."""

    done: threading.Event


@dataclass
class _Turn:
    """The turn being written."""

    id: int
    seq: int = 0
    n_prompt: int = 0
    n_generated: int = 0
    n_injected: int = 0
    raw: list[str] = field(default_factory=list)
    visible: list[str] = field(default_factory=list)
    text_raw: list[str] = field(default_factory=list)
    """Tokens since the last stored record (stored as one text record)."""
    text_visible: list[str] = field(default_factory=list)
    text_t: float = 0.0
    text_n: int = 0
    dirty: bool = False


@dataclass
class _State:
    session_id: int | None
    model: str = ""
    turn: _Turn | None = None
    interrupts: int = 0
    queued: tuple[str, ...] = ()
    """The user's queued messages (saved with the session once it exists)."""

    def copy(self) -> _State:
        """A copy to roll back to when a transaction fails."""
        turn = self.turn
        if turn is not None:
            turn = dataclasses.replace(
                turn,
                raw=list(turn.raw),
                visible=list(turn.visible),
                text_raw=list(turn.text_raw),
                text_visible=list(turn.text_visible),
            )
        return dataclasses.replace(self, turn=turn)


class Recorder:
    """Subscribe an instance to the engine (``engine.subscribe(recorder)``)."""

    def __init__(
        self,
        db_path: Path,
        *,
        session_id: int | None = None,
        system: Callable[[], str] = str,
        source: str = "chat",
        on_error: Callable[[str], None] | None = None,
        interval: float = FLUSH_INTERVAL_S,
    ) -> None:
        """Open the database now, so a broken one fails before the chat starts.

        Raises:
            StoreError: the database cannot be opened.
        """
        self.store = SessionStore(db_path)
        self._system = system
        self._source = source
        self.on_error = on_error
        self._interval = interval
        self._queue: queue.SimpleQueue[Event | _NewSession | _Queued | _Flush] = queue.SimpleQueue()
        self._pending: list[Event | _NewSession | _Queued] = []
        self._state = _State(session_id)
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._failing = False
        self._engine_session = 0
        """The engine session of the turns being written."""
        self._thread = threading.Thread(target=self._loop, name="asynclm-recorder", daemon=True)
        self._thread.start()

    @property
    def session_id(self) -> int | None:
        """The session being written (None until the first turn starts)."""
        return self._state.session_id

    def __call__(self, event: Event) -> None:
        """The engine sink: queue the event (thread-safe, never blocks).  A
        call event of an earlier engine session (a call cancelled by a new
        chat) is not this chat's and is left out."""
        if isinstance(event, TurnStarted):
            self._engine_session = event.session
        elif (
            isinstance(event, CallUpdated | CallFinished) and event.session != self._engine_session
        ):
            return
        if event.name in REPLAYED or isinstance(event, ModelLoaded):
            self._queue.put(event)

    def new_session(self, session_id: int | None = None) -> None:
        """The next turn belongs to a new session (a new chat), or continues
        the saved one ``session_id``."""
        self._queue.put(_NewSession(session_id))

    def save_queued(self, texts: Sequence[str]) -> None:
        """The messages the user has queued for after the answer, in order:
        saved with the next commit, so a crash does not lose them."""
        self._queue.put(_Queued(tuple(texts)))

    def flush(self) -> None:
        """Commit everything queued so far (blocks the caller briefly)."""
        if threading.current_thread() is self._thread:
            self._write_pending()
            return
        done = threading.Event()
        self._queue.put(_Flush(done))
        self._wake.set()
        done.wait(10)

    def close(self) -> None:
        """Commit what is left and close the database."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=15)
        self.store.close()

    # ------------------------------------------------------------ writer thread

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            closing = self._closed.is_set()
            flushes: list[_Flush] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Flush):
                    flushes.append(item)
                else:
                    self._pending.append(item)
            self._write_pending()
            for f in flushes:
                f.done.set()
            if closing:
                return

    def _write_pending(self) -> None:
        if not self._pending:
            return
        saved = self._state.copy()
        try:
            with self.store.transaction():
                for item in self._pending:
                    self._apply(item)
                self._checkpoint()
        except sqlite3.Error as exc:
            # Kept in memory and retried at the next interval: nothing is lost
            # while the file is locked for a while.
            self._state = saved
            if not self._failing and self.on_error is not None:
                self.on_error(f"chat not saved yet: {describe(self.store.path, exc)}")
            self._failing = True
            return
        except StoreError as exc:
            self._state = saved
            if not self._failing and self.on_error is not None:
                self.on_error(str(exc))
            self._failing = True
            return
        self._failing = False
        self._pending.clear()

    def _apply(self, item: Event | _NewSession | _Queued) -> None:
        st = self._state
        db = self.store.db
        if isinstance(item, _NewSession):
            self._save_turn()
            if st.session_id is not None:  # the queue goes with the user to the next chat
                self.store.save_queued(st.session_id, ())
            st.session_id = item.session_id
            st.turn = None
            self._write_queued()
            return
        if isinstance(item, _Queued):
            st.queued = item.texts
            self._write_queued()
            return
        if isinstance(item, ModelLoaded):
            st.model = item.model
            return
        if isinstance(item, TurnStarted):
            self._start_turn(item)
        turn = st.turn
        if turn is None or st.session_id is None:
            return
        match item:
            case Token():
                if not turn.text_raw:
                    turn.text_t = item.t
                turn.text_raw.append(item.text)
                turn.text_visible.append(item.visible)
                turn.raw.append(item.text)
                turn.visible.append(item.visible)
                if item.text:
                    turn.text_n += 1
                    turn.n_generated += 1
                turn.dirty = True
                return
            case Prefilled():
                turn.n_prompt = item.n_prompt
                db.execute("UPDATE turns SET n_prompt = ? WHERE id = ?", (item.n_prompt, turn.id))
            case CallIssued():
                db.execute(
                    "INSERT OR REPLACE INTO calls (session_id, call_id, turn_id, fn, args, "
                    "wants_result, estimate_ms, status, issued_t) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        st.session_id,
                        item.id,
                        turn.id,
                        item.fn,
                        json.dumps(
                            {"args": list(item.args), "kwargs": item.kwargs},
                            ensure_ascii=False,
                            default=str,
                        ),
                        int(item.wants_result),
                        item.estimate_ms,
                        CallStatus.QUEUED.value,
                        item.t,
                    ),
                )
            case CallUpdated():
                started = item.t if item.status is CallStatus.RUNNING else None
                db.execute(
                    "UPDATE calls SET status = ?, started_t = COALESCE(started_t, ?) "
                    "WHERE session_id = ? AND call_id = ?",
                    (item.status.value, started, st.session_id, item.id),
                )
            case CallFinished():
                db.execute(
                    "UPDATE calls SET status = ?, finished_t = ?, ms = ?, ok = ?, result = ? "
                    "WHERE session_id = ? AND call_id = ?",
                    (
                        item.status.value,
                        item.t,
                        item.ms,
                        int(item.ok),
                        item.value,
                        st.session_id,
                        item.id,
                    ),
                )
            case Interrupt():
                turn.raw.append(format_interrupt(item.id, item.value))
                turn.dirty = True
                offset = turn.n_prompt + turn.n_generated + turn.n_injected
                st.interrupts += 1
                db.execute(
                    "INSERT INTO interrupts (turn_id, seq, call_id, kind, value, n_tokens, "
                    "token_offset, t) VALUES (?,?,?,?,?,?,?,?)",
                    (
                        turn.id,
                        turn.seq,
                        item.id,
                        item.kind,
                        item.value,
                        item.n_tokens,
                        offset,
                        item.t,
                    ),
                )
                turn.n_injected += item.n_tokens
            case TurnDone():
                turn.raw = [item.text]
                turn.dirty = True
                db.execute(
                    "UPDATE turns SET ended = ?, reason = ?, n_prompt = ?, n_generated = ?, "
                    "n_injected = ?, tok_s = ? WHERE id = ?",
                    (
                        time.time(),
                        item.reason,
                        item.n_prompt,
                        item.n_generated,
                        item.n_injected,
                        item.tok_s,
                        turn.id,
                    ),
                )
        self._close_text()
        self._event_row(*to_record(item))

    def _write_queued(self) -> None:
        """Store the queue with the session (kept in memory until one exists)."""
        st = self._state
        if st.session_id is not None:
            self.store.save_queued(st.session_id, st.queued)

    def _start_turn(self, item: TurnStarted) -> None:
        st = self._state
        db = self.store.db
        self._save_turn()
        if st.session_id is None:
            title = " ".join(item.text.split())
            title = title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"
            st.session_id = self.store.create_session(
                title, model=st.model, system=self._system(), source=self._source
            )
            self._write_queued()
        (number,) = db.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM turns WHERE session_id = ?",
            (st.session_id,),
        ).fetchone()
        cur = db.execute(
            "INSERT INTO turns (session_id, number, mode, user_text, started) "
            "VALUES (?, ?, ?, ?, ?)",
            (st.session_id, number, item.mode, item.text, time.time()),
        )
        assert cur.lastrowid is not None
        st.turn = _Turn(cur.lastrowid)

    def _event_row(self, kind: str, data: str) -> None:
        turn = self._state.turn
        assert turn is not None
        self.store.db.execute(
            "INSERT INTO events (turn_id, seq, kind, data) VALUES (?, ?, ?, ?)",
            (turn.id, turn.seq, kind, data),
        )
        turn.seq += 1

    def _close_text(self) -> None:
        """Store the tokens gathered since the last record as one text record."""
        turn = self._state.turn
        if turn is None or not turn.text_raw:
            return
        token = Token(turn.text_t, "".join(turn.text_raw), "".join(turn.text_visible))
        kind, data = to_record(token)
        self._event_row(kind, data[:-1] + f', "n": {turn.text_n}}}')
        turn.text_raw.clear()
        turn.text_visible.clear()
        turn.text_n = 0

    def _checkpoint(self) -> None:
        """End of a batch: the partial answer and the session's time."""
        st = self._state
        if st.turn is None or st.session_id is None:
            return
        self._save_turn()
        self.store.db.execute(
            "UPDATE sessions SET updated = ? WHERE id = ?", (time.time(), st.session_id)
        )

    def _save_turn(self) -> None:
        """Write the current turn's text so far (raw context and visible)."""
        turn = self._state.turn
        if turn is None:
            return
        self._close_text()
        if turn.dirty:
            self.store.db.execute(
                "UPDATE turns SET raw_text = ?, visible_text = ?, n_generated = "
                "MAX(n_generated, ?) WHERE id = ?",
                ("".join(turn.raw), "".join(turn.visible), turn.n_generated, turn.id),
            )
            turn.dirty = False


@dataclass
class ChatSessions:
    """What the chat UI gets about saving: where, the recorder, and the chat
    it opens with (a resumed one, or None for a new chat)."""

    db_path: Path
    recorder: Recorder | None
    resumed: StoredSession | None = None
    notice: str = ""
    """A line to show when the chat opens (e.g. nothing to continue)."""


def resume_into(engine: EngineHandle, stored: StoredSession) -> None:
    """Give the engine a saved chat's context (a ``NewSession`` with history)."""
    ids = frozenset(c.call_id for t in stored.turns for c in t.calls)
    engine.post(NewSession(tuple(stored.messages()), ids))
