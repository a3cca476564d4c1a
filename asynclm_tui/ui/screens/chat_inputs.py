"""The chat screen's inputs: what the user's keys and clicks post to the engine.

The engine is never blocked by the UI: every input is a non-blocking
:meth:`~asynclm_tui.core.api.handle.EngineHandle.post`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from textual import on
from textual.message import Message

from asynclm_tui.core.api.enums import MODES, Decision, Mode
from asynclm_tui.core.api.events import (
    ApproveCall,
    CancelCall,
    Configure,
)
from asynclm_tui.ui.screens.chat_copy import ChatCopy
from asynclm_tui.ui.widgets.calls_panel import CallsPanel
from asynclm_tui.ui.widgets.prompt_input import PromptInput
from asynclm_tui.ui.widgets.queue_view import QueueView
from asynclm_tui.ui.widgets.status_bar import ModeChip, StatusBar

if TYPE_CHECKING:
    from asynclm_tui.core.api.handle import EngineHandle
    from asynclm_tui.ui.screens.chat_control import TurnControl


class ChatInputs(ChatCopy):
    """Messages, stops, approvals, cancels, modes and views."""

    # Set by the chat screen's constructor.
    engine: EngineHandle
    clock: Callable[[], float]
    raw: bool
    generating: bool
    load_failed: bool
    loaded: bool
    _status_bar: StatusBar
    control: TurnControl
    _bindings_due = False
    _bindings_held = False

    def refresh_bindings(self) -> None:
        """Update the footer once after the next refresh, however many events
        changed what the keys do before it: each update rebuilds the footer's
        widgets, and a turn's events ask for it several times."""
        if not self._bindings_due:
            self._bindings_due = True
            self.call_after_refresh(self._publish_bindings)

    def _publish_bindings(self) -> None:
        if self._bindings_held:
            return
        self._bindings_due = False
        super().refresh_bindings()

    @contextmanager
    def bindings_held(self) -> Iterator[None]:
        """Update the footer once at the end, not per event (a replay)."""
        self._bindings_held = True
        try:
            yield
        finally:
            self._bindings_held = False
            self._bindings_due = False
            self.refresh_bindings()

    @on(PromptInput.PageScroll)
    def _page(self, event: PromptInput.PageScroll) -> None:
        if event.direction < 0:
            self._transcript.scroll_page_up(animate=False)
        else:
            self._transcript.scroll_page_down(animate=False)

    @on(PromptInput.Submitted)
    def _send(self, event: PromptInput.Submitted) -> None:
        self.control.send(event.text)

    @on(PromptInput.Queued)
    @on(PromptInput.UpFromEmpty)
    @on(QueueView.EditDone)
    def _to_control(self, event: Message) -> None:
        self.control.handle(event)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc means stop or cancel calls, never both (see chat_control)."""
        return self.control.check_action(action)

    @on(CallsPanel.CancelRequested)
    def _cancel(self, event: CallsPanel.CancelRequested) -> None:
        self.engine.post(CancelCall(event.call_id))
        self.notify(f"Cancelling {event.call_id}; the model gets an error result.", timeout=3)

    @on(CallsPanel.Decision)
    def _decide(self, event: CallsPanel.Decision) -> None:
        self.engine.post(ApproveCall(event.call_id, Decision(event.decision)))
        self._prompt.focus()

    @on(ModeChip.Clicked)
    def _mode_clicked(self) -> None:
        self.action_cycle_mode()

    def action_stop(self) -> None:
        """Stop writing (partial output kept; calls keep running)."""
        self.control.stop()

    def action_cancel_calls(self) -> None:
        """Cancel the calls a stopped answer left running."""
        self.control.cancel_calls()

    def action_keep_results(self) -> None:
        """Give a stopped answer's held results to the next answer."""
        self.control.keep_results()

    def action_toggle_raw(self) -> None:
        """Switch between rendered chips and the raw CML the model saw."""
        self.raw = not self.raw
        self._transcript.set_raw(self.raw)

    def action_timeline(self) -> None:
        """Open the timeline of every turn."""
        from asynclm_tui.ui.screens.timeline import TimelineScreen

        self.app.push_screen(TimelineScreen(self.state, self.clock))

    def set_mode(self, mode: Mode) -> None:
        """Switch scheduling mode (applies from the next turn)."""
        self.engine.post(Configure(mode=mode))
        self._status_bar.set_mode(mode, pending=self.generating)
        self.notify(
            f"Mode: {mode}" + (" (from the next turn)" if self.generating else ""), timeout=2
        )

    def action_cycle_mode(self) -> None:
        """async -> sync -> parallel -> async."""
        modes = list(MODES)
        self.set_mode(modes[(modes.index(self.engine.snapshot().mode) + 1) % len(modes)])
