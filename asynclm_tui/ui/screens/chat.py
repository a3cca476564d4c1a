"""The main screen: transcript and input on the left, calls panel on the right.

It renders engine events (handed over by the app in order) and turns user
actions into engine inputs.  The engine is never blocked by the UI: every
input is a non-blocking :meth:`~asynclm_tui.core.handle.EngineHandle.post`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Static

from asynclm_tui.core.cml import format_interrupt
from asynclm_tui.core.events import (
    CallFinished,
    CallIssued,
    CallStatus,
    CallUpdated,
    ContextSlid,
    Event,
    Interrupt,
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
    UserMessage,
)
from asynclm_tui.core.kinds import InterruptKind, PauseReason, StopReason
from asynclm_tui.ui.screens.chat_control import TurnControl
from asynclm_tui.ui.screens.chat_inputs import ChatInputs
from asynclm_tui.ui.state import ChatState, clip, fmt_seconds, slid_text
from asynclm_tui.ui.streaming.quiet_gc import QuietGC
from asynclm_tui.ui.streaming.render_pacer import RenderPacer
from asynclm_tui.ui.widgets.calls_panel import CallsPanel, CallsStrip
from asynclm_tui.ui.widgets.prompt_input import PromptInput
from asynclm_tui.ui.widgets.status_bar import StatusBar
from asynclm_tui.ui.widgets.transcript import (
    AssistantEntry,
    LoadingEntry,
    NoticeEntry,
    Transcript,
    UserEntry,
    WelcomeEntry,
)

if TYPE_CHECKING:
    from asynclm_tui.core.handle import EngineHandle

GC_AFTER_TURN_S = 0.3
"""Full garbage collections wait this long after a turn (see QuietGC)."""
CONFIRM_NEW_CHAT_S = 3.0
"""Ctrl+N erases a chat only when pressed twice within this many seconds."""
KEY_SETTLE_S = 0.01
"""How long after a key's change the render starts (its frame is drawn by then)."""

TRAP_REASONS = {
    PauseReason.TRAP: "waiting",
    PauseReason.EOS: "finished writing; waiting",
    PauseReason.SYNC: "sync mode: waiting",
}
CONTEXT_FULL_HINTS = (
    "Raise model.n_ctx in the config, offer fewer tools, or set generation.prompt_style: compact.",
    "Ctrl+N starts a new chat.",
)
"""The way out of a full context: on a chat's first message, then later."""


class ChatScreen(ChatInputs):
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
        drain: Callable[[], Awaitable[None]],
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
        self._gc = QuietGC()
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
        yield Footer()

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
        entry = self.transcript.current
        match event:
            case Token():
                if entry is not None:
                    entry.add_raw(event.text)
                    entry.add_text(event.visible)
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
                await self._on_turn_failed(event)
            case TurnStarted():
                await self._on_turn_started(event)
            case Prefilled():
                self.status.set_state("generating", "busy")
            case CallIssued():
                await self._on_call(event, entry)
            case CallUpdated() | CallFinished():
                self._on_call_changed(event)
            case Interrupt():
                await self._on_interrupt(event, entry)
            case UserMessage():
                if entry is not None:
                    await entry.add_chip("user", f"you, mid-answer: {event.text}")
            case Trapped():
                what = ", ".join(event.pending) or "results"
                if entry is not None:
                    label = TRAP_REASONS.get(event.reason, "waiting")
                    chip = await entry.add_chip("trap", f"{label} for {what} …", chip_id="open",
                                                now=True)
                    chip.pending = what
                self.status.set_state(f"waiting for {what}", "wait")
            case Resumed():
                if entry is not None:
                    entry.resume_trap(f"waited {fmt_seconds(event.waited_ms)}", self._still_running)
                self.status.set_state("generating", "busy")
            case TurnDone():
                await self._on_turn_done(event, entry)
            case ContextSlid():
                if entry is not None and self.generating:
                    await entry.add_chip("info", slid_text(event))
                else:
                    await self.transcript.mount(NoticeEntry(slid_text(event), "info"))
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
                    title="Approval needed", severity="warning", timeout=8,
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
        self._gc.settle()
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

    async def _on_turn_failed(self, event: TurnFailed) -> None:
        if event.reason == StopReason.CONTEXT_FULL:
            turn = self.state.current
            first = turn is None or turn.number == 1
            hint = CONTEXT_FULL_HINTS[0 if first else 1]
            text = f"{event.message[:1].upper()}{event.message[1:]}. {hint}"
        else:
            text = f"The answer failed: {event.message}. The chat goes on with your next message."
        await self.transcript.mount(NoticeEntry(text, "error"))
        self.notify(text, title="Answer failed", severity="error")

    async def _on_turn_started(self, event: TurnStarted) -> None:
        self.generating = True
        self._gc.streaming()
        await self.transcript.mount(UserEntry(event.text))
        await self.transcript.add_turn(AssistantEntry(event.turn, raw=self.raw))
        self.status.set_state("reading prompt", "busy")
        self.status.set_mode(event.mode)
        self.prompt.border_title = "message · Enter steers this answer · Tab queues for after it"
        # A blinking cursor repaints twice a second; while the model decodes,
        # that CPU time is taken from llama.cpp's threads (see render_pacer).
        self.prompt.cursor_blink = False

    async def _on_call(self, event: CallIssued, entry: AssistantEntry | None) -> None:
        if entry is not None:
            name = f"{event.id} = " if event.wants_result else ""
            tail = "" if event.wants_result else "  (no result wanted)"
            await entry.add_chip("call", f"{name}{event.fn}({event.signature()}){tail}")
        await self.calls.add_call(self.state.calls[event.id])
        self.update_calls_summary()

    async def _on_interrupt(self, event: Interrupt, entry: AssistantEntry | None) -> None:
        if entry is None:
            return
        entry.add_raw(format_interrupt(event.id, event.value))
        if event.kind == InterruptKind.USER:
            return  # shown by the UserMessage event
        call = self.state.calls.get(event.id)
        value = " ".join(event.value.split())
        value = clip(value, 80)
        # The time of this call's own result only: not for an error about a
        # later block reusing its id (an ERROR interrupt), nor for a call that
        # never ran.  The value may differ from the call's: results are cut to
        # their token budget before they reach the model.
        took = ""
        if (call is not None and call.ms is not None and call.started_t is not None
                and event.kind == InterruptKind.TOOL):
            took = f" · took {fmt_seconds(call.ms)}"
        ok = event.kind == InterruptKind.TOOL and (call is None or call.ok)
        kind = "result" if ok else "error"
        cut = f" · model saw {event.result_tokens - event.cut_tokens:,} of " \
            f"{event.result_tokens:,} tokens" if event.cut_tokens else ""
        await entry.add_chip(kind, f"{event.id} → {value}{took}{cut}")
        self.calls.update_call(event.id)

    def _still_running(self, ids: str) -> list[str]:
        """Which of the comma-separated call ids have not finished."""
        calls = self.state.calls
        return [i for i in ids.split(", ") if i in calls and not calls[i].status.finished]

    async def _on_turn_done(self, event: TurnDone, entry: AssistantEntry | None) -> None:
        self.generating = False
        if entry is not None:
            if event.reason == StopReason.STOPPED:
                await entry.add_chip("stop", "stopped by you; the partial answer is kept")
            elif event.reason == StopReason.MAX_TOKENS:
                await entry.add_chip("info", "reached generation.max_tokens")
            elif event.reason == StopReason.CLOSED:
                await entry.add_chip("stop", "cut off: asynclm closed before the answer ended")
            await entry.finish()
        self.status.set_state("ready", "idle")
        self.status.set_speed(event.tok_s)
        self.status.set_context(event.n_past, event.n_ctx)
        self.status.set_mode(self.engine.snapshot().mode)
        self.prompt.border_title = "message"
        self.prompt.cursor_blink = True
        self.set_timer(GC_AFTER_TURN_S, self._collect_if_idle)

    def _collect_if_idle(self) -> None:
        if not self.generating:
            self._gc.idle()

    def on_unmount(self) -> None:
        """Give the process its usual garbage collection back."""
        self._gc.idle()

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
            self.notify(f"Press Ctrl+N again within {CONFIRM_NEW_CHAT_S:.0f} s to erase this "
                        "chat from the screen and the model's context.",
                        title="New chat?", severity="warning", timeout=CONFIRM_NEW_CHAT_S)
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

    async def clear_view(self) -> None:
        """Empty the transcript, calls panel and timeline (a new or other chat)."""
        self.state.turns.clear()
        self.state.calls.clear()
        await self.transcript.clear()
        await self.calls.clear_calls()
        self.update_calls_summary()
        self.control.chat_cleared()
        self.status.set_context(0, self._n_ctx)
        self.status.set_speed(None)
