"""The main screen: transcript and input on the left, calls panel on the right.

It renders engine events (handed over by the app in order) and turns user
actions into engine inputs.  The engine is never blocked by the UI: every
input is a non-blocking :meth:`~asynclm_tui.core.api.handle.EngineHandle.post`.

The screen holds the widgets, the keys and the message handlers (that is
where Textual looks for them) and hands the work to its parts: steering
(steer, queue and stop, see :mod:`.steering`), the painter, the calls side
(panel, layout, calls in the background: :mod:`.calls_side`), the status,
the stream render and the copy picker.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen

from asynclm_tui.core.api.display import visible_event
from asynclm_tui.core.api.enums import MODES, Mode
from asynclm_tui.core.api.events import (
    Configure,
    Event,
    ModelLoaded,
    ModelLoadFailed,
    NewSession,
    Token,
    TurnDone,
    TurnFailed,
    TurnStarted,
)
from asynclm_tui.ui.chat.calls_side import CallsSide
from asynclm_tui.ui.chat.copying import CopyPicker
from asynclm_tui.ui.chat.effect_runner import EffectRunner
from asynclm_tui.ui.chat.effects import Effect, Notify
from asynclm_tui.ui.chat.footer import FooterRefresh
from asynclm_tui.ui.chat.layout import HORIZONTAL_BREAKPOINTS, VERTICAL_BREAKPOINTS
from asynclm_tui.ui.chat.painter import ChatPainter, failure_text
from asynclm_tui.ui.chat.rendering import StreamRender
from asynclm_tui.ui.chat.status import ChatStatus
from asynclm_tui.ui.chat.steering import Steering
from asynclm_tui.ui.engine_messages import CopyRequested
from asynclm_tui.ui.message_queue import QueuedMessage
from asynclm_tui.ui.screens.call_detail import CallDetailScreen
from asynclm_tui.ui.screens.edit_queued import EditQueuedScreen
from asynclm_tui.ui.state import ChatState
from asynclm_tui.ui.streaming.quiet_gc import QuietGC
from asynclm_tui.ui.widgets.call_row import CallDecision
from asynclm_tui.ui.widgets.calls_panel import CallsPanel, CallsStrip
from asynclm_tui.ui.widgets.prompt_input import PromptInput
from asynclm_tui.ui.widgets.queue_view import QueueView
from asynclm_tui.ui.widgets.status_bar import ModeChip, StatusBar
from asynclm_tui.ui.widgets.steady_footer import SteadyFooter
from asynclm_tui.ui.widgets.transcript import NoticeEntry, Transcript

if TYPE_CHECKING:
    from asynclm_tui.core.api.handle import EngineHandle
    from asynclm_tui.ui.mcp_link import McpLink

GC_AFTER_TURN_S = 0.3
"""Full garbage collections wait this long after a turn (see QuietGC)."""
CONFIRM_NEW_CHAT_S = 3.0
"""Ctrl+N erases a chat only when pressed twice within this many seconds."""
HISTORY_GROUP = "history"
"""Workers drawing a resumed chat's older turns."""


class ChatScreen(Screen[None]):
    """Transcript, prompt, in-flight calls and status."""

    CSS_PATH = Path(__file__).with_name("chat.tcss")  # absolute: subclasses elsewhere keep it
    AUTO_FOCUS = "#prompt"
    HORIZONTAL_BREAKPOINTS = HORIZONTAL_BREAKPOINTS
    VERTICAL_BREAKPOINTS = VERTICAL_BREAKPOINTS

    BINDINGS = [
        Binding("f2", "toggle_calls", "Calls panel", id="toggle_calls"),
        Binding("ctrl+l", "focus_calls", "Calls", id="focus_calls"),
        Binding("f3", "copy_answer", "Copy answer", id="copy_answer"),
        Binding("f4", "copy_code", "Copy code", id="copy_code"),
        # Esc stops writing; pressed again (or after the answer stopped) it
        # cancels the calls still running: check_action picks one at a time.
        Binding("escape", "stop", "Stop", id="stop"),
        Binding("escape", "cancel_calls", "Cancel calls", id="cancel_calls"),
        Binding("ctrl+g", "keep_results", "Keep results", id="keep_results"),
        Binding("ctrl+r", "toggle_raw", "Raw CML", id="toggle_raw"),
        Binding("ctrl+t", "timeline", "Timeline", id="timeline"),
        Binding("ctrl+o", "cycle_mode", "Mode", id="cycle_mode"),
        Binding("ctrl+n", "new_chat", "New chat", show=False, id="new_chat"),
    ]

    class ChatCleared(Message):
        """The conversation was forgotten (a new chat starts)."""

    def __init__(
        self,
        engine: EngineHandle,
        state: ChatState,
        clock: Callable[[], float],
        *,
        model_label: str,
        drain: Callable[[], Awaitable[object]],
        keymap: Mapping[str, str] | None = None,
        load_hint: str = "",
        raw: bool = False,
        calls_shown: bool = True,
        open_calls_for_approval: bool = True,
        mcp: McpLink | None = None,
    ) -> None:
        super().__init__()
        self.mcp = mcp
        """The chat's MCP servers, for approvals remembered per tool or server."""
        self._footer = FooterRefresh(self.call_after_refresh, super().refresh_bindings)
        self.engine = engine
        self.state = state
        self.clock = clock
        # Held rather than queried: apply() runs per token, and engine events
        # may still arrive while the app tears the screen down.
        self.status = StatusBar(id="status")
        """The status bar."""
        self.transcript = Transcript(id="transcript")
        """The conversation view."""
        self.prompt = PromptInput(id="prompt")
        """The message box."""
        self.side = CallsSide(
            self,
            engine,
            state,
            clock,
            bar=self.status,
            prompt=self.prompt,
            mcp=mcp,
            shown=calls_shown,
            open_for_approval=open_calls_for_approval,
        )
        """The calls panel and everything around it."""
        self.calls = self.side.panel
        """The calls panel."""
        self.calls_layout = self.side.layout
        """Where the calls panel is."""
        self.background = self.side.background
        """Calls that outlived their answer: grouped, counted, their delivery changed."""
        self.steering = Steering(state, keymap)
        """Steer, queue and stop (its queue is the user's: the app saves it)."""
        self.queue_view = QueueView(self.steering.queue, id="queue")
        """Queued messages and held results, above the message box."""
        self.painter = ChatPainter(state, self.transcript, self.calls, raw=raw)
        """Draws events into the transcript (live, or a saved chat's)."""
        self._status_view = ChatStatus(
            self.status,
            self.transcript,
            self.prompt,
            model_label=model_label,
            load_hint=load_hint,
        )
        self._stream = StreamRender(
            self.transcript, drain=drain, set_timer=self.set_timer, rendered=self._show_live
        )
        self._copier = CopyPicker(self.transcript)
        self._effects = EffectRunner(
            engine,
            prompt=self.prompt,
            queue_view=self.queue_view,
            transcript=self.transcript,
            status=self.status,
            notify=self._notify,
            refresh_bindings=self.refresh_bindings,
            open_editor=self._open_editor,
        )
        self.quiet_gc = QuietGC()
        """Full garbage collections held off while a turn streams or a chat is drawn."""
        self._erase_asked = 0.0
        """When Ctrl+N last asked for confirmation (monotonic seconds)."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield self.transcript
                yield self.side.strip
                yield self.queue_view
                yield self.prompt
            with Vertical(id="side"):
                yield self.side.title
                yield self.calls
        yield self.status
        yield SteadyFooter()

    async def on_mount(self) -> None:
        """Show load progress until the model is ready; lay out the calls panel."""
        await self._status_view.show_loading(self.engine.snapshot().mode)
        self.calls_layout.apply()

    def on_resize(self, event: events.Resize) -> None:
        """Re-apply the panel's state for the new size (breakpoint classes are Textual's)."""
        self.calls_layout.apply()

    # ------------------------------------------------------------ parts

    def status_text(self, part: str) -> str:
        """Plain text of a status bar part (``state``, ``model``, ``mode`` ...)."""
        return self.status.text(part)

    @property
    def generating(self) -> bool:
        """True from TurnStarted to TurnDone (as the UI has seen it)."""
        return self.steering.generating

    @property
    def loaded(self) -> bool:
        """The model is ready (a ``ModelLoaded`` arrived)."""
        return self.steering.loaded

    @property
    def warming(self) -> bool:
        """Loaded, but the system prompt is still being read (until ``PromptWarmed``)."""
        return self.steering.warming

    @property
    def load_failed(self) -> bool:
        """The model did not load (set once the reason is on screen)."""
        return self.steering.load_failed

    @property
    def calls_open(self) -> bool:
        """Whether the calls panel is visible (beside or over the transcript)."""
        return self.calls_layout.calls_open

    # ------------------------------------------------------------ events

    async def apply(self, event: Event) -> None:
        """Render one engine event (called by the app, in emission order), its
        text made safe for the terminal: control characters are shown, never
        obeyed (:mod:`~asynclm_tui.core.api.display`)."""
        event = visible_event(event)
        self.state.apply(event)
        await self.painter.draw(event, self.transcript)
        self._status_view.follow(event)
        match event:
            case ModelLoaded():
                await self._on_loaded(event)
                return
            case ModelLoadFailed():
                await self._status_view.load_failed(event)
            case TurnFailed():
                self.notify(
                    failure_text(event, self.transcript.current),
                    title="Answer failed",
                    severity="error",
                )
            case TurnStarted():
                self.quiet_gc.hold("turn")
                self._status_view.turn_started(event)
            case TurnDone():
                self._status_view.turn_done(event, self.engine.snapshot().mode)
                self.set_timer(GC_AFTER_TURN_S, self._collect_if_idle)
        if not isinstance(event, Token):
            self.side.follow(event)
            await self.run_effects(self.steering.observe(event))

    async def _on_loaded(self, event: ModelLoaded) -> None:
        await self._status_view.loaded(event)
        self.quiet_gc.settle()
        self._stream.pacer.set_decode_threads(0 if event.gpu else event.n_threads)
        # Loaded from here on, before the welcome is drawn: a message sent
        # meanwhile starts the answer rather than waiting for the model.
        await self.run_effects(self.steering.observe(event))
        await self._status_view.welcome(event)

    def _collect_if_idle(self) -> None:
        if not self.generating:
            self.quiet_gc.release("turn")

    def on_unmount(self) -> None:
        """Give the process its usual garbage collection back."""
        self.quiet_gc.release()

    async def run_effects(self, effects: list[Effect]) -> None:
        """Do what the steering asked, in order."""
        await self._effects.run(effects)

    def _notify(self, note: Notify) -> None:
        self.notify(note.message, title=note.title, severity=note.severity, timeout=note.timeout)

    def _open_editor(self, item: QueuedMessage) -> None:
        """Edit a queued message in its own screen; it is not sent meanwhile."""
        self.queue_view.show_editing(item.id)

        async def done(text: str | None) -> None:
            self.queue_view.show_editing(None)
            await self.run_effects(self.steering.edit_finished(item.id, text))

        self.app.push_screen(EditQueuedScreen(item.text), done)

    # ------------------------------------------------------------ rendering

    @property
    def render_due(self) -> bool:
        """Streamed text is waiting for a render already scheduled."""
        return self._stream.due

    async def flush_soon(self) -> None:
        """Render buffered tokens now if the last render is old, else shortly."""
        await self._stream.soon()

    async def flush_now(self) -> None:
        """Render buffered stream text immediately."""
        await self._stream.now()

    @on(PromptInput.Changed)
    def _key_drawn(self) -> None:
        """A key changed the input: a due render goes right after it."""
        self._stream.key_drawn()

    def _show_live(self) -> None:
        """Live speed and context of the running turn (after each render)."""
        turn = self.state.current
        if self.generating and turn is not None:
            self._status_view.live(turn, self.clock())

    def refresh_bindings(self) -> None:
        """Update the footer once after the next refresh, however many events
        changed what the keys do before it."""
        self._footer.request()

    def bindings_held(self) -> AbstractContextManager[None]:
        """Update the footer once at the end, not per event (a replay)."""
        return self._footer.held()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc means stop or cancel calls, never both (see steering)."""
        return self.steering.check_action(action)

    # ------------------------------------------------------------ messages

    @on(PromptInput.PageScroll)
    def _page(self, event: PromptInput.PageScroll) -> None:
        if event.direction < 0:
            self.transcript.scroll_page_up(animate=False)
        else:
            self.transcript.scroll_page_down(animate=False)

    @on(PromptInput.Submitted)
    async def _send(self, event: PromptInput.Submitted) -> None:
        await self.run_effects(self.steering.send(event.text))

    @on(PromptInput.Queued)
    async def _queue(self, event: PromptInput.Queued) -> None:
        await self.run_effects(self.steering.enqueue(event.text))

    @on(PromptInput.UpFromEmpty)
    async def _up_from_empty(self) -> None:
        await self.run_effects(self.steering.up_from_empty())

    @on(QueueView.EditRequested)
    async def _edit_queued(self, event: QueueView.EditRequested) -> None:
        await self.run_effects(self.steering.edit(event.item_id))

    @on(QueueView.RemoveRequested)
    async def _remove_queued(self, event: QueueView.RemoveRequested) -> None:
        await self.run_effects(self.steering.remove(event.item_id))

    @on(QueueView.BackRequested)
    @on(CallsPanel.BackRequested)
    def _back_to_prompt(self) -> None:
        self.prompt.focus()

    @on(CallsPanel.DetailRequested)
    def _show_call(self, event: CallsPanel.DetailRequested) -> None:
        self.app.push_screen(CallDetailScreen(event.record))

    @on(CallsPanel.CancelRequested)
    def _cancel(self, event: CallsPanel.CancelRequested) -> None:
        self.side.cancel(event.call_id)

    @on(CallsPanel.DeliveryRequested)
    def _cycle_delivery(self, event: CallsPanel.DeliveryRequested) -> None:
        self.background.cycle(event.call_id)

    @on(CallsPanel.Decision)
    def _decide(self, event: CallDecision) -> None:
        self.side.decide(event)
        self.prompt.focus()

    @on(ModeChip.Clicked)
    def _mode_clicked(self) -> None:
        self.action_cycle_mode()

    @on(CallsStrip.Clicked)
    def _strip_clicked(self) -> None:
        self.action_focus_calls()

    @on(events.DescendantFocus)
    def _focus_moved(self, event: events.DescendantFocus) -> None:
        self.calls_layout.focus_moved(event.widget)

    # ------------------------------------------------------------ actions

    async def action_stop(self) -> None:
        """Stop writing (partial output kept; calls keep running)."""
        await self.run_effects(self.steering.stop())

    async def action_cancel_calls(self) -> None:
        """Cancel the calls a stopped answer left running."""
        await self.run_effects(self.steering.cancel_calls())

    async def action_keep_results(self) -> None:
        """Give a stopped answer's held results to the next answer."""
        await self.run_effects(self.steering.keep_results())

    def action_toggle_calls(self) -> None:
        """Show or hide the calls panel (on narrow terminals: over the transcript)."""
        self.calls_layout.toggle()

    def action_focus_calls(self) -> None:
        """Jump to the calls panel (to the first call awaiting approval, if any)."""
        self.calls_layout.focus_calls()

    def _copy(self, picked: CopyRequested | Notify) -> None:
        if isinstance(picked, Notify):
            self._notify(picked)
        else:
            self.post_message(picked)

    def action_copy_answer(self) -> None:
        """Copy the latest answer as Markdown (the text, without the call chips)."""
        self._copy(self._copier.answer())

    def action_copy_code(self) -> None:
        """Copy the latest code block; again within a few seconds, the one before."""
        self._copy(self._copier.code())

    def action_copy_text(self) -> None:
        """Copy the mouse selection (Ctrl+C)."""
        self._copy(self._copier.selection(self.get_selected_text()))

    def action_toggle_raw(self) -> None:
        """Switch between rendered chips and the raw CML the model saw."""
        self.painter.raw = not self.painter.raw
        self.transcript.set_raw(self.painter.raw)

    def action_timeline(self) -> None:
        """Open the timeline of every turn."""
        from asynclm_tui.ui.screens.timeline import TimelineScreen

        self.app.push_screen(TimelineScreen(self.state, self.clock))

    def set_mode(self, mode: Mode) -> None:
        """Switch scheduling mode (applies from the next turn)."""
        self.engine.post(Configure(mode=mode))
        self.status.set_mode(mode, pending=self.generating)
        self.notify(
            f"Mode: {mode}" + (" (from the next turn)" if self.generating else ""), timeout=2
        )

    def action_cycle_mode(self) -> None:
        """async -> sync -> parallel -> async."""
        modes = list(MODES)
        self.set_mode(modes[(modes.index(self.engine.snapshot().mode) + 1) % len(modes)])

    async def action_new_chat(self) -> None:
        """Forget the conversation (only while idle)."""
        if not self.idle_or_warn():
            return
        now = time.monotonic()
        if self.state.turns and now - self._erase_asked > CONFIRM_NEW_CHAT_S:
            self._erase_asked = now
            self.notify(
                f"Press Ctrl+N again within {CONFIRM_NEW_CHAT_S:.0f} s to erase this "
                "chat from the screen and the model's context."
                + self.background.new_chat_warning(),
                title="New chat?",
                severity="warning",
                timeout=CONFIRM_NEW_CHAT_S,
            )
            return
        self._erase_asked = 0.0
        self.app.clear_notifications()  # the "press again" question is answered
        self.background.leaving()
        self.engine.post(NewSession())
        self.post_message(self.ChatCleared())
        await self.clear_view()
        await self.transcript.mount(NoticeEntry("New chat.", "ready"))

    # ------------------------------------------------------------ for the app

    def idle_or_warn(self) -> bool:
        """True when no answer runs; otherwise says to stop it first."""
        if self.generating or self.engine.snapshot().busy:
            self.notify("Stop the answer first (Esc).", severity="warning")
            return False
        return True

    async def restore_queue(self, texts: list[str]) -> None:
        """A saved chat's queued messages, back in the queue (not sent until
        the next answer has ended)."""
        await self.run_effects(self.steering.restore_queue(texts))

    def draw_history(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work``, the drawing of a resumed chat's older turns, until it
        ends or the chat on screen changes."""
        self.run_worker(work, group=HISTORY_GROUP, exclusive=True)

    async def clear_view(self) -> None:
        """Empty the transcript, calls panel and timeline (a new or other chat)."""
        self.workers.cancel_group(self, HISTORY_GROUP)
        self.state.turns.clear()
        self.state.calls.clear()
        await self.transcript.clear()
        await self.side.clear()
        await self.run_effects(self.steering.chat_cleared())
        self._status_view.cleared()
