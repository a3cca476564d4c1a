"""One scheduler per mode: when a call starts and when decoding waits for it.

The decode loop asks its scheduler three things: what to do with a call whose
block just closed (:meth:`Scheduler.issue`), whether to pause after a token
outside any block (:meth:`Scheduler.after_step`), and whether to wait rather
than end at EOS (:meth:`Scheduler.at_eos`).  A pause is a :class:`Wait`: the
reason shown to the user and the condition that ends it.  Each scheduler owns
its state; the session's ``outstanding`` set (results not injected yet) is
shared across turns so calls left running by a stopped turn are still awaited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from asynclm_tui.core.api.enums import CallStatus, InterruptKind, Mode, PauseReason
from asynclm_tui.core.decode.mailbox import Mailbox, Pending
from asynclm_tui.core.tools.executor import CallRequest


class CallRunner(Protocol):
    """What a scheduler needs from the executor."""

    def submit(self, request: CallRequest) -> None:
        """Start ``request`` (thread-safe, never blocks)."""


@dataclass(frozen=True)
class Wait:
    """A pause: why, and the condition that ends it (a stop ends it too)."""

    reason: PauseReason
    ready: Callable[[], bool]


class Scheduler(Protocol):
    """What the decode loop asks of a mode."""

    mode: Mode

    def issue(self, request: CallRequest) -> CallStatus | None:
        """Take a call whose block closed; returns a status to announce when
        the call is held rather than started."""

    def settled(self, item: Pending) -> None:
        """An interrupt was appended to the context."""

    def after_step(self, trapped: bool) -> Wait | None:
        """After a token outside any block (``trapped``: it closed a trap):
        the pause to take, or None to go on."""

    def at_eos(self) -> Wait | None:
        """At EOS: the pause to take for results still due, or None to end."""

    def finish(self) -> list[CallRequest]:
        """The turn ended: calls held and never started (they are reported
        as cancelled)."""


class AsyncScheduler:
    """AsyncLM: every call starts when its block closes; decoding goes on and
    only pauses at a trap or at EOS while results are still due."""

    mode = Mode.ASYNC

    def __init__(self, runner: CallRunner, mailbox: Mailbox, outstanding: set[str]) -> None:
        self.runner = runner
        self.mailbox = mailbox
        self.outstanding = outstanding

    def issue(self, request: CallRequest) -> CallStatus | None:
        """Take a call; returns a status to announce when it is held."""
        if request.wants_result:
            self.outstanding.add(request.id)
        self.runner.submit(request)
        return None

    def settled(self, item: Pending) -> None:
        """An interrupt was appended; a tool result settles its call (an
        error about a duplicate id settles nothing)."""
        if item.kind is InterruptKind.TOOL:
            self.outstanding.discard(item.id)

    def after_step(self, trapped: bool) -> Wait | None:
        """After a token outside any block: pause, or go on."""
        return self._until_ready(PauseReason.TRAP) if trapped else None

    def at_eos(self) -> Wait | None:
        """At EOS: wait for results still due, or end the turn (None)."""
        return self._until_ready(PauseReason.EOS) if self.outstanding else None

    def finish(self) -> list[CallRequest]:
        """The turn ended; calls it held and never started (to be reported)."""
        return []

    def _until_ready(self, reason: PauseReason) -> Wait | None:
        mailbox = self.mailbox
        if not self.outstanding and not mailbox.has_ready():
            return None  # nothing to wait for: resume at once
        return Wait(reason, mailbox.has_ready)


class SyncScheduler(AsyncScheduler):
    """Each call blocks decoding until it finished (its result is injected at
    once): tools as a plain chat API runs them."""

    mode = Mode.SYNC

    def __init__(self, runner: CallRunner, mailbox: Mailbox, outstanding: set[str]) -> None:
        super().__init__(runner, mailbox, outstanding)
        self._blocking: str | None = None

    def issue(self, request: CallRequest) -> CallStatus | None:
        self._blocking = request.id
        return super().issue(request)

    def after_step(self, trapped: bool) -> Wait | None:
        if trapped or self._blocking is None:
            return super().after_step(trapped)
        blocking, self._blocking = self._blocking, None
        return Wait(PauseReason.SYNC, lambda: self.mailbox.completed(blocking))


class ParallelScheduler(AsyncScheduler):
    """Calls are collected and run together when the model traps or ends;
    decoding waits for all of them (the paper's parallel baseline)."""

    mode = Mode.PARALLEL

    def __init__(self, runner: CallRunner, mailbox: Mailbox, outstanding: set[str]) -> None:
        super().__init__(runner, mailbox, outstanding)
        self._collected: list[CallRequest] = []

    def issue(self, request: CallRequest) -> CallStatus | None:
        if request.wants_result:
            self.outstanding.add(request.id)
        self._collected.append(request)
        return CallStatus.COLLECTED

    def after_step(self, trapped: bool) -> Wait | None:
        return self._release(PauseReason.TRAP) if trapped else None

    def at_eos(self) -> Wait | None:
        return self._release(PauseReason.EOS) if self._collected else super().at_eos()

    def finish(self) -> list[CallRequest]:
        dropped, self._collected = self._collected, []
        for request in dropped:
            self.outstanding.discard(request.id)
        return dropped

    def _release(self, reason: PauseReason) -> Wait | None:
        if not self._collected:
            return self._until_ready(reason)
        released, self._collected = self._collected, []
        for request in released:
            self.runner.submit(request)
        ids = [r.id for r in released]
        return Wait(reason, lambda: all(self.mailbox.completed(i) for i in ids))


SCHEDULERS: dict[Mode, Callable[[CallRunner, Mailbox, set[str]], Scheduler]] = {
    Mode.ASYNC: AsyncScheduler,
    Mode.SYNC: SyncScheduler,
    Mode.PARALLEL: ParallelScheduler,
}


def scheduler_for(
    mode: Mode, runner: CallRunner, mailbox: Mailbox, outstanding: set[str]
) -> Scheduler:
    """A fresh scheduler for one turn in ``mode``."""
    return SCHEDULERS[mode](runner, mailbox, outstanding)
