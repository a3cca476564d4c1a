"""When to render streamed text: at a frame rate a person reads as live, and
never in the way of a typed key.

No Textual here: the chat screen asks :meth:`RenderPacer.delay` when tokens
are waiting, calls :meth:`rendered` at each render and :meth:`key` after each
key, and owns the timer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

FRAME_SPARE_CORE_S = 0.05
"""Seconds between renders when a core is left over for the UI (or the model
runs on a GPU): 20 frames/s, so text moves word by word."""
FRAME_NO_SPARE_CORE_S = 0.18
"""The same when llama.cpp's threads take every core: about 5 frames/s.  Each
render's CPU time is then taken from decoding (llama.cpp's OpenMP threads wait
at every barrier for the one the UI displaced), so renders are made cheap
rather than rare; the gap between two frames stays under a quarter second."""
KEY_WAIT_S = 1.4
"""While the user types, a due render waits up to this many frame intervals
for the next key and goes right after it, so a typed character never waits
behind a render."""
KEY_GAP_S = 0.3
"""Keys closer together than this count as typing."""


class RenderPacer:
    """A fixed frame interval per machine shape, with typed keys first."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.interval = FRAME_NO_SPARE_CORE_S
        """Seconds between renders while text streams."""
        self._last_render = 0.0
        self._last_key = 0.0

    def set_decode_threads(self, threads: int, cpus: int | None = None) -> None:
        """llama.cpp decodes on ``threads`` CPU threads (0 on a GPU)."""
        spare = (cpus if cpus is not None else os.cpu_count() or 1) - threads
        self.interval = FRAME_SPARE_CORE_S if spare >= 1 else FRAME_NO_SPARE_CORE_S

    @property
    def constrained(self) -> bool:
        """Every core decodes: each render's CPU time is taken from decoding."""
        return self.interval > FRAME_SPARE_CORE_S

    def delay(self) -> float:
        """Seconds until the next render is due."""
        now = self._clock()
        since = now - self._last_render
        wait = self.interval - since
        if now - self._last_key < KEY_GAP_S:
            wait = KEY_WAIT_S * self.interval - since  # the next key brings it forward
        return max(0.0, wait)

    def key(self) -> bool:
        """A key was typed; True if a render is due and should follow it now."""
        now = self._last_key = self._clock()
        return now - self._last_render >= self.interval

    def rendered(self) -> None:
        """A render starts."""
        self._last_render = self._clock()
