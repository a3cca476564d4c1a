"""The command palette's own entries (modes, views, copying, saved chats,
help, a screenshot) and the screenshot it saves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from textual.app import App, SystemCommand

from asynclm_tui.core.api.enums import MODES
from asynclm_tui.core.settings.paths import user_data_dir
from asynclm_tui.ui.chat.screen import ChatScreen

MODE_HELP = {
    "async": "Tool calls run while the model keeps writing",
    "sync": "Each tool call pauses the model until its result is in",
    "parallel": "Calls collect until the model pauses, then run together",
}
"""What each scheduling mode does, for the command palette."""


def palette_commands(
    chat: ChatScreen,
    mode: str,
    *,
    sessions: Callable[[], object],
    help: Callable[[], object],
    screenshot: Callable[[], object],
) -> Iterator[SystemCommand]:
    """The entries the app adds; ``mode``: the current scheduling mode."""
    for choice in MODES:
        mark = " (current)" if choice == mode else ""
        yield SystemCommand(
            f"Mode: {choice}{mark}",
            MODE_HELP[choice] + " (from the next turn)",
            lambda m=choice: chat.set_mode(m),
        )
    yield SystemCommand(
        "Calls panel", "Show or hide the calls panel (F2)", chat.action_toggle_calls
    )
    yield SystemCommand("Copy last answer", "Copy it as Markdown (F3)", chat.action_copy_answer)
    yield SystemCommand("Copy code block", "Copy the latest code block (F4)", chat.action_copy_code)
    yield SystemCommand("Raw CML view", "Toggle raw CML / rendered chips", chat.action_toggle_raw)
    yield SystemCommand("Timeline", "Decoding vs calls per turn, time saved", chat.action_timeline)
    yield SystemCommand("New chat", "Forget the conversation", chat.action_new_chat)
    yield SystemCommand(
        "Saved chats", "Search, open, rename or delete saved chats (Ctrl+S)", sessions
    )
    yield SystemCommand("Keys", "Every key binding and its id (F1)", help)
    yield SystemCommand("Screenshot", "Save an SVG of the screen in the data dir", screenshot)


def save_screen_svg(app: App[None]) -> None:
    """Save a screenshot in ``$XDG_DATA_HOME/asynclm/screenshots`` (else the
    current directory) and say where."""
    for folder in (user_data_dir() / "screenshots", Path.cwd()):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = app.save_screenshot(path=str(folder))
        except OSError:
            continue
        app.notify(f"Saved {path}", title="Screenshot", markup=False)
        return
    app.notify("Could not save the screenshot (no writable folder).", severity="error")
