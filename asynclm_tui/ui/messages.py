"""Textual messages that carry engine events onto the UI's event loop."""

from __future__ import annotations

from textual.message import Message

from asynclm_tui.core.events import Event


class EngineEvent(Message):
    """One engine event, posted from an engine thread (``post_message`` is thread-safe)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event
        """The core event, unchanged."""


class EventsPending(Message):
    """Engine events are waiting in the app's queue: drain them in one go.

    At most one is in flight, so a burst of tokens costs one wake-up of the
    UI's event loop instead of one per token (the decode thread and the UI
    share the GIL and, on small machines, the CPU).
    """
