"""Thread-safe hand-off between the posters, the executor and the decode thread.

The inbox holds, in the order posted, the user's messages and new-session
marks: between turns the decode thread takes them one by one; during a turn,
the messages ahead of the first mark are injected as ``[INTR] user``.  Tool
results wait in the ready queue until the decode thread reaches a safe point
(outside any CML block) and appends them to the KV cache.  Results are tagged
with the session of their call, and one from another session is dropped, so a
new chat never receives the old chat's results.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from asynclm_tui.core.api.enums import InterruptKind
from asynclm_tui.core.cml.syntax import USER_ID


@dataclass(frozen=True)
class Pending:
    """An interrupt waiting for the next safe point."""

    id: str
    value: str
    kind: InterruptKind
    ready_at: float
    budget: int | None = None
    """Most tokens of ``value`` to inject (None: all of it)."""


@dataclass(frozen=True)
class NewSessionMark:
    """Where a new session begins in the inbox (with a saved chat's history
    and call ids when it continues one)."""

    history: tuple[Mapping[str, str], ...] = ()
    call_ids: frozenset[str] = frozenset()


Inbound = str | NewSessionMark
"""What the decode thread takes between turns: a message or a session mark."""


class Mailbox:
    """Queues guarded by one condition variable."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._ready: deque[Pending] = deque()
        self._inbox: deque[Inbound] = deque()
        self._completed: set[str] = set()
        self._running = False
        self.session = 0
        """The session whose results are accepted."""
        self.stop = threading.Event()
        """Set to end the current turn within one token."""
        self.idle = threading.Event()
        """Set while no turn runs and nothing waits in the inbox."""
        self.idle.set()
        self.closing = False

    # --------------------------------------------------------- producers

    def post_user(self, text: str) -> None:
        """A message typed by the user (starts a turn or interrupts one)."""
        self._post(text)

    def post_new_session(self, mark: NewSessionMark) -> None:
        """Everything posted after this belongs to a new session; a running
        turn is asked to stop."""
        self._post(mark)
        self.stop_turn()

    def _post(self, item: Inbound) -> None:
        with self._cv:
            self.idle.clear()
            self._inbox.append(item)
            self._cv.notify_all()

    def requeue_user(self, texts: Iterable[str]) -> None:
        """Messages that were taken but never reached the model go back to
        the front of the inbox, in their order."""
        with self._cv:
            for text in reversed(list(texts)):
                self._inbox.appendleft(text)
                self.idle.clear()
            self._cv.notify_all()

    def post_result(
        self, session: int, call_id: str, value: str | None, budget: int | None = None
    ) -> None:
        """A call of ``session`` finished; ``value`` None means nobody wants
        the result.  Dropped when the session is over."""
        with self._cv:
            if session != self.session:
                return
            self._completed.add(call_id)
            if value is not None:
                now = time.perf_counter()
                self._ready.append(Pending(call_id, value, InterruptKind.TOOL, now, budget))
            self._cv.notify_all()

    def take_results(self, ids: set[str]) -> list[Pending]:
        """Withdraw the undelivered results of ``ids`` (a stopped turn's)."""
        with self._cv:
            taken = [p for p in self._ready if p.kind is InterruptKind.TOOL and p.id in ids]
            for item in taken:
                self._ready.remove(item)
        return taken

    def post_error(self, call_id: str, value: str) -> None:
        """An error interrupt about a block (malformed, duplicate id): ready at
        once, and it completes no call."""
        with self._cv:
            self._ready.append(Pending(call_id, value, InterruptKind.ERROR, time.perf_counter()))
            self._cv.notify_all()

    def stop_turn(self) -> bool:
        """Ask a running turn to stop (wakes any wait); False when none runs."""
        with self._cv:
            if not self._running:
                return False
            self.stop.set()
            self._cv.notify_all()
            return True

    def close(self) -> None:
        """Wake everything for shutdown."""
        with self._cv:
            self.closing = True
            self.stop.set()
            self._cv.notify_all()

    # --------------------------------------------------------- decode thread

    def start_session(self, session: int) -> None:
        """Accept only ``session``'s results from now on; forget the rest."""
        with self._cv:
            self.session = session
            self._completed.clear()
            self._ready.clear()

    def end_turn(self) -> None:
        """A turn ended: idle unless something arrived meanwhile (checked
        under the lock, so a message posted concurrently is never stranded)."""
        with self._cv:
            self._running = False
            if not self.closing:
                self.stop.clear()
            if not self._inbox:
                self.idle.set()

    def mark_idle(self) -> None:
        """Idle unless something waits in the inbox."""
        with self._cv:
            if not self._inbox and not self._running:
                self.idle.set()

    @property
    def running(self) -> bool:
        """Whether a turn is being decoded."""
        return self._running

    def queued(self) -> int:
        """Messages and session marks waiting in the inbox."""
        return len(self._inbox)

    def has_ready(self) -> bool:
        """Cheap check on the hot path (a deque's length is atomic)."""
        if self._ready:
            return True
        inbox = self._inbox
        return bool(inbox) and isinstance(inbox[0], str)

    def completed(self, call_id: str) -> bool:
        """Whether ``call_id`` has finished (its result may not be injected yet)."""
        return call_id in self._completed

    def take_ready(self) -> list[Pending]:
        """Every queued result, then the user's messages up to the first new
        session mark, in arrival order."""
        with self._cv:
            items = list(self._ready)
            self._ready.clear()
            now = time.perf_counter()
            while self._inbox and isinstance(self._inbox[0], str):
                text = self._inbox.popleft()
                assert isinstance(text, str)
                items.append(Pending(USER_ID, text, InterruptKind.USER, now))
        return items

    def next_inbound(self) -> Inbound | None:
        """Block until a message or session mark arrives (None when closing).

        A message starts a turn at once, under the lock: a stop posted from
        here on applies to it, one posted before does not."""
        with self._cv:
            self._cv.wait_for(lambda: self._inbox or self.closing)
            if self.closing:
                return None
            item = self._inbox.popleft()
            if isinstance(item, str):
                self._running = True
                self.stop.clear()
            return item

    def wait(self, predicate: Callable[[], bool], timeout: float | None = None) -> None:
        """Block until ``predicate()`` holds, a stop is requested, or timeout."""
        with self._cv:
            self._cv.wait_for(lambda: predicate() or self.stop.is_set(), timeout)
