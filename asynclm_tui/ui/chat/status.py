"""What the chat says about the model and the running answer: the status
bar, the message box's title, and the loading, welcome and load-failure
entries of the transcript."""

from __future__ import annotations

from asynclm_tui.core.api.events import (
    Event,
    ModelLoaded,
    ModelLoadFailed,
    ModelLoading,
    Prefilled,
    PrefillProgress,
    Resumed,
    Trapped,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.ui.state import TurnRecord
from asynclm_tui.ui.widgets.prompt_input import PromptInput
from asynclm_tui.ui.widgets.status_bar import StatusBar
from asynclm_tui.ui.widgets.transcript import (
    LoadingEntry,
    NoticeEntry,
    Transcript,
    WelcomeEntry,
)

IDLE_TITLE = "message"
"""The message box's title while no answer runs."""
ANSWERING_TITLE = "message · Enter steers this answer · Tab queues for after it"
"""The message box's title while the model writes."""
SPEED_AFTER_S = 0.2
"""The live tokens/s shows once a turn has decoded this long (less is noise)."""


def prefill_left_s(event: PrefillProgress, previous: PrefillProgress | None = None) -> float | None:
    """Seconds the rest of the prompt should take (None before the first batch).

    A token costs more the further into the prompt it sits (attention reads
    every token before it), so its cost is taken to grow linearly: the
    latest batch's cost per token against the average so far gives the
    growth (none without a ``previous`` report of this prompt)."""
    if not 0 < event.done < event.total:
        return None
    rest = event.total - event.done
    average = event.ms / event.done  # ms a token, at position done / 2
    if previous is None or not 0 < previous.done < event.done or event.ms <= previous.ms:
        return rest * average / 1000
    latest = (event.ms - previous.ms) / (event.done - previous.done)
    middle = (previous.done + event.done) / 2  # where ``latest`` was measured
    growth = max(0.0, (latest - average) / (middle - event.done / 2))
    return rest * (latest + growth * (event.done + rest / 2 - middle)) / 1000


def prefill_text(event: PrefillProgress, previous: PrefillProgress | None = None) -> str:
    """``reading prompt 4,096/6,200 (66%) · ~3 s left``: how far a long
    prompt's evaluation has got, and when it should end (see
    :func:`prefill_left_s`)."""
    pct = event.done / event.total * 100 if event.total else 0.0
    text = f"reading prompt {event.done:,}/{event.total:,} ({pct:.0f}%)"
    left_s = prefill_left_s(event, previous)
    if left_s is None:
        return text
    if left_s >= 90:
        return f"{text} · ~{left_s / 60:.0f} min left"
    return f"{text} · ~{left_s:.0f} s left" if left_s >= 1 else f"{text} · <1 s left"


def device_label(event: ModelLoaded) -> str:
    """``GPU 33 layers``, ``CPU 4 threads``, ``CPU``, or for a model on a
    server its ``host:port`` (a remote chat must not look local)."""
    if event.server:
        return event.server
    device = f"GPU {event.n_gpu_layers} layers" if event.gpu else "CPU"
    if not event.gpu and event.n_threads:
        device = f"CPU {event.n_threads} threads"
    return device


class ChatStatus:
    """The status bar, the message box's title and the model's entries.

    ``model_label`` names the model while it loads; ``load_hint`` says what
    to try when it does not.
    """

    def __init__(
        self,
        bar: StatusBar,
        transcript: Transcript,
        prompt: PromptInput,
        *,
        model_label: str,
        load_hint: str,
    ) -> None:
        self._bar = bar
        self._transcript = transcript
        self._prompt = prompt
        self._model_label = model_label
        self._load_hint = load_hint
        self._loading: LoadingEntry | None = None
        self._prefill_last: PrefillProgress | None = None
        """The running prompt's latest progress report (for the estimate)."""
        self.n_ctx = 0
        """The model's context size (0 until it has loaded)."""

    async def show_loading(self, mode: str) -> None:
        """The loading entry and state, until the model is ready."""
        self._loading = LoadingEntry(self._model_label)
        await self._transcript.mount(self._loading)
        self._bar.set_state("loading model", "loading")
        self._bar.set_mode(mode)
        self._prompt.border_title = IDLE_TITLE

    def follow(self, event: Event) -> None:
        """The state the bar shows while the model loads and an answer runs."""
        match event:
            case ModelLoading():
                if self._loading is not None:
                    self._loading.set_progress(event.progress)
                self._bar.set_state(f"loading {event.progress:.0%}", "loading")
            case PrefillProgress():
                last = self._prefill_last if event.done else None
                self._bar.set_state(prefill_text(event, last), "busy")
                self._prefill_last = event
            case Prefilled() | Resumed():
                self._bar.set_state("generating", "busy")
            case Trapped():
                self._bar.set_state(f"waiting for {', '.join(event.pending) or 'results'}", "wait")

    async def _loading_done(self) -> None:
        if self._loading is not None:
            await self._loading.remove()
            self._loading = None

    async def loaded(self, event: ModelLoaded) -> None:
        """The model is ready: the loading entry goes and the bar names it."""
        await self._loading_done()
        name = f"{event.model} + {event.lora}" if event.lora else event.model
        self._bar.set_model(name, device_label(event))
        self.n_ctx = event.n_ctx
        self._bar.set_context(0, event.n_ctx)
        self._bar.set_speed(None)
        self._bar.set_state("ready", "idle")

    async def welcome(self, event: ModelLoaded) -> None:
        """The welcome entry (and the load's notice, if any)."""
        tools = ", ".join(event.tools) or "none"
        where = f"served by {event.server}" if event.server else device_label(event)
        await self._transcript.mount(
            WelcomeEntry(
                f"{event.model} is ready ({where}, {event.n_ctx:,} tokens of "
                f"context). Tools: {tools}.\n"
                "Type a message and press Enter. Keep typing while it answers: Enter steers "
                "the answer, Tab queues for after it. Esc stops, F1 shows every key.",
                f"{event.model} ready{f' on {event.server}' if event.server else ''} · "
                f"tools: {tools} · Enter sends · F1 keys",
            )
        )
        if event.notice:
            await self._transcript.mount(NoticeEntry(f"Note: {event.notice}.", "warning"))

    async def load_failed(self, event: ModelLoadFailed) -> None:
        """Why the model did not load, and the way out."""
        await self._loading_done()
        self._bar.set_state("model failed to load", "error")
        await self._transcript.mount(
            NoticeEntry(
                f"Could not load the model.\n{event.message}\n\n{self._load_hint} "
                "Press Ctrl+Q to quit.",
                "error",
            )
        )

    def turn_started(self, event: TurnStarted) -> None:
        """An answer starts: the box's title says what Enter and Tab do now."""
        self._bar.set_state("reading prompt", "busy")
        self._bar.set_mode(event.mode)
        self._prompt.border_title = ANSWERING_TITLE
        # A blinking cursor repaints twice a second; while the model decodes,
        # that CPU time is taken from llama.cpp's threads (see render_pacer).
        self._prompt.cursor_blink = False

    def turn_done(self, event: TurnDone, mode: str) -> None:
        """An answer ended: its speed and the context it leaves; ``mode``: the next turn's."""
        self._bar.set_state("ready", "idle")
        self._bar.set_speed(event.tok_s, event.cpu_busy)
        self._bar.set_context(event.n_past, event.n_ctx)
        self._bar.set_mode(mode)
        self._prompt.border_title = IDLE_TITLE
        self._prompt.cursor_blink = True

    def live(self, turn: TurnRecord, now: float) -> None:
        """Live tokens/s (decode time only) and context of the running ``turn``
        at engine time ``now``, updated with each render rather than on a timer."""
        if turn.prefill_t is None:
            return
        decoding = now - turn.prefill_t - turn.waited_ms(now) / 1000
        if decoding > SPEED_AFTER_S:
            self._bar.set_speed(turn.n_tokens / decoding)
        if self.n_ctx:
            used = turn.n_prompt + turn.n_tokens + turn.n_injected
            self._bar.set_context(used, self.n_ctx)

    def cleared(self) -> None:
        """A new or other chat: nothing of the context used, no speed."""
        self._bar.set_context(0, self.n_ctx)
        self._bar.set_speed(None)
