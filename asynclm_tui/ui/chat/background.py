"""Calls that outlive their answer, as the chat shows them: grouped in the
calls panel, counted in the status bar and the calls' summary, a toast when
a ``notify`` result waits, and the panel's key that changes a call's delivery.

The chat state (:mod:`asynclm_tui.ui.state`) decides which calls are in the
background; this only shows it, and talks to the engine for the key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from asynclm_tui.core.api.delivery import CallBackgrounded, ResultHeld, SetDelivery
from asynclm_tui.core.api.enums import DeliverIdle
from asynclm_tui.core.api.events import (
    CallFinished,
    Event,
    HeldResults,
    Interrupt,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.ui.chat.layout import CallsLayout
from asynclm_tui.ui.delivery_words import away_text, call_name, next_delivery, notify_text
from asynclm_tui.ui.state import ChatState
from asynclm_tui.ui.widgets.calls_panel import CallsPanel
from asynclm_tui.ui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from asynclm_tui.core.api.handle import EngineHandle

NOTIFY_TIMEOUT_S = 8.0
"""A waiting result's toast stays this long (the panel keeps its mark)."""

Toast = Callable[[str, str, float], None]
"""Shows a notification: its message, its title and for how many seconds."""


class BackgroundView:
    """The calls in the background, in the panel, the status bar and toasts.

    ``toast`` shows a notification; ``engine`` takes the delivery changes.
    """

    def __init__(
        self,
        engine: EngineHandle,
        state: ChatState,
        *,
        panel: CallsPanel,
        bar: StatusBar,
        layout: CallsLayout,
        toast: Toast,
    ) -> None:
        self._engine = engine
        self._state = state
        self._panel = panel
        self._bar = bar
        self._layout = layout
        self._toast = toast
        self._asking: set[str] = set()
        """Calls whose delivery the key asked the engine for, to step it."""
        self._wanted: dict[str, DeliverIdle] = {}
        """Deliveries asked for, until the engine says it took them."""
        self._away: dict[tuple[int, str], tuple[str, str]] = {}
        """(session, id) of calls running for chats no longer on screen ->
        (the call's name, its chat's title), for the toast when it ends."""

    def follow(self, event: Event) -> None:
        """Show what ``event`` changed (after the state took it)."""
        match event:
            case CallBackgrounded():
                self._panel.update_call(event.id)
                self._changed(event)
            case ResultHeld() if (event.session, event.id) in self._away:
                name, title = self._away.pop((event.session, event.id))
                self._toast(away_text(name, title), "Result of another chat", NOTIFY_TIMEOUT_S)
                return
            case ResultHeld():
                self._panel.update_call(event.id)
                call = self._state.calls.get(event.id)
                notify = event.deliver_idle is DeliverIdle.NOTIFY
                if notify and call is not None and call.session == event.session:
                    self._toast(notify_text(call), "Result waiting", NOTIFY_TIMEOUT_S)
            case Interrupt() | TurnDone() | TurnStarted() | HeldResults() | CallFinished():
                pass
            case _:
                return
        self.refresh()

    def refresh(self) -> None:
        """Group the panel's rows, count the calls in the status bar and summary."""
        self._panel.regroup()
        self._bar.set_background(len(self._state.background_calls()))
        self._layout.update_summary()

    def cleared(self) -> None:
        """A new or other chat: nothing of the old one is waited for."""
        self._asking.clear()
        self._wanted.clear()
        self.refresh()

    def new_chat_warning(self) -> str:
        """What a new chat means for the calls in the background ('' if none)."""
        n = len(self._state.background_calls())
        if not n:
            return ""
        calls = "call runs" if n == 1 else "calls run"
        return (
            f" {n} {calls} in the background: they go on, and their results wait in "
            "this chat (Ctrl+S opens it again)."
        )

    def leaving(self) -> None:
        """The chat on screen is left for another: its calls still running
        get a toast when they end (their results wait in it)."""
        turns = self._state.turns
        title = next((t.user_text for t in turns if t.user_text), "an earlier chat")
        for call in self._state.background_calls():
            if not call.status.finished:
                self._away[call.session, call.id] = (call_name(call), title)

    def cycle(self, call_id: str) -> None:
        """The panel's key: the call's next delivery (answer -> notify -> silent).
        A call whose delivery the engine has not said yet is asked first
        (a change of nothing: the engine answers with what it has)."""
        call = self._state.calls.get(call_id)
        if call is None:
            return
        current = self._wanted.get(call_id, call.deliver_idle)
        if current is None:
            self._asking.add(call_id)
            self._engine.post(SetDelivery(call_id))
            return
        self._wanted[call_id] = wanted = next_delivery(current)
        self._engine.post(SetDelivery(call_id, deliver_idle=wanted))

    def _changed(self, event: CallBackgrounded) -> None:
        if event.id in self._asking:
            self._asking.discard(event.id)
            self.cycle(event.id)
        elif self._wanted.get(event.id) is event.deliver_idle:
            del self._wanted[event.id]  # taken: the panel shows it
