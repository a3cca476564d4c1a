"""Keep Python's full garbage collections out of the streaming window.

Full (generation 2) collections on the UI thread while the model streamed
were the slowest typed keys in ``asynclm bench ui`` (docs/benchmarks.md).
Young collections are cheap and keep running; full ones wait until the turn
is over and the UI is idle.
"""

from __future__ import annotations

import gc

FULL_GC_OFF = 1_000_000
"""A generation-2 threshold that is never reached within a turn."""


class QuietGC:
    """Suspends full collections between :meth:`streaming` and :meth:`idle`."""

    def __init__(self) -> None:
        self._saved: tuple[int, int, int] | None = None

    def settle(self) -> None:
        """Collect now and freeze what survives (call once, after startup):
        later full collections skip the modules, classes and model metadata
        that live as long as the process."""
        gc.collect()
        gc.freeze()

    def streaming(self) -> None:
        """The model is generating: no full collections from now on."""
        if self._saved is None:
            self._saved = gc.get_threshold()
            gen0, gen1, _ = self._saved
            gc.set_threshold(gen0, gen1, FULL_GC_OFF)

    def idle(self) -> None:
        """The turn is over: restore the thresholds and collect what piled up."""
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None
            gc.collect()
