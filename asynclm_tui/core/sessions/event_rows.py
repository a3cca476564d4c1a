"""How engine events become rows of the sessions database.

:class:`EventRows` is the recorder's writing half (a mixin): each queued
event updates the session, turn, call and interrupt rows and appends to the
turn's replay log; tokens are gathered into one text record per batch.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from asynclm_tui.core.api.delivery import CallBackgrounded, ResultHeld
from asynclm_tui.core.api.enums import CallStatus, InterruptKind
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    Event,
    Interrupt,
    ModelLoaded,
    Prefilled,
    SessionStarted,
    Token,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.core.cml.syntax import format_interrupt
from asynclm_tui.core.sessions.records import to_record
from asynclm_tui.core.sessions.store import SessionStore
from asynclm_tui.core.tools.executor import AT_EXIT

TITLE_CHARS = 80


@dataclass
class NewSessionMark:
    """Queue marker: the next turn starts a new session (or continues one)."""

    session_id: int | None


@dataclass
class QueuedMark:
    """Queue marker: the user's queued messages are now ``texts``."""

    texts: tuple[str, ...]


class EngineChats:
    """Which saved chat each engine session writes to.  A chat opened again
    gets a new session serial (``SessionStarted.rejoins`` names the first),
    and a call of a chat no longer on screen still reports on it; the
    writer thread updates this, :meth:`serial_of` is read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root: dict[int, int] = {}
        self._db: dict[int, int] = {}
        self.current = 0
        """The engine session of the turns being written."""

    def started(self, event: SessionStarted) -> None:
        """An engine session began (one that continues a chat of this run)."""
        if event.rejoins is not None:
            with self._lock:
                self._root[event.session] = event.rejoins

    def turn(self, serial: int, db_id: int) -> None:
        """Session ``serial``'s turns are written into saved chat ``db_id``."""
        self.current = serial
        with self._lock:
            self._db[self._root.get(serial, serial)] = db_id

    def db_of(self, serial: int) -> int | None:
        """The saved chat of engine session ``serial`` (None: not known)."""
        with self._lock:
            return self._db.get(self._root.get(serial, serial))

    def serial_of(self, db_id: int) -> int | None:
        """The engine session saved chat ``db_id`` began with in this run
        (None: it was not open in this run)."""
        with self._lock:
            return next((root for root, db in self._db.items() if db == db_id), None)


@dataclass
class TurnRows:
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
class RowState:
    session_id: int | None
    model: str = ""
    turn: TurnRows | None = None
    interrupts: int = 0
    queued: tuple[str, ...] = ()
    """The user's queued messages (saved with the session once it exists)."""

    def copy(self) -> RowState:
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


class EventRows:
    """Writes queued items into ``store`` (on the recorder's writer thread)."""

    store: SessionStore
    _state: RowState
    _system: Callable[[], str]
    _source: str
    _chats: EngineChats

    def _apply(self, item: Event | NewSessionMark | QueuedMark) -> None:
        st = self._state
        db = self.store.db
        if isinstance(item, NewSessionMark):
            self._save_turn()
            if st.session_id is not None:  # the queue goes with the user to the next chat
                self.store.save_queued(st.session_id, ())
            st.session_id = item.session_id
            st.turn = None
            self._write_queued()
            return
        if isinstance(item, QueuedMark):
            st.queued = item.texts
            self._write_queued()
            return
        if isinstance(item, ModelLoaded):
            st.model = item.model
            return
        if isinstance(item, SessionStarted):
            self._chats.started(item)
            return
        if isinstance(item, CallUpdated | CallFinished | CallBackgrounded | ResultHeld) and (
            item.session != self._chats.current
        ):  # a call of a chat not on screen (or not yet written to) reports on it
            away = self._chats.db_of(item.session)
            if away is not None:
                self._call_row(item, away)
            return
        if isinstance(item, TurnStarted):
            self._start_turn(item)
            assert st.session_id is not None
            self._chats.turn(item.session, st.session_id)
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
            case CallUpdated() | CallFinished() | CallBackgrounded() | ResultHeld():
                if not self._call_row(item, st.session_id):
                    return
            case Interrupt():
                if item.kind == InterruptKind.BACKGROUND:  # its answer ends without it
                    db.execute(
                        "UPDATE calls SET background_t = COALESCE(background_t, ?) "
                        "WHERE session_id = ? AND call_id = ?",
                        (item.t, st.session_id, item.id),
                    )
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

    def _call_row(
        self, item: CallUpdated | CallFinished | CallBackgrounded | ResultHeld, session_id: int
    ) -> bool:
        """Update call ``item.id``'s row of saved chat ``session_id``; False
        when the event changes nothing (a result held of a call asynclm quit)."""
        db = self.store.db
        match item:
            case CallUpdated():
                started = item.t if item.status is CallStatus.RUNNING else None
                db.execute(
                    "UPDATE calls SET status = ?, started_t = COALESCE(started_t, ?) "
                    "WHERE session_id = ? AND call_id = ?",
                    (item.status.value, started, session_id, item.id),
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
                        session_id,
                        item.id,
                    ),
                )
            case CallBackgrounded():
                db.execute(
                    "UPDATE calls SET deliver = ?, deliver_idle = ? "
                    "WHERE session_id = ? AND call_id = ?",
                    (item.deliver.value, item.deliver_idle.value, session_id, item.id),
                )
            case ResultHeld():
                row = db.execute(
                    "SELECT status, result FROM calls WHERE session_id = ? AND call_id = ?",
                    (session_id, item.id),
                ).fetchone()
                if row is not None and row[0] == CallStatus.CANCELLED and AT_EXIT in (row[1] or ""):
                    return False  # asynclm quit while it ran: no result waits for anything
                db.execute(
                    "UPDATE calls SET held_t = ? WHERE session_id = ? AND call_id = ?",
                    (item.t, session_id, item.id),
                )
        return True

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
            "INSERT INTO turns (session_id, number, mode, user_text, started, started_by) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (st.session_id, number, item.mode, item.text, time.time(), json.dumps(item.started_by)),
        )
        assert cur.lastrowid is not None
        st.turn = TurnRows(cur.lastrowid)

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
