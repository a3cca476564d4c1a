"""Thread-safe hand-off between the posters, the executor and the decode thread.

The inbox holds, in the order posted, the user's messages, new-session
marks and result-turn marks: between turns the decode thread takes them one by
one; during a turn, the messages ahead of the first mark are injected as
``[INTR] user``.  Tool results wait in the ready queue until the decode thread
reaches a safe point (outside any CML block) and appends them to the KV cache.
Results are tagged with the session of their call, and one from another
session is dropped, so a new chat never receives the old chat's results.

A result that must not enter the answer being written (``deliver:
when_idle``), or that lands while no answer is being written, waits in the
*later* queue instead: every turn moves it to the ready queue as it starts
(so it goes in right after the prompt), and a result whose call asks for an
answer (``deliver_idle: answer``) puts a result-turn mark in the inbox, which
starts that turn when nothing else would; one still in the ready queue when
a turn ends (it landed too late for it) is held again.  Every move happens
under one lock, so a result is in exactly one queue at any time and is taken
exactly once.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from asynclm_tui.core.api.enums import Deliver, DeliverIdle, InterruptKind
from asynclm_tui.core.api.events import WaitingResult
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
    interrupted: tuple[str, ...] = ()
    """Its calls that were running when the app quit (the model is told)."""
    results: tuple[WaitingResult, ...] = ()
    """Its results the model never read (delivered as their policy says)."""
    rejoin: int | None = None
    """A serial the chat had earlier in this run (it takes its calls back)."""


@dataclass(frozen=True)
class ResultTurnMark:
    """A held result asks for a turn of its own (taken only while one waits)."""


@dataclass(frozen=True)
class Policy:
    """How one call's result is delivered."""

    deliver: Deliver = Deliver.INTERRUPT
    deliver_idle: DeliverIdle = DeliverIdle.ANSWER
    background: bool = False
    """Its answer ends without waiting for it (``background: true``, or the
    answer waited ``wait_at_end_s`` in vain)."""


@dataclass(frozen=True)
class Handover:
    """What a session leaves in the mailbox as the next one starts."""

    running: dict[str, Policy]
    """Its calls in the background that have not finished, with their policies."""
    held: tuple[tuple[Pending, Policy], ...]
    """Its results held for a later turn."""


Inbound = str | NewSessionMark | ResultTurnMark
"""What the decode thread takes between turns: a message or a mark."""


class Mailbox:
    """Queues guarded by one condition variable."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._ready: deque[Pending] = deque()
        self._inbox: deque[Inbound] = deque()
        self._completed: set[str] = set()
        self._later: deque[Pending] = deque()
        """Results held until a turn starts (see the module's docstring)."""
        self._policy: dict[str, Policy] = {}
        self._released: tuple[str, ...] = ()
        """Held results the running turn started with."""
        self._waiting = False
        """The turn is paused for results (a trap, EOS): any result goes in."""
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
        turn is asked to stop, and no result of the old one starts a turn."""
        with self._cv:
            for item in [i for i in self._inbox if isinstance(i, ResultTurnMark)]:
                self._inbox.remove(item)
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

    def requeue_results(self, items: Iterable[Pending]) -> None:
        """Results a turn took but never appended (its context filled, or it
        failed) go back to the front of the ready queue: the turn's end holds
        them for a later turn (:meth:`end_turn`)."""
        with self._cv:
            self._ready.extendleft(reversed(list(items)))
            self._cv.notify_all()

    def post_result(
        self, session: int, call_id: str, value: str | None, budget: int | None = None
    ) -> Policy | None:
        """A call of ``session`` finished; ``value`` None means nobody wants
        the result.  Dropped when the session is over.  Returns the call's
        policy when the result was held for later (not injected into the
        answer being written; :meth:`offer_turn` then gives it its turn),
        else None."""
        with self._cv:
            if session != self.session:
                return None
            self._completed.add(call_id)
            held: Policy | None = None
            if value is not None:
                item = Pending(call_id, value, InterruptKind.TOOL, time.perf_counter(), budget)
                policy = self._policy.get(call_id, Policy())
                if self._running and (policy.deliver is Deliver.INTERRUPT or self._waiting):
                    self._ready.append(item)
                else:
                    self._later.append(item)
                    held = policy
            self._cv.notify_all()
            return held

    def offer_turn(self) -> None:
        """Held results that ask for an answer get their turn, unless a turn
        runs (it asks as it ends); called once the result was announced, so
        the announcement comes before the turn it starts."""
        with self._cv:
            if not self._running:
                self._ask_for_turn()
                self._cv.notify_all()

    def keep_result(self, session: int, item: Pending) -> None:
        """A stopped turn's result the user keeps: it goes in with their next
        message (it starts no turn of its own)."""
        with self._cv:
            if session != self.session:
                return
            policy = self._policy.get(item.id, Policy())
            self._policy[item.id] = dataclasses.replace(policy, deliver_idle=DeliverIdle.SILENT)
            self._later.append(item)
            self._cv.notify_all()

    def set_policy(self, call_id: str, policy: Policy) -> None:
        """How ``call_id``'s result is delivered (set when its block closes,
        changed from the calls panel or when it goes to the background); a
        held result that now asks for an answer gets its turn."""
        with self._cv:
            self._policy[call_id] = policy
            if not self._running and any(p.id == call_id for p in self._later):
                self._ask_for_turn()
            self._cv.notify_all()

    def policy(self, call_id: str) -> Policy:
        """How ``call_id``'s result is delivered."""
        with self._cv:
            return self._policy.get(call_id, Policy())

    def _ask_for_turn(self, skip: Iterable[str] = ()) -> None:
        """A result-turn mark for held results that ask for an answer (but
        those in ``skip``), unless one already waits or a queued message will
        carry them (lock held)."""
        if self._wants_answer(set(skip)) and not self._inbox:
            self._inbox.append(ResultTurnMark())
            self.idle.clear()

    def _wants_answer(self, skip: set[str]) -> bool:
        return any(self._policy.get(p.id, Policy()).deliver_idle is DeliverIdle.ANSWER
                   for p in self._later if p.id not in skip)  # fmt: skip

    def release_later(self) -> tuple[str, ...]:
        """A turn starts: every held result joins the ready queue, to go in
        right after the prompt; returns their call ids."""
        with self._cv:
            ids = tuple(p.id for p in self._later)
            self._ready.extend(self._later)
            self._later.clear()
            self._released = ids
            return ids

    def held(self) -> tuple[str, ...]:
        """Call ids of results held for a later turn."""
        with self._cv:
            return tuple(p.id for p in self._later)

    def take_results(self, ids: set[str]) -> list[Pending]:
        """Withdraw the undelivered results of ``ids`` (a stopped turn's)."""
        with self._cv:
            taken = [p for p in self._ready if p.kind is InterruptKind.TOOL and p.id in ids]
            for item in taken:
                self._ready.remove(item)
            late = [p for p in self._later if p.id in ids]
            for item in late:
                self._later.remove(item)
        return taken + late

    def post_error(
        self, call_id: str, value: str, kind: InterruptKind = InterruptKind.ERROR
    ) -> None:
        """An interrupt about a call or block (malformed, duplicate id, gone
        to the background): ready at once, and it completes no call."""
        with self._cv:
            self._ready.append(Pending(call_id, value, kind, time.perf_counter()))
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

    def start_session(self, session: int, background: Iterable[str] = ()) -> Handover:
        """Accept only ``session``'s results from now on and forget the rest;
        returns what the old one leaves: its results held, and those of its
        ``background`` calls still running, with their policies."""
        with self._cv:
            policy = self._policy
            handover = Handover(
                {i: policy.get(i, Policy()) for i in background if i not in self._completed},
                tuple((p, policy.get(p.id, Policy())) for p in self._later),
            )
            self.session = session
            self._completed.clear()
            self._ready.clear()
            self._later.clear()
            self._policy = {}
            return handover

    def hold(self, items: Iterable[tuple[Pending, Policy]]) -> None:
        """Results of this session that wait for a turn (a chat opened again
        finds them): held as if they had just landed; :meth:`offer_turn`
        then gives those that ask for an answer their turn."""
        with self._cv:
            for item, policy in items:
                self._policy[item.id] = policy
                self._completed.add(item.id)
                self._later.append(item)
            self._cv.notify_all()

    def end_turn(self) -> tuple[str, ...]:
        """A turn ended: idle unless something arrived meanwhile (checked
        under the lock, so a message posted concurrently is never stranded).

        Results the turn never took (they landed as it ended, or it was
        stopped or failed before its prompt was read) are held again, and
        held results that ask for an answer get their turn; but not those
        the turn started with: Esc would start it again, a failure would
        repeat.  Returns the ids held again."""
        with self._cv:
            self._running = False
            self._waiting = False
            if not self.closing:
                self.stop.clear()
            left = [p for p in self._ready if p.kind is InterruptKind.TOOL]
            for item in left:
                self._ready.remove(item)
            self._later.extendleft(reversed(left))
            self._ask_for_turn(self._released)
            self._released = ()
            if not self._inbox:
                self.idle.set()
            return tuple(p.id for p in left)

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

    def next_inbound(self, timeout: float | None = None) -> Inbound | None:
        """Block until a message or mark arrives (None when closing, or when
        nothing came within ``timeout`` seconds).

        A message starts a turn at once, under the lock: a stop posted from
        here on applies to it, one posted before does not.  A result-turn
        mark is skipped when no held result asks for an answer any more
        (another turn took them, or the user made them notify or silent)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while True:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not self._cv.wait_for(lambda: self._inbox or self.closing, left):
                    return None
                if self.closing:
                    return None
                item = self._inbox.popleft()
                if isinstance(item, ResultTurnMark) and not self._wants_answer(set()):
                    if not self._inbox and not self._running:
                        self.idle.set()
                    continue
                if not isinstance(item, NewSessionMark):
                    self._running = True
                    self.stop.clear()
                return item

    def wait(
        self, predicate: Callable[[], bool], timeout: float | None = None, *, take_held: bool = True
    ) -> bool:
        """Block until ``predicate()`` holds, a stop is requested, or timeout.
        With ``take_held``, a result held or landing meanwhile goes into the
        answer, which is not being written while it waits.  False when it
        timed out."""
        with self._cv:
            self._waiting = take_held
            if take_held:
                self._ready.extend(self._later)
                self._later.clear()
            try:
                return self._cv.wait_for(lambda: predicate() or self.stop.is_set(), timeout)
            finally:
                self._waiting = False
