"""Results an answer waits for, and the calls it leaves in the background.

The model waits for results at a trap and at its answer's end.  Either wait
lasts at most ``tools.wait_at_end_s`` of waiting over the whole answer (none
at all for calls of ``background: true`` tools, or, at the end, for those
that deliver ``when_idle``; with no limit, as ``asynclm run`` has, every call
is awaited).  What is still running then goes on in the background: the
model reads so in an ``[INTR]`` of its own, writes on, and the call's result
is delivered later (see core.decode.mailbox).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from asynclm_tui.core.api.bus import EventBus
from asynclm_tui.core.api.delivery import CallBackgrounded
from asynclm_tui.core.api.enums import Deliver, InterruptKind
from asynclm_tui.core.decode.mailbox import Mailbox
from asynclm_tui.core.decode.schedulers import Wait
from asynclm_tui.core.decode.session import Session

BACKGROUND_NOTE = "still running in the background; not done yet"
"""What the model reads about a call its answer goes on without: short and
result-like, since the bundled model copies instructions written here into its
answer (docs/background.md)."""

Pause = Callable[[Wait, float | None], None]
"""Blocks decoding until the wait's condition holds, a stop, or the timeout."""


class DueCalls:
    """One answer's waits for results still due (decode thread only)."""

    def __init__(
        self, mailbox: Mailbox, bus: EventBus, session: Session, limit_s: float | None
    ) -> None:
        self.mailbox = mailbox
        self.bus = bus
        self.session = session
        self.limit_s = limit_s
        self.waited_s = 0.0
        """Seconds this answer waited at traps and at its end."""

    def wait(self, wait: Wait, pause: Pause, *, at_trap: bool) -> None:
        """Wait for the results due, within the answer's limit, then leave
        the calls still running in the background."""
        mailbox, limit = self.mailbox, self.limit_s
        timeout = None if limit is None else max(0.0, limit - self.waited_s)
        due = self.session.outstanding
        if limit is not None and due and all(self._leaves_early(i, at_trap) for i in due):
            timeout = 0.0
        if timeout != 0.0:
            if not at_trap:  # a when_idle result is held, never ready: done once all returned
                ready = wait.ready
                wait = Wait(wait.reason, lambda: ready() or all(map(mailbox.completed, due)))
            start = time.perf_counter()
            pause(wait, timeout)
            self.waited_s += time.perf_counter() - start
        if not mailbox.stop.is_set() and not mailbox.has_ready():
            self.to_background(sorted(due))

    def _leaves_early(self, call_id: str, at_trap: bool) -> bool:
        # A trap asks for results: when_idle ones are awaited there too.
        policy = self.mailbox.policy(call_id)
        return policy.background or (not at_trap and policy.deliver is Deliver.WHEN_IDLE)

    def to_background(self, ids: list[str]) -> None:
        """The answer goes on without these calls: they run on, and the
        model reads so, in an ``[INTR]`` of their own."""
        session, mailbox = self.session, self.mailbox
        held = mailbox.held()
        for call_id in ids:
            if mailbox.completed(call_id) and call_id not in held:
                continue  # its result is in the ready queue after all
            session.outstanding.discard(call_id)
            session.background.add(call_id)
            if call_id in held:
                continue  # finished, waiting until the answer is done
            policy = dataclasses.replace(mailbox.policy(call_id), background=True)
            mailbox.set_policy(call_id, policy)
            self.bus.emit(
                CallBackgrounded(
                    self.bus.now(), call_id, policy.deliver, policy.deliver_idle, session.serial
                )
            )
            mailbox.post_error(call_id, BACKGROUND_NOTE, InterruptKind.BACKGROUND)
