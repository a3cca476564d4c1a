"""Thread-safe hand-off between the UI, the executor and the decode thread.

Tool results and user messages wait here until the decode thread reaches a
safe point (outside any CML block) and appends them to the KV cache.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Pending:
    """An interrupt waiting for the next safe point."""

    id: str
    value: str
    kind: str  # tool | user | error
    ready_at: float


class Mailbox:
    """Queues guarded by one condition variable."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._ready: deque[Pending] = deque()
        self._inbox: deque[str] = deque()
        self._completed: set[str] = set()
        self.stop = threading.Event()
        """Set to end the current turn within one token."""
        self.idle = threading.Event()
        """Set while no turn runs and no message waits to start one."""
        self.idle.set()
        self.closing = False

    # --------------------------------------------------------- producers

    def post_user(self, text: str) -> None:
        """A message typed by the user (starts a turn or interrupts one)."""
        with self._cv:
            self.idle.clear()
            self._inbox.append(text)
            self._cv.notify_all()

    def mark_idle(self) -> None:
        """After a turn: idle unless a message arrived meanwhile (checked under
        the lock, so a message posted concurrently is never stranded)."""
        with self._cv:
            if not self._inbox:
                self.idle.set()

    def reset(self) -> None:
        """Forget completions and undelivered results (a new session)."""
        with self._cv:
            self._completed.clear()
            self._ready.clear()

    def post_result(self, call_id: str, value: str | None) -> None:
        """A call finished; ``value`` None means nobody wants the result."""
        with self._cv:
            self._completed.add(call_id)
            if value is not None:
                self._ready.append(Pending(call_id, value, "tool", time.perf_counter()))
            self._cv.notify_all()

    def post_error(self, call_id: str, value: str) -> None:
        """An error interrupt about a block (malformed, duplicate id): ready at
        once, and it completes no call."""
        with self._cv:
            self._ready.append(Pending(call_id, value, "error", time.perf_counter()))
            self._cv.notify_all()

    def request_stop(self) -> None:
        """Ask the decode loop to stop; wakes any wait."""
        with self._cv:
            self.stop.set()
            self._cv.notify_all()

    def close(self) -> None:
        """Wake everything for shutdown."""
        with self._cv:
            self.closing = True
            self.stop.set()
            self._cv.notify_all()

    # --------------------------------------------------------- decode thread

    def has_ready(self) -> bool:
        """Cheap check on the hot path (a deque's length is atomic)."""
        return bool(self._ready) or bool(self._inbox)

    def completed(self, call_id: str) -> bool:
        """Whether ``call_id`` has finished (its result may not be injected yet)."""
        return call_id in self._completed

    def take_ready(self) -> list[Pending]:
        """Every queued interrupt, user messages included, in arrival order."""
        with self._cv:
            items = list(self._ready)
            self._ready.clear()
            now = time.perf_counter()
            items += [Pending("user", text, "user", now) for text in self._inbox]
            self._inbox.clear()
        return items

    def next_message(self) -> str | None:
        """Block until a user message arrives (None when closing)."""
        with self._cv:
            self._cv.wait_for(lambda: self._inbox or self.closing)
            if self.closing:
                return None
            return self._inbox.popleft()

    def wait(self, predicate: Callable[[], bool], timeout: float | None = None) -> None:
        """Block until ``predicate()`` holds, a stop is requested, or timeout."""
        with self._cv:
            self._cv.wait_for(lambda: predicate() or self.stop.is_set(), timeout)
