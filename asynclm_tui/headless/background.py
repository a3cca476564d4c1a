"""When ``asynclm run`` is done: no turn runs or waits to run, and no call
that outlived its answer still owes the model a turn.

A call left running in the background when an answer ends finishes later;
its result starts a turn of its own (``deliver_idle: answer``), or is held
for the user's next message (``notify``, ``silent``), which a run never
sends.  The run therefore ends once the engine is idle and every call still
in the background is one of those held results.

The engine says it is idle through :meth:`EngineHandle.wait_idle`, not
through an event (it goes idle just after a turn's ``done``), so
:class:`IdleWatch` waits for it on a thread of its own and wakes the run's
event loop, which then checks what is left.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from asynclm_tui.core.api.delivery import ResultHeld
from asynclm_tui.core.api.enums import DeliverIdle
from asynclm_tui.core.api.events import Event
from asynclm_tui.core.api.handle import EngineHandle

CLOSED_CHECK_S = 1.0
"""How often a watch blocked on an engine that will never be idle again (it
was closed) checks whether the run ended."""


class IdleWatch:
    """Calls ``wake`` once the engine is idle, after each :meth:`kick`.

    Kicks that come while it waits are one: the wake after them follows the
    latest.  Wakes may come when the engine is busy again; whoever is woken
    checks the engine's state itself."""

    def __init__(self, engine: EngineHandle, wake: Callable[[], None]) -> None:
        """Start the watch's thread (a daemon: it never holds the process)."""
        self._engine = engine
        self._wake = wake
        self._kicked = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="asynclm-run-idle", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """Something happened after which the engine may soon be idle (a
        turn's end, a result held)."""
        self._kicked.set()

    def close(self) -> None:
        """Stop watching (the thread ends within :data:`CLOSED_CHECK_S`)."""
        self._closed.set()
        self._kicked.set()

    def _loop(self) -> None:
        while True:
            self._kicked.wait()
            self._kicked.clear()
            while not self._closed.is_set():
                if self._engine.wait_idle(CLOSED_CHECK_S):
                    break
            if self._closed.is_set():
                return
            self._wake()


class Outliving:
    """What the run knows of the calls that outlived their answer."""

    def __init__(self) -> None:
        self._quiet: set[str] = set()
        """Calls whose results are held for a message no run sends."""

    def see(self, event: Event) -> bool:
        """Take ``event`` into account; True when the engine may now go idle
        with nothing left for it to do (a run should check)."""
        if isinstance(event, ResultHeld):
            if event.deliver_idle is not DeliverIdle.ANSWER:
                self._quiet.add(event.id)
            return True
        return False

    def waiting(self, engine: EngineHandle) -> tuple[str, ...]:
        """The calls the run still waits for: running in the background, or
        held for the turn their result starts."""
        return tuple(i for i in engine.snapshot().background if i not in self._quiet)
