"""What the chat's steering asks the screen to do, as plain data.

:class:`~asynclm_tui.ui.chat.steering.Steering` never touches a widget: each
of its inputs returns a list of these effects, and the chat screen applies
them in order.  That keeps the steer / queue / stop rules testable in plain
Python and the screen free of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from asynclm_tui.core.api.events import Input
from asynclm_tui.ui.message_queue import QueuedMessage
from asynclm_tui.ui.state import CallRecord

Severity = Literal["information", "warning", "error"]
"""How a notification looks (Textual's severities)."""


@dataclass(frozen=True)
class PostInput:
    """Hand ``input`` to the engine (a non-blocking post)."""

    input: Input


@dataclass(frozen=True)
class Notify:
    """Show a notification (``timeout``: seconds, None for Textual's default)."""

    message: str
    title: str = ""
    severity: Severity = "information"
    timeout: float | None = None


@dataclass(frozen=True)
class SetStatus:
    """Set the status bar's state text and its style (``busy``, ``wait``, ``idle`` ...)."""

    text: str
    style: str


@dataclass(frozen=True)
class KeepInBox:
    """Put ``text`` back in the message box, unless the user has typed there since."""

    text: str


@dataclass(frozen=True)
class ReturnToBox:
    """Queued messages back in the message box, in order, before whatever is
    typed there; the cursor goes to the end and the box takes the focus."""

    texts: tuple[str, ...]


@dataclass(frozen=True)
class Focus:
    """Move the focus to the message box or to the queued messages above it."""

    target: Literal["prompt", "queue"]


@dataclass(frozen=True)
class ShowHeld:
    """Show (or hide, with no calls) the results held back since a stop, with
    the keys that keep them and cancel the running ones."""

    calls: tuple[CallRecord, ...]
    keep_key: str
    cancel_key: str


@dataclass(frozen=True)
class AddChip:
    """Add a chip to answer ``turn`` (None: the latest answer), if it is on screen."""

    kind: str
    text: str
    turn: int | None = None


@dataclass(frozen=True)
class OpenEditor:
    """Open the editor of a queued message; its end goes back to
    :meth:`~asynclm_tui.ui.chat.steering.Steering.edit_finished`."""

    item: QueuedMessage


@dataclass(frozen=True)
class RefreshBindings:
    """What the keys do may have changed: update the footer."""


Effect = (
    PostInput
    | Notify
    | SetStatus
    | KeepInBox
    | ReturnToBox
    | Focus
    | ShowHeld
    | AddChip
    | OpenEditor
    | RefreshBindings
)
"""Anything the steering asks for."""
