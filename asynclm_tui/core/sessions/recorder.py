"""Writes a chat to the sessions database while it happens.

The recorder is an engine sink: events are queued on the engine's threads
(never blocking them) and a writer thread commits them together every
:data:`FLUSH_INTERVAL_S`.  A process killed mid-answer therefore loses at most
that much of the answer, and SQLite's WAL journal keeps the file sound.

At each wake the writer also checks that the database is still the file it
opened (see :mod:`~asynclm_tui.core.sessions.rescue`): when it was deleted,
replaced or damaged, the chat moves to memory, subscribers get a
:class:`~asynclm_tui.core.sessions.rescue.SavingStopped` notice at once, and
:meth:`Recorder.save_to` saves it to another file (closing the recorder
without that saves it beside the lost database, :attr:`Recorder.rescued`).
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asynclm_tui.core.api.events import (
    Event,
    ModelLoaded,
    NewSession,
    SessionStarted,
)
from asynclm_tui.core.api.handle import EngineHandle
from asynclm_tui.core.sessions.event_rows import (
    EngineChats,
    EventRows,
    NewSessionMark,
    QueuedMark,
    RowState,
)
from asynclm_tui.core.sessions.records import REPLAYED
from asynclm_tui.core.sessions.rescue import (
    Copied,
    LossKind,
    SavingStopped,
    copy_session,
    identity,
    interrupt_unfinished,
    notice,
    what_happened,
)
from asynclm_tui.core.sessions.store import SessionStore, StoredSession, StoreError, describe
from asynclm_tui.core.tools.executor import AT_EXIT

FLUSH_INTERVAL_S = 0.5
"""Longest time an event waits in memory before it is committed."""


@dataclass
class _Flush:
    """Queue marker: commit now and say so."""

    done: threading.Event


@dataclass
class _SaveTo:
    """Queue marker: save the chat to ``path`` and record there from now on."""

    path: Path
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


class Recorder(EventRows):
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
        self._queue: queue.SimpleQueue[Event | NewSessionMark | QueuedMark | _Flush | _SaveTo] = (
            queue.SimpleQueue()
        )
        self._pending: list[Event | NewSessionMark | QueuedMark] = []
        self._state = RowState(session_id)
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._failing = False
        self._chats = EngineChats()
        self._opened = identity(db_path)
        """The file opened, to notice another one (or none) at its path."""
        self._lost: SavingStopped | None = None
        self._lost_sinks: list[Callable[[SavingStopped], None]] = []
        self._sinks_lock = threading.Lock()
        self.rescued: Path | None = None
        """Where :meth:`close` saved a chat whose database was lost (None:
        nothing needed saving, or it could not be saved)."""
        self._thread = threading.Thread(target=self._loop, name="asynclm-recorder", daemon=True)
        self._thread.start()

    @property
    def session_id(self) -> int | None:
        """The session being written (None until the first turn starts)."""
        return self._state.session_id

    def __call__(self, event: Event) -> None:
        """The engine sink: queue the event (thread-safe, never blocks).  A
        call of a chat no longer on screen is written into that chat."""
        if event.name in REPLAYED or isinstance(event, ModelLoaded | SessionStarted):
            self._queue.put(event)

    def engine_session_of(self, session_id: int) -> int | None:
        """The engine session saved chat ``session_id`` had in this run, for
        ``NewSession.rejoin`` (None: it was not open in this run)."""
        return self._chats.serial_of(session_id)

    def new_session(self, session_id: int | None = None) -> None:
        """The next turn belongs to a new session (a new chat), or continues
        the saved one ``session_id``."""
        self._queue.put(NewSessionMark(session_id))

    def save_queued(self, texts: Sequence[str]) -> None:
        """The messages the user has queued for after the answer, in order:
        saved with the next commit, so a crash does not lose them."""
        self._queue.put(QueuedMark(tuple(texts)))

    @property
    def saving_stopped(self) -> SavingStopped | None:
        """Why the chat is no longer being saved (None while it is)."""
        return self._lost

    def on_saving_stopped(self, sink: Callable[[SavingStopped], None]) -> None:
        """Call ``sink`` (from the writer thread) when the database is lost;
        at once if it already was."""
        with self._sinks_lock:
            self._lost_sinks.append(sink)
            lost = self._lost
        if lost is not None:
            sink(lost)

    def save_to(self, path: Path) -> None:
        """Save the chat to the database ``path`` (created if need be; the
        chat gets a new id there) and keep recording there (blocks until done).

        Raises:
            StoreError: ``path`` cannot be written; the chat stays where it was.
        """
        item = _SaveTo(path)
        if threading.current_thread() is self._thread:  # from a notice's sink
            self._save_to(item)
        elif self._closed.is_set():
            raise StoreError(f"{path}: the chat has ended; nothing is left to save")
        else:
            self._queue.put(item)
            self._wake.set()
        if not item.done.wait(30):
            raise StoreError(f"{path}: saving the chat took too long")
        if item.error is not None:
            raise StoreError(item.error)

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
        """Commit what is left, end the calls still pending as interrupted at
        exit, save a chat whose database was lost beside it (see
        :attr:`rescued`), and close the database."""
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
            saves: list[_SaveTo] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Flush):
                    flushes.append(item)
                elif isinstance(item, _SaveTo):
                    saves.append(item)
                else:
                    self._pending.append(item)
            self._watch_file()
            self._write_pending()
            for save in saves:
                self._save_to(save)
            for f in flushes:
                f.done.set()
            if closing:
                self._at_close()
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
            if _damage(exc) and self._lost is None:
                self._lose(LossKind.DAMAGED, str(exc))
                self._write_pending()  # into memory now
                return
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

    def _watch_file(self) -> None:
        """Notice at once when the database is no longer the file opened."""
        if self._lost is None:
            kind = what_happened(self.store.path, self._opened)
            if kind is not None:
                self._lose(kind)

    def _lose(self, kind: LossKind, why: str = "") -> None:
        """Move the chat to memory and tell the subscribers why."""
        old, memory = self.store, SessionStore.in_memory()
        if self._state.session_id is not None:
            # The open connection still reads the lost file (its inode lives
            # on while open), so the chat so far comes along.
            copied = copy_session(old.db, memory, self._state.session_id)
            self._moved(copied)
            if copied.missing:
                unread = f"its {', '.join(copied.missing)} could not be read"
                why = f"{why}; {unread}" if why else unread
        with contextlib.suppress(sqlite3.Error):
            old.close()
        self.store = memory
        lost = notice(old.path, kind, why)
        with self._sinks_lock:
            self._lost = lost
            sinks = list(self._lost_sinks)
        for sink in sinks:
            sink(lost)
        if self.on_error is not None and not sinks:
            self.on_error(lost.message)

    def _moved(self, copied: Copied) -> None:
        """The chat now has the ids ``copied`` gave it."""
        st = self._state
        st.session_id = copied.session_id
        if st.turn is not None:
            new = copied.turns.get(st.turn.id)
            if new is None:  # its row was unreadable: the rest of it is lost
                st.turn = None
            else:
                st.turn.id = new

    def _save_to(self, item: _SaveTo) -> None:
        try:
            target = SessionStore(item.path)
            try:
                if self._state.session_id is not None:
                    self._moved(copy_session(self.store.db, target, self._state.session_id))
            except BaseException:
                target.close()
                raise
        except sqlite3.Error as exc:
            item.error = describe(item.path, exc)
        except StoreError as exc:
            item.error = str(exc)
        else:
            with contextlib.suppress(sqlite3.Error):
                self.store.close()
            self.store = target
            self._opened = identity(item.path)
            with self._sinks_lock:
                self._lost = None
            self._failing = False
        item.done.set()

    def _at_close(self) -> None:
        """The chat ends: calls still pending ended with it, and a chat whose
        database was lost is saved beside it."""
        if self._state.session_id is not None:
            with contextlib.suppress(sqlite3.Error, StoreError):
                interrupt_unfinished(self.store, self._state.session_id, f"error: {AT_EXIT}")
        lost = self._lost
        if lost is not None and self._state.session_id is not None:
            item = _SaveTo(lost.suggested)
            self._save_to(item)
            if item.error is None:
                self.rescued = lost.suggested
            elif self.on_error is not None:
                self.on_error(f"the chat could not be saved: {item.error}")


def _damage(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "malformed" in text or "not a database" in text or "disk image" in text


@dataclass
class ChatSessions:
    """What the chat UI gets about saving: where, the recorder, and the chat
    it opens with (a resumed one, or None for a new chat)."""

    db_path: Path
    recorder: Recorder | None
    resumed: StoredSession | None = None
    notice: str = ""
    """A line to show when the chat opens (e.g. nothing to continue)."""


def resume_into(engine: EngineHandle, stored: StoredSession, rejoin: int | None = None) -> None:
    """Give the engine a saved chat's context (a ``NewSession`` with history):
    its call ids, the calls asynclm quit while they ran (the model is told at
    the next turn), the results it never read, and (``rejoin``) the engine
    session it had earlier in this run, whose calls it takes back."""
    engine.post(
        NewSession(
            tuple(stored.messages()),
            frozenset(stored.calls()),
            stored.interrupted_at_exit(),
            stored.waiting_results(),
            rejoin,
        )
    )
