"""The main screen: transcript and input on the left, calls panel on the right.

It renders engine events (handed over by the app in order) and turns user
actions into engine inputs.  The engine is never blocked by the UI: every
input is a non-blocking :meth:`~asynclm_tui.core.api.handle.EngineHandle.post`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    Event,
    ModelLoaded,
    ModelLoadFailed,
    ModelLoading,
    NewSession,
    Prefilled,
    PromptWarmed,
    Resumed,
    Token,
    Trapped,
    TurnDone,
    TurnFailed,
    TurnStarted,
)
from asynclm_tui.ui.screens.chat_control import TurnControl
from asynclm_tui.ui.screens.chat_draw import ChatDraw, failure_text
from asynclm_tui.ui.screens.chat_inputs import ChatInputs
from asynclm_tui.ui.state import ChatState
from asynclm_tui.ui.streaming.quiet_gc import QuietGC
from asynclm_tui.ui.streaming.render_pacer import RenderPacer
from asynclm_tui.ui.widgets.calls_panel import CallsPanel, CallsStrip
from asynclm_tui.ui.widgets.prompt_input import PromptInput
from asynclm_tui.ui.widgets.status_bar import StatusBar
from asynclm_tui.ui.widgets.steady_footer import SteadyFooter
from asynclm_tui.ui.widgets.transcript import (
    LoadingEntry,
    NoticeEntry,
    Transcript,
    WelcomeEntry,
)

if TYPE_CHECKING:
    from asynclm_tui.core.api.handle import EngineHandle

GC_AFTER_TURN_S = 0.3
"""Full garbage collections wait this long after a turn (see QuietGC)."""
CONFIRM_NEW_CHAT_S = 3.0
"""Ctrl+N erases a chat only when pressed twice within this many seconds."""
HISTORY_GROUP = "history"
"""Workers drawing a resumed chat's older turns."""
KEY_SETTLE_S = 0.01
"""How long after a key's change the render starts (its frame is drawn by then)."""


class ChatScreen(ChatDraw, ChatInputs):
    """Transcript, prompt, in-flight calls and status."""

    CSS_PATH = Path(__file__).with_name("chat.tcss")  # absolute: subclasses elsewhere keep it
    AUTO_FOCUS = "#prompt"

    BINDINGS = [
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
        load_hint: str = "",
        raw: bool = False,
        calls_shown: bool = True,
        open_calls_for_approval: bool = True,
    ) -> None:
        super().__init__()
        self._load_hint = load_hint
        """What to try when the model does not load (shown with the error)."""
        self.engine = engine
        self.state = state
        self.clock = clock
        # Held rather than queried: apply() runs per token, and engine events
        # may still arrive while the app tears the screen down.
        self._status_bar = StatusBar(id="status")
        self._transcript = Transcript(id="transcript")
        self._prompt = PromptInput(id="prompt")
        self._calls = CallsPanel(clock, id="calls")
        self.control = TurnControl(self)  # steer, queue and stop
        self._strip = CallsStrip(id="calls-strip")
        self.init_layout(shown=calls_shown, open_for_approval=open_calls_for_approval)
        self.raw = raw
        self.generating = False
        """True from TurnStarted to TurnDone (as the UI has seen it)."""
        self.load_failed = False
        self.loaded = False
        """The model is ready (a ``ModelLoaded`` arrived)."""
        self.warming = False
        """Loaded, but the system prompt is still being read (until ``PromptWarmed``):
        a message sent now waits for it."""
        self._model_label = model_label
        self._loading: LoadingEntry | None = None
        self._flush_timer: Timer | None = None
        self._drain = drain
        """Delivers engine events queued since the last render (the app's)."""
        self.quiet_gc = QuietGC()
        """Full garbage collections held off while a turn streams or a chat is drawn."""
        self._pacer = RenderPacer()
        self._n_ctx = 0
        self._erase_asked = 0.0
        """When Ctrl+N last asked for confirmation (monotonic seconds)."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield self._transcript
                yield self._strip
                yield self.control.view
                yield self._prompt
            with Vertical(id="side"):
                yield Static("calls", id="calls-title")
                yield self._calls
        yield self._status_bar
        yield SteadyFooter()

    async def on_mount(self) -> None:
        """Show load progress until the model is ready."""
        self._loading = LoadingEntry(self._model_label)
        await self.transcript.mount(self._loading)
        self.status.set_state("loading model", "loading")
        self.status.set_mode(self.engine.snapshot().mode)
        self.prompt.border_title = "message"

    # ------------------------------------------------------------ parts

    @property
    def transcript(self) -> Transcript:
        """The conversation view."""
        return self._transcript

    @property
    def calls(self) -> CallsPanel:
        """The calls panel."""
        return self._calls

    @property
    def prompt(self) -> PromptInput:
        """The message box."""
        return self._prompt

    @property
    def status(self) -> StatusBar:
        """The status bar."""
        return self._status_bar

    def status_text(self, part: str) -> str:
        """Plain text of a status bar part (``state``, ``model``, ``mode`` ...)."""
        return self.status.text(part)

    # ------------------------------------------------------------ events

    async def apply(self, event: Event) -> None:
        """Render one engine event (called by the app, in emission order)."""
        self.state.apply(event)
        await self.draw(event, self.transcript)
        match event:
            case ModelLoading():
                if self._loading is not None:
                    self._loading.set_progress(event.progress)
                self.status.set_state(f"loading {event.progress:.0%}", "loading")
            case ModelLoaded():
                await self._on_loaded(event)
            case PromptWarmed():
                self.warming = False
                if not self.control.answering:
                    self.status.set_state("ready", "idle")
            case ModelLoadFailed():
                await self._on_load_failed(event)
            case TurnFailed():
                self.notify(
                    failure_text(event, self.transcript.current),
                    title="Answer failed",
                    severity="error",
                )
            case TurnStarted():
                self._on_turn_started(event)
            case Prefilled() | Resumed():
                self.status.set_state("generating", "busy")
            case CallIssued():
                self.update_calls_summary()
            case CallUpdated() | CallFinished():
                self._on_call_changed(event)
            case Trapped():
                self.status.set_state(
                    f"waiting for {', '.join(event.pending) or 'results'}", "wait"
                )
            case TurnDone():
                self._on_turn_done(event)
        if not isinstance(event, Token):
            await self.control.observe(event)

    def _on_call_changed(self, event: CallUpdated | CallFinished) -> None:
        self.calls.update_call(event.id)
        self.update_calls_summary()
        match event:
            case CallUpdated(status=CallStatus.AWAITING_APPROVAL):
                rec = self.state.calls[event.id]
                self.notify(
                    f"{rec.fn}({rec.signature(30)}) asks to run. The model keeps "
                    "going meanwhile: Ctrl+L, then a (once) / A (always) / d (deny).",
                    title="Approval needed",
                    severity="warning",
                    timeout=8,
                )
                self.calls.select_call(event.id)
                self.approval_requested()
            case _:
                self.approvals_settled()

    async def _on_loaded(self, event: ModelLoaded) -> None:
        if self._loading is not None:
            await self._loading.remove()
            self._loading = None
        self.loaded = True
        self.warming = True
        device = f"GPU {event.n_gpu_layers} layers" if event.gpu else "CPU"
        if not event.gpu and event.n_threads:
            device = f"CPU {event.n_threads} threads"
        name = f"{event.model} + {event.lora}" if event.lora else event.model
        self.status.set_model(name, device)
        self.quiet_gc.settle()
        self._pacer.set_decode_threads(0 if event.gpu else event.n_threads)
        self._n_ctx = event.n_ctx
        self.status.set_context(0, event.n_ctx)
        self.status.set_speed(None)
        self.status.set_state("ready", "idle")
        tools = ", ".join(event.tools) or "none"
        await self.transcript.mount(
            WelcomeEntry(
                f"{event.model} is ready ({device}, {event.n_ctx:,} tokens of context). "
                f"Tools: {tools}.\n"
                "Type a message and press Enter. Keep typing while it answers: Enter steers "
                "the answer, Tab queues for after it. Esc stops, F1 shows every key.",
                f"{event.model} ready · tools: {tools} · Enter sends · F1 keys",
            )
        )
        if event.notice:
            await self.transcript.mount(NoticeEntry(f"Note: {event.notice}.", "warning"))

    async def _on_load_failed(self, event: ModelLoadFailed) -> None:
        if self._loading is not None:
            await self._loading.remove()
            self._loading = None
        self.status.set_state("model failed to load", "error")
        await self.transcript.mount(
            NoticeEntry(
                f"Could not load the model.\n{event.message}\n\n{self._load_hint} "
                "Press Ctrl+Q to quit.",
                "error",
            )
        )
        self.load_failed = True  # set once the reason is on screen

    def _on_turn_started(self, event: TurnStarted) -> None:
        self.generating = True
        self.quiet_gc.hold("turn")
        self.status.set_state("reading prompt", "busy")
        self.status.set_mode(event.mode)
        self.prompt.border_title = "message · Enter steers this answer · Tab queues for after it"
        # A blinking cursor repaints twice a second; while the model decodes,
        # that CPU time is taken from llama.cpp's threads (see render_pacer).
        self.prompt.cursor_blink = False

    def _on_turn_done(self, event: TurnDone) -> None:
        self.generating = False
        self.status.set_state("ready", "idle")
        self.status.set_speed(event.tok_s)
        self.status.set_context(event.n_past, event.n_ctx)
        self.status.set_mode(self.engine.snapshot().mode)
        self.prompt.border_title = "message"
        self.prompt.cursor_blink = True
        self.set_timer(GC_AFTER_TURN_S, self._collect_if_idle)

    def _collect_if_idle(self) -> None:
        if not self.generating:
            self.quiet_gc.release("turn")

    def on_unmount(self) -> None:
        """Give the process its usual garbage collection back."""
        self.quiet_gc.release()

    @property
    def render_due(self) -> bool:
        """Streamed text is waiting for a render already scheduled."""
        return self._flush_timer is not None

    async def flush_soon(self) -> None:
        """Render buffered tokens now if the last render is old, else shortly."""
        if self._flush_timer is not None:
            return
        wait = self._pacer.delay()
        if wait <= 0:
            await self.flush_now()
        else:
            self._flush_timer = self.set_timer(wait, self.flush_now)

    async def flush_now(self) -> None:
        """Render buffered stream text immediately."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        await self._drain()
        self._pacer.rendered()
        entry = self.transcript.current
        if entry is not None:
            await entry.flush()
        self._tick_speed()

    @on(PromptInput.Changed)
    def _key_drawn(self) -> None:
        """A key changed the input: a due render goes right after it."""
        if self._pacer.key() and self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = self.set_timer(KEY_SETTLE_S, self.flush_now)

    def _tick_speed(self) -> None:
        """Live tokens/s of the running turn (decode time only), updated with
        each render rather than on a timer of its own."""
        turn = self.state.current
        if not self.generating or turn is None or turn.prefill_t is None:
            return
        now = self.clock()
        decoding = now - turn.prefill_t - turn.waited_ms(now) / 1000
        if decoding > 0.2:
            self.status.set_speed(turn.n_tokens / decoding)
        if self._n_ctx:
            used = turn.n_prompt + turn.n_tokens + turn.n_injected
            self.status.set_context(used, self._n_ctx)

    # ------------------------------------------------------------ inputs

    async def action_new_chat(self) -> None:
        """Forget the conversation (only while idle)."""
        if not self.idle_or_warn():
            return
        now = time.monotonic()
        if self.state.turns and now - self._erase_asked > CONFIRM_NEW_CHAT_S:
            self._erase_asked = now
            self.notify(
                f"Press Ctrl+N again within {CONFIRM_NEW_CHAT_S:.0f} s to erase this "
                "chat from the screen and the model's context.",
                title="New chat?",
                severity="warning",
                timeout=CONFIRM_NEW_CHAT_S,
            )
            return
        self._erase_asked = 0.0
        self.engine.post(NewSession())
        self.post_message(self.ChatCleared())
        await self.clear_view()
        await self.transcript.mount(NoticeEntry("New chat.", "ready"))

    def idle_or_warn(self) -> bool:
        """True when no answer runs; otherwise says to stop it first."""
        if self.generating or self.engine.snapshot().busy:
            self.notify("Stop the answer first (Esc).", severity="warning")
            return False
        return True

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
        await self.calls.clear_calls()
        self.update_calls_summary()
        self.control.chat_cleared()
        self.status.set_context(0, self._n_ctx)
        self.status.set_speed(None)
