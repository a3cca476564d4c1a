"""The chat screen's inputs: what the user's keys and clicks post to the engine.

The engine is never blocked by the UI: every input is a non-blocking
:meth:`~asynclm_tui.core.handle.EngineHandle.post`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import on

from asynclm_tui.core.events import (
    ApproveCall,
    CancelCall,
    Configure,
    SendMessage,
    StopGeneration,
)
from asynclm_tui.core.kinds import MODES, Decision, Mode
from asynclm_tui.ui.screens.chat_copy import ChatCopy
from asynclm_tui.ui.widgets.calls_panel import CallsPanel
from asynclm_tui.ui.widgets.prompt_input import PromptInput
from asynclm_tui.ui.widgets.status_bar import ModeChip, StatusBar

if TYPE_CHECKING:
    from asynclm_tui.core.handle import EngineHandle


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

    @on(PromptInput.PageScroll)
    def _page(self, event: PromptInput.PageScroll) -> None:
        if event.direction < 0:
            self._transcript.scroll_page_up(animate=False)
        else:
            self._transcript.scroll_page_down(animate=False)

    @on(PromptInput.Submitted)
    def _send(self, event: PromptInput.Submitted) -> None:
        if self.load_failed:
            self.notify("The model did not load; nothing can answer.", severity="error")
            return
        self.engine.post(SendMessage(event.text))
        if self.generating:
            self.notify("Sent: it lands in the model's context at the next safe point.",
                        timeout=2)
        elif not self.loaded:
            self.notify("Queued: the model is still loading.", timeout=3)

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
        """Stop generating (partial output kept); otherwise back to the input."""
        if self.generating or self.engine.snapshot().busy:
            self.engine.post(StopGeneration())
            self._status_bar.set_state("stopping", "wait")
        else:
            self._prompt.focus()

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
        self.notify(f"Mode: {mode}" + (" (from the next turn)" if self.generating else ""),
                    timeout=2)

    def action_cycle_mode(self) -> None:
        """async -> sync -> parallel -> async."""
        modes = list(MODES)
        self.set_mode(modes[(modes.index(self.engine.snapshot().mode) + 1) % len(modes)])
