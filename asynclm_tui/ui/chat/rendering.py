"""When streamed text reaches the screen: at the render pacer's rate, and
right after the frame of a key typed meanwhile (see
:mod:`asynclm_tui.ui.streaming.render_pacer`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.timer import Timer

from asynclm_tui.ui.streaming.render_pacer import RenderPacer
from asynclm_tui.ui.widgets.transcript import Transcript

KEY_SETTLE_S = 0.01
"""How long after a key's change the render starts (its frame is drawn by then)."""

SetTimer = Callable[[float, Callable[[], Awaitable[None]]], Timer]
"""Starts a one-shot timer (a widget's ``set_timer``)."""


class StreamRender:
    """Renders the answer being streamed into ``transcript``.

    ``drain`` delivers the engine events queued since the last render (the
    app's); ``set_timer`` schedules the next render; ``rendered`` runs after
    each render (the live speed).
    """

    def __init__(
        self,
        transcript: Transcript,
        *,
        drain: Callable[[], Awaitable[object]],
        set_timer: SetTimer,
        rendered: Callable[[], None],
    ) -> None:
        self._transcript = transcript
        self._drain = drain
        self._set_timer = set_timer
        self._rendered = rendered
        self.pacer = RenderPacer()
        self._timer: Timer | None = None

    @property
    def due(self) -> bool:
        """Streamed text is waiting for a render already scheduled."""
        return self._timer is not None

    async def soon(self) -> None:
        """Render buffered tokens now if the last render is old, else shortly."""
        if self._timer is not None:
            return
        wait = self.pacer.delay()
        if wait <= 0:
            await self.now()
        else:
            self._timer = self._set_timer(wait, self.now)

    async def now(self) -> None:
        """Render buffered stream text immediately."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        await self._drain()
        self.pacer.rendered()
        entry = self._transcript.current
        if entry is not None:
            await entry.flush()
        self._rendered()

    def key_drawn(self) -> None:
        """A key changed the input: a due render goes right after its frame."""
        if self.pacer.key() and self._timer is not None:
            self._timer.stop()
            self._timer = self._set_timer(KEY_SETTLE_S, self.now)
