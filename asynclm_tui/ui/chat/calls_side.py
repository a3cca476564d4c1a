"""The calls side of the chat: the calls panel, its title and one-line
strip, where they are (:mod:`.layout`), the calls in the background
(:mod:`.background`), and what the panel's keys ask of the engine: an
approval (remembered for an MCP tool or its whole server when asked), a
cancel, a delivery change."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from textual.screen import Screen
from textual.widgets import Static

from asynclm_tui.core.api.enums import Decision
from asynclm_tui.core.api.events import (
    ApproveCall,
    CallFinished,
    CallIssued,
    CallProgress,
    CallUpdated,
    CancelCall,
    Event,
)
from asynclm_tui.ui.chat.background import BackgroundView
from asynclm_tui.ui.chat.layout import CallsLayout
from asynclm_tui.ui.state import ChatState
from asynclm_tui.ui.widgets.call_row import CallDecision
from asynclm_tui.ui.widgets.calls_panel import CallsPanel, CallsStrip
from asynclm_tui.ui.widgets.prompt_input import PromptInput
from asynclm_tui.ui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from asynclm_tui.core.api.handle import EngineHandle
    from asynclm_tui.ui.mcp_link import McpLink

SAY_TIMEOUT_S = 4.0
"""A short confirmation (a cancel asked for, an approval remembered)."""


class CallsSide:
    """The calls panel and everything around it, for ``screen``.

    ``clock`` gives engine seconds (the timers); ``bar`` counts the calls in
    the background; ``prompt`` takes the focus back; ``mcp`` remembers
    approvals of MCP tools (None: no server declared); ``shown`` and
    ``open_for_approval`` are ``ui.calls_panel`` and ``ui.open_calls_for_approval``.
    """

    def __init__(
        self,
        screen: Screen[Any],
        engine: EngineHandle,
        state: ChatState,
        clock: Callable[[], float],
        *,
        bar: StatusBar,
        prompt: PromptInput,
        mcp: McpLink | None,
        shown: bool,
        open_for_approval: bool,
    ) -> None:
        self._screen = screen
        self._engine = engine
        self._mcp = mcp
        self.panel = CallsPanel(clock, id="calls")
        """The calls, one row each."""
        if mcp is not None:
            self.panel.is_mcp_tool = mcp.is_mcp_tool
        self.title = Static("calls", id="calls-title")
        """The panel's one-line title (what runs, what waits)."""
        self.strip = CallsStrip(id="calls-strip")
        """The panel folded into one line."""
        self.layout = CallsLayout(
            screen,
            panel=self.panel,
            strip=self.strip,
            title=self.title,
            prompt=prompt,
            state=state,
            shown=shown,
            open_for_approval=open_for_approval,
        )
        """Where the panel is, and approvals asked for."""
        self.background = BackgroundView(
            engine,
            state,
            panel=self.panel,
            bar=bar,
            layout=self.layout,
            toast=lambda text, title, timeout: screen.notify(
                text, title=title, timeout=timeout, markup=False
            ),
        )
        """Calls that outlived their answer: grouped, counted, their delivery changed."""

    def follow(self, event: Event) -> None:
        """Show what ``event`` changed (after the state and the transcript took it)."""
        match event:
            case CallIssued():
                self.layout.update_summary()
            case CallUpdated() | CallProgress() | CallFinished():
                self.layout.call_changed(event)
        self.background.follow(event)

    async def clear(self) -> None:
        """Forget every call (a new or other chat)."""
        await self.panel.clear_calls()
        self.background.cleared()

    def _say(self, text: str) -> None:
        self._screen.notify(text, timeout=SAY_TIMEOUT_S, markup=False)

    def decide(self, event: CallDecision) -> None:
        """Answer a call's approval request."""
        decision = event.decision
        if decision in ("always", "server") and self._mcp is not None:
            scope: Literal["tool", "server"] = "server" if decision == "server" else "tool"
            if self._mcp.remember(event.tool, scope):
                what = f"every tool of {event.tool.partition('.')[0]}"
                if scope == "tool":
                    what = event.tool
                self._say(f"Remembered: {what} runs without asking from now on.")
        if decision == "server":
            decision = "always"  # for this call and this chat, whatever was remembered
        self._engine.post(ApproveCall(event.call_id, Decision(decision)))

    def cancel(self, call_id: str) -> None:
        """Cancel one call; the model gets an error result."""
        self._engine.post(CancelCall(call_id))
        self._say(f"Cancelling {call_id}; the model gets an error result.")
