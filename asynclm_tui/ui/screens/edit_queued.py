"""A small editor for one queued message (it keeps its place in the queue)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from asynclm_tui.ui.textual_internals import KeysBeforeBindings


class EditQueuedScreen(ModalScreen[str | None]):
    """Edit a queued message: Enter saves, Ctrl+J adds a line, Esc cancels.

    Dismisses with the new text (empty: remove it) or None (unchanged).
    """

    CSS_PATH = Path(__file__).with_name("edit_queued.tcss")
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="edit_queued.cancel"),
        Binding("enter", "save", "Save", id="edit_queued.save"),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text
        self._area = _Editor(text, soft_wrap=True, show_line_numbers=False, id="edit-queued-text")

    def compose(self) -> ComposeResult:
        with Vertical(id="edit-queued") as box:
            box.border_title = "Edit queued message"
            yield self._area
            yield Static(
                "Enter saves · Ctrl+J new line · Esc cancels · empty removes it",
                id="edit-queued-keys",
            )

    def on_mount(self) -> None:
        """Cursor at the end, ready to type."""
        self._area.focus()
        self._area.move_cursor(self._area.document.end)

    def action_save(self) -> None:
        """Keep the edited text."""
        self.dismiss(self._area.text)

    def action_cancel(self) -> None:
        """Leave the message as it was."""
        self.dismiss(None)


class _Editor(KeysBeforeBindings):
    """Enter saves rather than breaking the line (as in the message box)."""

    def claim_key(self, key: str) -> bool:
        """Enter saves; Ctrl+J (or Alt/Shift+Enter) adds a line."""
        if key == "enter" and isinstance(self.screen, EditQueuedScreen):
            self.screen.action_save()
        elif key in ("ctrl+j", "alt+enter", "shift+enter"):
            self.insert("\n")
        else:
            return False
        return True
