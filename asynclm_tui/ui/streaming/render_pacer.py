"""When to render streamed text: often enough to read as live, rarely enough
that the UI does not slow decoding, and never in the way of a typed key.

No Textual here: the chat screen asks :meth:`RenderPacer.delay` when tokens
are waiting, calls :meth:`rendered` at each render and :meth:`key` after each
key, and owns the timer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

FLUSH_MIN_S = 0.1
"""Streamed text is rendered at most this often (10 Hz reads as smooth)..."""
FLUSH_MAX_S = 1.0
"""...and at least this often, however slow rendering gets.  On 2 cores at
60 tok/s a render (Markdown, layout, compositor, terminal output) costs 8-25 ms
of CPU, so keeping the UI near UI_SHARE_NO_SPARE_CORE takes about one render a
second (1.5 s here left the UI's share in `bench ui` at 2.2 %, unchanged)."""
UI_SHARE_NO_SPARE_CORE = 0.015
"""Share of one core the UI may use while streaming when llama.cpp's threads
take every core.  Measured on 2 cores: any thread using 12 % of a core slows
decoding by 15-20 %, because llama.cpp's OpenMP threads wait at every barrier
for the one that was displaced (a UI share of 2.5-3.5 % cost 5-7 %)."""
UI_SHARE_SPARE_CORE = 0.5
"""The same when a core is left over for the UI (or the model runs on a GPU)."""
KEY_GAP_S = 0.3
"""While keys arrive this often, streamed text is rendered just after a key
has been drawn rather than on the timer: a render then has the gap until the
next key to finish, so a typed character never waits behind one (renders are
still at least FLUSH_MAX_S apart)."""


class RenderPacer:
    """Adapts the render interval to the UI thread's measured CPU time."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self._clock = clock
        self._cpu_clock = cpu_clock
        self.interval = FLUSH_MIN_S
        """Seconds between renders, between FLUSH_MIN_S and FLUSH_MAX_S."""
        self.share = UI_SHARE_NO_SPARE_CORE
        """The share of one core the UI aims to stay under."""
        self._last_render = 0.0
        self._last_cpu = 0.0
        self._last_key = 0.0

    def set_decode_threads(self, threads: int, cpus: int | None = None) -> None:
        """llama.cpp decodes on ``threads`` CPU threads (0 on a GPU)."""
        spare = (cpus if cpus is not None else os.cpu_count() or 1) - threads
        self.share = UI_SHARE_SPARE_CORE if spare >= 1 else UI_SHARE_NO_SPARE_CORE

    @property
    def constrained(self) -> bool:
        """Every core decodes: each render's CPU time is taken from decoding."""
        return self.share < UI_SHARE_SPARE_CORE

    def delay(self) -> float:
        """Seconds until the next render is due."""
        now = self._clock()
        since = now - self._last_render
        wait = self.interval - since
        if now - self._last_key < KEY_GAP_S:
            wait = max(wait, FLUSH_MAX_S - since)  # the next key brings it forward
        return max(0.0, wait)

    def key(self) -> bool:
        """A key was typed; True if a render is due and should follow it now."""
        now = self._last_key = self._clock()
        return now - self._last_render >= self.interval

    def rendered(self) -> None:
        """A render starts: stretch or shorten the interval so the UI thread's
        CPU time since the last render stays near :attr:`share`."""
        now, cpu = self._clock(), self._cpu_clock()
        wall, used = now - self._last_render, cpu - self._last_cpu
        self._last_render, self._last_cpu = now, cpu
        if wall <= 0 or wall > 2 * FLUSH_MAX_S:
            return  # the stream was idle: nothing to learn from this gap
        # Square root: move halfway (in log terms) towards the target each
        # time, so one slow frame does not swing the rate.
        scale = (used / wall / self.share) ** 0.5
        self.interval = min(FLUSH_MAX_S, max(FLUSH_MIN_S, self.interval * scale))
