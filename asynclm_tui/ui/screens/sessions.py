"""The sessions screen: saved chats to search, open, rename and delete."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from asynclm_tui.core.api.display import visible
from asynclm_tui.core.sessions.store import SessionInfo, SessionStore, StoreError


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question."""

    CSS_PATH = Path(__file__).with_name("sessions.tcss")
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self._question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self._question, id="confirm-question", markup=False)
            yield Static("y: yes   n / Esc: no", id="confirm-keys")

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)


class RenameScreen(ModalScreen[str | None]):
    """Type a new title (Enter keeps it, Esc cancels)."""

    CSS_PATH = Path(__file__).with_name("sessions.tcss")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="rename.cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical(id="rename-box"):
            yield Static("New title (Enter saves, Esc cancels)")
            yield Input(self._title, id="rename-input")

    @on(Input.Submitted)
    def _save(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        """Keep the old title."""
        self.dismiss(None)


class SessionsScreen(ModalScreen[int | None]):
    """List and search saved chats; dismisses with the id to open (or None)."""

    CSS_PATH = Path(__file__).with_name("sessions.tcss")
    BINDINGS = [
        Binding("escape", "close", "Close", id="sessions.close"),
        Binding("enter", "open", "Open", id="sessions.open", priority=True),
        Binding("ctrl+r", "rename", "Rename", id="sessions.rename"),
        # Priority: the search box would take ctrl+d as "delete right".
        Binding("ctrl+d", "delete", "Delete", id="sessions.delete", priority=True),
        Binding("down", "move(1)", "Down", show=False, id="sessions.down"),
        Binding("up", "move(-1)", "Up", show=False, id="sessions.up"),
    ]

    def __init__(
        self,
        db_path: Path,
        current: int | None = None,
        on_current_deleted: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__()
        self.db_path = db_path
        self._on_current_deleted = on_current_deleted
        self.current = current
        """The session open in the chat (marked in the list)."""
        self._found: list[SessionInfo] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="sessions-box"):
            yield Input(placeholder="Search every message…", id="sessions-search")
            yield DataTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="sessions-keys"):
                yield Static(
                    "Enter open · Ctrl+R rename · Ctrl+D delete · Esc close", id="sessions-help"
                )
                yield Static("", id="sessions-count")

    def on_mount(self) -> None:
        """Fill the list, newest first."""
        self.query_one("#sessions-box").border_title = "saved chats"
        table = self.table
        table.add_columns("id", "title", "updated", "turns")
        self.refresh_list()
        self.query_one("#sessions-search", Input).focus()

    @property
    def table(self) -> DataTable[str]:
        """The list of chats."""
        return self.query_one("#sessions-table", DataTable)

    def refresh_list(self) -> None:
        """Re-read the database with the current search."""
        search = self.query_one("#sessions-search", Input).value.strip()
        was = self.selected()
        try:
            store = SessionStore(self.db_path)
            try:
                self._found = store.list_sessions(search)
            finally:
                store.close()
        except StoreError as exc:
            self._found = []
            self.notify(str(exc), severity="error", timeout=10)
        table = self.table
        table.clear()
        for info in self._found:
            mark = "● " if info.id == self.current else ""
            updated = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.updated))
            table.add_row(
                str(info.id),
                mark + visible(info.title or "(untitled)"),
                updated,
                str(info.turns),
                key=str(info.id),
            )
        ids = [info.id for info in self._found]
        if was is not None and was.id in ids:  # keep the cursor on the same chat
            table.move_cursor(row=ids.index(was.id))
        what = f"matching {search!r}" if search else "saved"
        self.query_one("#sessions-count", Static).update(f"{len(self._found)} {what}")

    @on(Input.Changed, "#sessions-search")
    def _search(self) -> None:
        self.refresh_list()

    def selected(self) -> SessionInfo | None:
        """The chat under the cursor."""
        row = self.table.cursor_row
        return self._found[row] if 0 <= row < len(self._found) else None

    def action_move(self, step: int) -> None:
        """Move the cursor while typing in the search box."""
        table = self.table
        if self._found:
            table.move_cursor(row=max(0, min(len(self._found) - 1, table.cursor_row + step)))

    def action_open(self) -> None:
        """Open the selected chat."""
        info = self.selected()
        if info is not None:
            self.dismiss(info.id)

    def action_close(self) -> None:
        """Back to the chat."""
        self.dismiss(None)

    def action_rename(self) -> None:
        """Rename the selected chat."""
        info = self.selected()
        if info is None:
            return

        def done(title: str | None) -> None:
            if title:
                self._change(lambda s: s.rename(info.id, title))

        self.app.push_screen(RenameScreen(info.title), done)

    def action_delete(self) -> None:
        """Delete the selected chat, after asking."""
        info = self.selected()
        if info is None:
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._change(lambda s: s.delete(info.id))
                self.notify(f"Deleted chat {info.id}.", timeout=3)
                if info.id == self.current:
                    self.current = None
                    self._on_current_deleted()

        self.app.push_screen(
            ConfirmScreen(
                f"Delete chat {info.id} “{info.title}” ({info.turns} turns)? This cannot be undone."
            ),
            done,
        )

    def _change(self, change: Callable[[SessionStore], None]) -> None:
        try:
            store = SessionStore(self.db_path)
            try:
                change(store)
            finally:
                store.close()
        except StoreError as exc:
            self.notify(str(exc), severity="error", timeout=10)
        self.refresh_list()
