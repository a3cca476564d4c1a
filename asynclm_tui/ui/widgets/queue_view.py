"""Above the message box: messages queued for after the answer, and results
held back from the next answer after a stop.

Hidden while there is neither. Focus it (Shift+Tab, or Up from an empty
message box) to edit (Enter) or remove (x) a queued message.  The view only
reads the queue: edits, removals and leaving are messages to the screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from asynclm_tui.ui.message_queue import MessageQueue, QueuedMessage
from asynclm_tui.ui.state import CallRecord

ROW_CHARS = 200
"""A queued message's row shows its first line, cut to this many characters."""


def held_line(calls: list[CallRecord], keep_key: str, cancel_key: str) -> str:
    """``⏸ ctrl+g: give a, b (running) to the next answer …``: the stop's open choice."""
    names = ", ".join(c.id + ("" if c.status.finished else " (running)") for c in calls)
    running = any(not c.status.finished for c in calls)
    cancel = f" · {cancel_key}: cancel running" if running else ""
    return f"⏸ {keep_key}: give {names} to the next answer (held back since the stop){cancel}"


class QueueView(Vertical, can_focus=True):
    """Queued messages (editable, removable) and the held-results notice."""

    BINDINGS = [
        Binding("up,k", "select(-1)", "Prev", show=False, id="queue.up"),
        Binding("down,j", "select(1)", "Next", show=False, id="queue.down"),
        Binding("enter,e", "edit", "Edit", id="queue.edit"),
        Binding("x,delete", "remove", "Remove", id="queue.remove"),
        Binding("escape", "back", "Back to input", id="queue.back"),
    ]

    selected: reactive[int] = reactive(0)
    """Index of the selected queued message."""

    @dataclass
    class EditRequested(Message):
        """The user asked to edit queued message ``item_id``."""

        item_id: int

    @dataclass
    class RemoveRequested(Message):
        """The user asked to remove queued message ``item_id``."""

        item_id: int

    @dataclass
    class BackRequested(Message):
        """The user asked to go back to the message box."""

    def __init__(self, queue: MessageQueue, **kwargs: str) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.queue = queue
        """The queued messages (read only here)."""
        self.editing: int | None = None
        """Id of the message open in the editor (marked in its row)."""
        self._held = Static("", id="queue-held", markup=False)
        self._rows = Static("", id="queue-rows")
        self._held_calls: list[CallRecord] = []
        self._keys = ("ctrl+g", "esc")
        queue.subscribe(lambda _items: self.redraw())

    def compose(self) -> ComposeResult:
        yield self._held
        yield self._rows

    def on_mount(self) -> None:
        """Start hidden (nothing queued or held yet)."""
        self.redraw()

    def show_editing(self, item_id: int | None) -> None:
        """Mark queued message ``item_id`` as open in the editor (None: none is)."""
        self.editing = item_id
        self.redraw()

    def set_held(self, calls: list[CallRecord], keep_key: str, cancel_key: str) -> None:
        """Show (or hide, with no calls) the held-results notice."""
        self._held_calls = calls
        self._keys = (keep_key, cancel_key)
        self.redraw()

    def redraw(self) -> None:
        """Redraw from the queue and the held calls."""
        items = self.queue.items
        self._held.display = bool(self._held_calls)
        if self._held_calls:
            self._held.update(held_line(self._held_calls, *self._keys))
        self._rows.display = bool(items)
        self.selected = max(0, min(self.selected, len(items) - 1))
        text = Text(no_wrap=True, overflow="ellipsis")
        if items:
            hint = (
                "↑ edit or remove" if not self.has_focus else ("Enter edit · x remove · Esc back")
            )
            text.append(f"queued ({len(items)}), sent after the answer · {hint}", style="dim")
        for i, item in enumerate(items):
            first = item.text.strip().splitlines()[0][:ROW_CHARS] if item.text.strip() else ""
            more = " …" if "\n" in item.text.strip() else ""
            mark = "✎" if item.id == self.editing else f"{i + 1}."
            style = "reverse" if self.has_focus and i == self.selected else ""
            text.append("\n")
            text.append(f" {mark} {first}{more}", style=style)
        self._rows.update(text)
        self.display = bool(items) or bool(self._held_calls)

    def watch_selected(self) -> None:
        """Move the highlight."""
        if self.is_mounted:
            self.redraw()

    def on_focus(self) -> None:
        """Show the keys and the selection."""
        self.redraw()

    def on_blur(self) -> None:
        """Hide the selection."""
        self.redraw()

    @property
    def selected_item(self) -> QueuedMessage | None:
        """The selected queued message."""
        items = self.queue.items
        return items[self.selected] if 0 <= self.selected < len(items) else None

    def action_select(self, step: int) -> None:
        """Move the selection up or down."""
        if len(self.queue):
            self.selected = max(0, min(len(self.queue) - 1, self.selected + step))

    def action_edit(self) -> None:
        """Edit the selected message in place (it waits while the editor is open)."""
        item = self.selected_item
        if item is None:
            self.app.bell()
            return
        self.post_message(self.EditRequested(item.id))

    def action_remove(self) -> None:
        """Remove the selected message from the queue."""
        item = self.selected_item
        if item is None:
            self.app.bell()
            return
        self.post_message(self.RemoveRequested(item.id))

    def action_back(self) -> None:
        """Return focus to the message box."""
        self.post_message(self.BackRequested())
