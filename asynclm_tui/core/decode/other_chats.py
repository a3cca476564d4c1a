"""Calls that outlive their chat: results wait for the chat that issued them.

A new chat (or another saved one) does not cancel the calls the old chat left
in the background: they run on, and a result that lands meanwhile waits for
its chat, announced as held (``ResultHeld`` with that chat's session), so the
recorder writes it into that chat's record.  When the chat is opened again in
the same run (``NewSession(rejoin=...)``) it takes its calls back: those still
running deliver to it as usual, those finished meanwhile wait for its next
turn as their delivery says.  Opened in a later run, its record gives the
engine the waiting results instead (``NewSession(results=...)``).

A chat opened again gets a new session serial; the serial it began with in
this run (its *root*) names it across all of them.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field

from asynclm_tui.core.api.bus import EventBus
from asynclm_tui.core.api.delivery import CallBackgrounded, ResultHeld
from asynclm_tui.core.api.enums import CallStatus, DeliverIdle, InterruptKind
from asynclm_tui.core.api.events import CallFinished, WaitingResult
from asynclm_tui.core.decode.mailbox import Handover, Mailbox, Pending, Policy
from asynclm_tui.core.decode.session import Session
from asynclm_tui.core.tools.executor import CallResult


@dataclass
class LeftChat:
    """What a chat left behind when another one started."""

    serial: int
    """The session it was left as."""
    running: dict[str, Policy] = field(default_factory=dict)
    finished: dict[str, tuple[Pending, Policy, CallFinished | None]] = field(default_factory=dict)
    """Results waiting for it, with the call's end when it came while the
    chat was away (None: it was already held when the chat was left)."""


@dataclass(frozen=True)
class Rejoined:
    """What a chat takes back when it is opened again."""

    running: dict[str, Policy]
    finished: tuple[tuple[Pending, Policy, CallFinished | None], ...]


class OtherChats:
    """Every chat's calls that run on, or whose results wait, while another
    chat is on screen.  ``lock`` orders a result's arrival against a change
    of chat: the engine holds it in both."""

    def __init__(self, serial: int) -> None:
        self.lock = threading.Lock()
        self._root: dict[int, int] = {}
        """Session serial -> the serial its chat began with in this run."""
        self._latest: dict[int, int] = {serial: serial}
        """Root -> the chat's newest serial (the one its events carry)."""
        self._left: dict[int, LeftChat] = {}
        """Root -> what the chat left, while it is away."""
        self._origin: dict[tuple[int, str], int] = {}
        """(root, call id) -> the session that issued it, for each call that
        went on past a change of chat and still runs: its events carry its
        chat's newest serial, and the executor knows it by its origin."""

    def root(self, serial: int) -> int:
        """The serial a chat began with in this run (its name across serials)."""
        return self._root.get(serial, serial)

    def leave(self, serial: int, handover: Handover) -> None:
        """Session ``serial`` ends with these calls running and results held
        (lock held)."""
        if not handover.running and not handover.held:
            return
        root = self.root(serial)
        for call_id in handover.running:
            self._origin.setdefault((root, call_id), serial)
        chat = LeftChat(serial, dict(handover.running))
        chat.finished = {p.id: (p, policy, None) for p, policy in handover.held}
        self._left[root] = chat

    def begin(self, serial: int, rejoin: int | None) -> Rejoined | None:
        """Session ``serial`` starts, a new chat or (``rejoin``: any serial
        it had) an earlier one opened again, which takes back what it left
        (lock held)."""
        if rejoin is None:
            self._latest[serial] = serial
            return None
        root = self.root(rejoin)
        self._root[serial] = root
        self._latest[root] = serial
        chat = self._left.pop(root, None)
        if chat is None:
            return Rejoined({}, ())
        return Rejoined(chat.running, tuple(chat.finished.values()))

    def current(self, session: int, call_id: str) -> int:
        """The serial that events of call ``call_id`` issued in ``session``
        carry now: its chat's newest one once it went on past a change of chat."""
        root = self.root(session)
        if (root, call_id) in self._origin:
            return self._latest.get(root, session)
        return session

    def origin(self, session: int, call_id: str) -> int:
        """The session that issued call ``call_id`` of session ``session``'s chat."""
        return self._origin.get((self.root(session), call_id), session)

    def keep(self, result: CallResult, ended: CallFinished) -> Policy | None:
        """A result whose chat is away waits for it: its policy (None: the
        result is not a left chat's; ``result.session`` is already
        :meth:`current`) (lock held)."""
        root = self.root(result.session)
        self._origin.pop((root, result.id), None)
        chat = self._left.get(root)
        if chat is None or chat.serial != result.session:
            return None
        policy = chat.running.pop(result.id, None)
        if policy is None:  # cancelled with its chat (it was not in the background)
            return None
        if result.status is CallStatus.CANCELLED:  # the user's doing: no turn of its own
            policy = dataclasses.replace(policy, deliver_idle=DeliverIdle.SILENT)
        if result.wants_result:
            value = Pending(
                result.id, result.value, InterruptKind.TOOL, result.finished_at, result.budget
            )
            chat.finished[result.id] = (value, policy, ended)
        return policy

    def running_keys(self) -> frozenset[tuple[int, str]]:
        """(session, id) of the calls that went on past a change of chat and
        still run: a new chat cancels its old one's calls but these."""
        with self.lock:
            return frozenset((origin, call_id) for (_, call_id), origin in self._origin.items())

    def away_keys(self) -> frozenset[tuple[int, str]]:
        """(session, id) of the calls running for chats that are away (the
        chat on screen cancelling all its calls leaves these alone)."""
        with self.lock:
            return frozenset(
                (origin, call_id)
                for (root, call_id), origin in self._origin.items()
                if root in self._left
            )

    def away(self) -> dict[int, tuple[str, ...]]:
        """Calls running for chats that are away, by each chat's root."""
        with self.lock:
            return {root: tuple(sorted(c.running)) for root, c in self._left.items() if c.running}


def take_back(
    session: Session,
    mailbox: Mailbox,
    bus: EventBus,
    back: Rejoined | None,
    saved: tuple[WaitingResult, ...],
) -> None:
    """A chat opened again (``session``, just started) takes back what it
    left in this run (``back``) and the results its record says the model
    never read (``saved``, those ``back`` does not hold already): running
    calls are in the background again, results wait for a turn, each
    announced.  The caller then offers that turn."""
    serial, now = session.serial, bus.now
    waiting: list[tuple[Pending, Policy]] = []
    if back is not None:
        for call_id, policy in back.running.items():
            session.background.add(call_id)
            mailbox.set_policy(call_id, policy)
            bus.emit(CallBackgrounded(now(), call_id, policy.deliver, policy.deliver_idle, serial))
        for item, policy, ended in back.finished:
            if ended is not None:  # the chat's view never saw it end (when it did: ``ended.t``)
                bus.emit(dataclasses.replace(ended, session=serial))
            waiting.append((item, policy))
    known = {item.id for item, _ in waiting} | (back.running.keys() if back else set())
    for r in saved:
        if r.call_id not in known:
            item = Pending(r.call_id, r.value, InterruptKind.TOOL, time.perf_counter())
            waiting.append((item, Policy(deliver_idle=r.deliver_idle, background=True)))
    session.background |= {item.id for item, _ in waiting}
    mailbox.hold(waiting)
    for item, policy in waiting:
        bus.emit(ResultHeld(now(), item.id, policy.deliver_idle, serial))
