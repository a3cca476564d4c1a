"""Fan-out of engine events to subscribers, with the engine's clock."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from asynclm_tui.core.api.events import Event

Sink = Callable[[Event], None]
"""A subscriber; called on engine threads, so it must be thread-safe."""

log = logging.getLogger(__name__)


class EventBus:
    """Delivers every event to every sink, in emission order per thread."""

    def __init__(self) -> None:
        self._sinks: list[Sink] = []
        self._t0 = time.perf_counter()

    def subscribe(self, sink: Sink) -> None:
        """Receive every event from now on."""
        self._sinks.append(sink)

    def now(self) -> float:
        """Seconds since the engine was created (the ``t`` of events)."""
        return time.perf_counter() - self._t0

    def emit(self, event: Event) -> None:
        """Hand ``event`` to each sink; a failing sink is logged and skipped,
        so one consumer's bug cannot stop the engine or starve the others."""
        for sink in self._sinks:
            try:
                sink(event)
            except Exception:
                log.exception("event sink %r failed on %s", sink, type(event).__name__)
