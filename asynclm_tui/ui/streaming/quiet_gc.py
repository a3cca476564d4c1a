"""Keep Python's full garbage collections out of the moments the UI must stay smooth.

Full (generation 2) collections on the UI thread while the model streamed
were the slowest typed keys in ``asynclm bench ui``, and while a long saved
chat was drawn they took a quarter of the time and stalled keys for up to
360 ms (docs/benchmarks.md, docs/sessions.md).  Young collections are cheap
and keep running; full ones wait until nothing holds them off and the UI
is idle.
"""

from __future__ import annotations

import gc

FULL_GC_OFF = 1_000_000
"""A generation-2 threshold that is never reached while a holder holds."""


class QuietGC:
    """Suspends full collections while any holder (a streamed turn, a chat
    being drawn) holds them off."""

    def __init__(self) -> None:
        self._saved: tuple[int, int, int] | None = None
        self._holders: set[str] = set()

    def settle(self) -> None:
        """Freeze every object alive now (call once, after startup): later
        full collections skip the modules, classes and model metadata that
        live as long as the process.  No collection first: at that moment it
        finds almost nothing yet stalls the UI thread, and the first key typed
        after the model loads would wait for it (docs/benchmarks.md)."""
        gc.freeze()

    @property
    def holders(self) -> frozenset[str]:
        """Who holds full collections off now."""
        return frozenset(self._holders)

    def hold(self, holder: str) -> None:
        """``holder`` starts: no full collections until every holder released."""
        if self._saved is None:
            self._saved = gc.get_threshold()
            gen0, gen1, _ = self._saved
            gc.set_threshold(gen0, gen1, FULL_GC_OFF)
        self._holders.add(holder)

    def release(self, holder: str | None = None) -> None:
        """``holder`` is done (None: every holder).  When none is left, the
        thresholds come back and what piled up is collected."""
        if holder is None:
            self._holders.clear()
        else:
            self._holders.discard(holder)
        if not self._holders and self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None
            gc.collect()
