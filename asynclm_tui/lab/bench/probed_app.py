"""The app ``asynclm bench ui`` drives: the real chat app plus three probes.

- a terminal driver that encodes every screen update as the real one does and
  writes it to /dev/null, noting each update that showed more of the answer;
- a switch that detaches the app from the engine's events (held, then drawn
  between windows), so one turn has windows with and without the UI;
- a typist thread that posts a key every 100 ms as the terminal driver's
  input thread would, timing each from post to the screen update showing it.

Imports Textual: only ``bench ui`` loads this module.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from textual import events
from textual.drivers.headless_driver import HeadlessDriver
from textual.widgets import TextArea

from asynclm_tui.core.api.events import Event
from asynclm_tui.ui.app import AsyncLMApp
from asynclm_tui.ui.engine_messages import EventsPending

KEY_INTERVAL_S = 0.1
"""The typist's pace (a fast typist)."""
LETTERS = "abcdefghijklmnopqrstuvwxyz"


class NullTerminal(HeadlessDriver):
    """Textual's test driver, except that the app encodes its screen updates
    for a terminal (as it does in a chat) and they go to /dev/null."""

    written: Callable[[], None] = staticmethod(lambda: None)
    """Called after each screen update (a bound subclass sets it)."""

    @property
    def is_headless(self) -> bool:
        """Not headless: the app renders and encodes every update."""
        return False

    def start_application_mode(self) -> None:
        """Open /dev/null as the terminal."""
        self._terminal = open(os.devnull, "w")  # noqa: SIM115 (closed at stop)
        super().start_application_mode()

    def stop_application_mode(self) -> None:
        """Close the terminal."""
        super().stop_application_mode()
        self._terminal.close()

    def write(self, data: str) -> None:
        """Write a screen update; the app notes whether it showed new text."""
        self._terminal.write(data)
        self.written()


class BenchApp(AsyncLMApp):
    """The real app with the bench's probes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.driver_class = type(
            "BenchTerminal", (NullTerminal,), {"written": staticmethod(self.screen_written)}
        )
        self.detached = False
        self._held: list[Event] = []
        self._switch = threading.Lock()  # the sink runs on engine threads
        self.frames: list[float] | None = None
        """Where visible updates of the answer are noted (None: not counted)."""
        self._shown = 0
        self.keys: list[float] | None = None
        """Where key-to-screen latencies go; the typist types while set."""
        self._sent: dict[str, float] = {}

    # ------------------------------------------------------------ frames

    def screen_written(self) -> None:
        """A screen update went out: a visible update if the answer grew."""
        entry = self.chat.transcript.current
        shown = entry.shown if entry is not None else 0
        if shown != self._shown:
            self._shown = shown
            if self.frames is not None:
                self.frames.append(time.perf_counter())

    # ------------------------------------------------------------ switch

    def receive(self, event: Event) -> None:
        with self._switch:
            if self.detached:
                self._held.append(event)
            else:
                super().receive(event)

    async def on_events_pending(self, message: EventsPending) -> None:
        """Drain and render as usual, except while detached."""
        if not self.detached:  # a wake-up posted just before detaching
            await super().on_events_pending(message)

    async def detach(self) -> None:
        """Hold events from the next scheduled render on (which the attached
        window waits for: renders keep their natural pace)."""
        while self.chat.render_due:
            await asyncio.sleep(0.01)
        with self._switch:
            self.detached = True

    async def attach(self) -> None:
        """Deliver the held events and draw them now, between windows."""
        with self._switch:
            self.detached = False
            held, self._held = self._held, []
            for event in held:
                super().receive(event)
        await self.chat.flush_now()  # drains the queued events first

    # ------------------------------------------------------------ keys

    def type_key(self, ch: str) -> None:
        """Post a key as the driver's input thread does (any thread)."""
        self._sent[ch] = time.perf_counter()
        self.post_message(events.Key(ch, ch))

    def on_text_area_changed(self, message: TextArea.Changed) -> None:
        """The typed character reached the input: time it to the next frame."""
        text_now = message.text_area.text
        keys = self.keys
        if not text_now or keys is None:
            return
        t0 = self._sent.pop(text_now[-1], None)
        if t0 is not None:
            self.call_after_refresh(lambda: keys.append((time.perf_counter() - t0) * 1000))

    def clear_input(self) -> None:
        """Empty the message box between measurements."""
        self.chat.prompt.clear()
        self._sent.clear()


def typist(app: BenchApp, stop: threading.Event) -> None:
    """Type a letter every 100 ms while ``app.keys`` is set, until ``stop``."""
    i = 0
    while not stop.wait(KEY_INTERVAL_S):
        if app.keys is not None and app.is_running:
            app.type_key(LETTERS[i % len(LETTERS)])
            i += 1
