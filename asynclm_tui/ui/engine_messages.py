"""Textual messages that carry engine events onto the UI's event loop."""

from __future__ import annotations

from textual.message import Message

from asynclm_tui.core.api.events import Event
from asynclm_tui.core.sessions.rescue import SavingStopped


class EngineEvent(Message):
    """One engine event, posted from an engine thread (``post_message`` is thread-safe)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event
        """The core event, unchanged."""


class EventsPending(Message):
    """Engine events are waiting in the app's queue: drain them in one go.

    Tokens do not wake the UI one by one: the first token after a drain posts
    a non-urgent one, and the app drains at the render rate (the decode
    thread and the UI share the GIL and, on small machines, the CPU).  Any
    other event (a call, a result, a trap) posts an urgent one.
    """

    def __init__(self, urgent: bool) -> None:
        super().__init__()
        self.urgent = urgent
        """Drain now (True) or at the next render (False)."""


class CopyRequested(Message):
    """Copy ``text`` for the user (the app picks the clipboard or a file and says which)."""

    def __init__(self, text: str, what: str, name: str) -> None:
        super().__init__()
        self.text = text
        """What to copy."""
        self.what = what
        """How the notice names it, e.g. ``the last answer``."""
        self.name = name
        """A file-name stem for when it has to be saved to a file."""


class SavingLost(Message):
    """The sessions database was deleted, replaced or damaged under the chat
    (posted from the recorder's thread)."""

    def __init__(self, lost: SavingStopped) -> None:
        super().__init__()
        self.lost = lost
