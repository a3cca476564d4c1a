"""Every key binding of the UI, grouped by where it applies (the help screen
lists them; ``ui.keymap`` remaps them by id)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.binding import Binding, BindingType

from asynclm_tui.ui.chat.screen import ChatScreen
from asynclm_tui.ui.screens.call_detail import CallDetailScreen
from asynclm_tui.ui.screens.edit_queued import EditQueuedScreen
from asynclm_tui.ui.screens.help import HelpScreen
from asynclm_tui.ui.screens.sessions import SessionsScreen
from asynclm_tui.ui.screens.timeline import TimelineScreen
from asynclm_tui.ui.widgets.calls_panel import CallsPanel
from asynclm_tui.ui.widgets.prompt_input import PromptInput
from asynclm_tui.ui.widgets.queue_view import QueueView


def _bindings(declared: Sequence[BindingType]) -> list[Binding]:
    return [b for b in declared if isinstance(b, Binding)]


def chat_bindings() -> list[Binding]:
    """The chat screen's bindings."""
    return _bindings(ChatScreen.BINDINGS)


def binding_groups(app_bindings: Sequence[BindingType]) -> list[tuple[str, list[Binding]]]:
    """Every binding the UI defines (``app_bindings``: the app's own), grouped
    by where it applies."""
    return [
        ("anywhere", _bindings(app_bindings)),
        ("chat", chat_bindings()),
        ("input", _bindings(PromptInput.BINDINGS)),
        ("queued messages", _bindings(QueueView.BINDINGS)),
        ("editing a queued one", _bindings(EditQueuedScreen.BINDINGS)),
        ("calls panel", _bindings(CallsPanel.BINDINGS)),
        ("a call's result", _bindings(CallDetailScreen.BINDINGS)),
        ("timeline", _bindings(TimelineScreen.BINDINGS)),
        ("help", _bindings(HelpScreen.BINDINGS)),
        ("saved chats", _bindings(SessionsScreen.BINDINGS)),
    ]
