"""Results of calls that a turn ended without: held back until the user
decides, so a stopped answer's calls never surface in the next, unrelated one.

A turn that ends before its calls return (stopped, out of tokens, failed)
hands their ids here. Their results are kept aside (shown by the UI, not
injected); :meth:`Withheld.keep` gives them to the next answer, and a new turn
that starts without that drops them for good.
"""

from __future__ import annotations

import threading

from asynclm_tui.core.api.bus import EventBus
from asynclm_tui.core.api.enums import InterruptKind
from asynclm_tui.core.api.events import HeldResults, HeldState
from asynclm_tui.core.decode.mailbox import Mailbox, Pending, Policy
from asynclm_tui.core.decode.session import Session
from asynclm_tui.core.tools.executor import CallResult


class Withheld:
    """The engine's bookkeeping of withheld results (state lives in the session)."""

    def __init__(self, mailbox: Mailbox, bus: EventBus) -> None:
        self._mailbox = mailbox
        self._bus = bus
        self._lock = threading.Lock()
        """Orders a result's arrival against its call being withheld."""

    def post_result(self, session: Session, result: CallResult, value: str | None) -> Policy | None:
        """Hand a finished call's result on, unless its call is withheld (tool
        thread); the call's policy when the mailbox held it for a later turn."""
        with self._lock:
            if result.session == session.serial and (
                result.id in session.withheld or result.id in session.dropped
            ):
                if value is not None and result.id in session.withheld:
                    session.withheld_results[result.id] = Pending(
                        result.id, value, InterruptKind.TOOL, result.finished_at, result.budget
                    )
                value = None  # completes the call; nothing reaches the model
            return self._mailbox.post_result(result.session, result.id, value, result.budget)

    def withhold(self, session: Session) -> tuple[str, ...]:
        """A turn ended with ``session.outstanding`` still due: hold them back."""
        with self._lock:
            ids = set(session.outstanding)
            session.outstanding.clear()
            session.withheld |= ids
            for item in self._mailbox.take_results(ids):
                session.withheld_results[item.id] = item
        return tuple(sorted(ids))

    def keep(self, session: Session) -> None:
        """The user keeps them: finished ones go in with the next message,
        running ones are awaited like any pending call."""
        with self._lock:
            ids = tuple(sorted(session.withheld))
            for item in session.withheld_results.values():
                self._mailbox.keep_result(session.serial, item)
            session.outstanding |= session.withheld - session.withheld_results.keys()
            session.withheld.clear()
            session.withheld_results.clear()
        if ids:
            self._bus.emit(HeldResults(self._bus.now(), ids, HeldState.KEPT))

    def drop(self, session: Session) -> None:
        """A new turn starts without them: they never land."""
        with self._lock:
            ids = tuple(sorted(session.withheld))
            session.dropped |= session.withheld
            session.withheld.clear()
            session.withheld_results.clear()
        if ids:
            self._bus.emit(HeldResults(self._bus.now(), ids, HeldState.DROPPED))
