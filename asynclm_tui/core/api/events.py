"""Typed events the engine emits and inputs it accepts.

Events are frozen dataclasses; ``to_json`` gives the headless ``--json`` shape
(one object per line with ``event`` and ``t``).  Inputs are frozen dataclasses
too, handed to :meth:`~asynclm_tui.core.api.handle.EngineHandle.post`: messages and
new sessions are taken in the order posted, controls (stop, cancel, approve)
act at once, and settings (mode, tools, generation) apply from the next turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from asynclm_tui.core.api.enums import (
    CallStatus,
    Decision,
    DeliverIdle,
    Injection,
    InterruptKind,
    Mode,
    PauseReason,
    StopReason,
)

if TYPE_CHECKING:
    from asynclm_tui.core.settings.config import GenerationSettings
    from asynclm_tui.core.tools.registry import ToolRegistry


@dataclass(frozen=True)
class Event:
    """Base of every engine event; ``t`` is seconds since the engine started."""

    name: ClassVar[str] = "event"
    t: float

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` line for this event: ``event``, ``t`` and its fields
        (milliseconds and rates to 2 decimals), but those marked
        :data:`NOT_IN_JSON`, under the key their ``JSON_KEY`` metadata names."""
        data: dict[str, Any] = {"event": self.name, "t": round(self.t, 4)}
        for f in fields(self):
            if f.name != "t" and f.metadata.get(JSON_KEY, f.name) is not None:
                data[f.metadata.get(JSON_KEY, f.name)] = _json_value(getattr(self, f.name))
        return data


JSON_KEY = "json_key"
"""Field metadata: the field's key in :meth:`Event.to_json` (None: left out)."""
NOT_IN_JSON: Mapping[str, Any] = MappingProxyType({JSON_KEY: None})
"""Metadata of fields the ``--json`` lines leave out (bulky or internal)."""


def _json_value(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass(frozen=True)
class ModelLoading(Event):
    """Model load progress in [0, 1]."""

    name: ClassVar[str] = "loading"
    progress: float


@dataclass(frozen=True)
class ModelLoaded(Event):
    """The model is ready: where it runs and what it can call."""

    name: ClassVar[str] = "loaded"
    model: str
    n_ctx: int
    n_gpu_layers: int
    gpu: bool
    load_ms: float
    n_threads: int = 0
    """CPU threads llama.cpp decodes with."""
    tools: tuple[str, ...] = ()
    """Names of the tools the model is offered, sorted."""
    notice: str = ""
    """Something the user should know about how the model runs (a fallback chat
    template, the system prompt folded into the first message); '' if none."""
    lora: str = ""
    """The LoRA adapter applied (its file name); '' if none."""
    server: str = ""
    """``host:port`` of the server the model runs on; '' for an in-process model."""


@dataclass(frozen=True)
class PromptWarmed(Event):
    """The system prompt is in the KV cache, so a message is answered from here
    on.  On a first launch this follows ``loaded`` by the prompt's evaluation;
    later launches restore a saved state and it follows at once."""

    name: ClassVar[str] = "warmed"
    how: str
    """``restored``, ``evaluated``, ``kept`` (nothing to do) or ``failed``."""
    n_tokens: int


@dataclass(frozen=True)
class ModelLoadFailed(Event):
    """The model could not be loaded; the engine answers nothing after this."""

    name: ClassVar[str] = "load_failed"
    message: str


@dataclass(frozen=True)
class SessionStarted(Event):
    """A new conversation began (``NewSession``); nothing of the old one
    (history, pending calls, their results) reaches it."""

    name: ClassVar[str] = "session"
    session: int
    rejoins: int | None = None
    """An earlier chat of this run opened again: the serial it began with
    (its calls and results are this session's from now on)."""


@dataclass(frozen=True)
class TurnStarted(Event):
    """A new assistant turn begins (after the user's message)."""

    name: ClassVar[str] = "turn"
    turn: int
    mode: Mode
    text: str
    session: int = 0
    follow_up: bool = False
    """This turn answers a message typed mid-answer that the previous answer
    ended without taking up (the engine's rule, ``core.decode.follow_up``)."""
    started_by: tuple[str, ...] = ()
    """Calls whose results started this turn, with no message of the user's
    (``text`` is then empty; the model reads ``result_notice`` in its place):
    they outlived an earlier answer."""


@dataclass(frozen=True)
class Prefilled(Event):
    """The turn's prompt is in the KV cache (only new tokens were evaluated)."""

    name: ClassVar[str] = "prefill"
    n_prompt: int
    n_evaluated: int
    ms: float


@dataclass(frozen=True)
class PrefillProgress(Event):
    """How far the evaluation of a long prompt has got: it runs in batches
    (llama.cpp's ``n_batch``), reported after each, at most a few times a
    second.  Only prompts longer than one batch report; ``Prefilled`` follows
    the last."""

    name: ClassVar[str] = "prefill_progress"
    done: int
    """Tokens of this prompt evaluated so far."""
    total: int
    """Tokens of this prompt to evaluate (those not already in the KV cache)."""
    ms: float
    """Time spent evaluating them so far."""


@dataclass(frozen=True)
class Token(Event):
    """One decoded token: its raw text and the plain text it made final."""

    name: ClassVar[str] = "token"
    text: str
    visible: str = field(default="", metadata=NOT_IN_JSON)
    forced: int = field(default=0, metadata=NOT_IN_JSON)
    """Tokens the call grammar forced (jump-forward: appended in one batch,
    ``text`` holds them all); 0 for a sampled token."""
    checked: bool = field(default=False, metadata=NOT_IN_JSON)
    """Sampled at a position of a decode call that also held drafted tokens
    (a kept draft, or the token after them): it took no step of its own."""


@dataclass(frozen=True)
class CallIssued(Event):
    """The model closed a call block; the call was handed to the executor."""

    name: ClassVar[str] = "call"
    id: str
    fn: str = field(metadata={JSON_KEY: "name"})
    args: tuple[Any, ...] = ()
    """Positional arguments, in order."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments."""
    wants_result: bool = field(default=True, metadata=NOT_IN_JSON)
    estimate_ms: float = field(default=0.0, metadata=NOT_IN_JSON)
    session: int = field(default=0, metadata=NOT_IN_JSON)

    def signature(self, limit: int = 60) -> str:
        """``1, ms=300`` (cut to ``limit`` characters): the call's arguments."""
        return format_args(self.args, self.kwargs, limit)


def format_args(args: tuple[Any, ...], kwargs: dict[str, Any], limit: int = 60) -> str:
    """Positional then keyword arguments as Python writes them, cut to ``limit``."""
    parts = [repr(v) for v in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    text = ", ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class CallUpdated(Event):
    """A call changed status (queued, awaiting approval, running, ...)."""

    name: ClassVar[str] = "status"
    id: str
    status: CallStatus
    session: int = field(default=0, metadata=NOT_IN_JSON)


@dataclass(frozen=True)
class CallProgress(Event):
    """A running call reported progress (an MCP server's progress
    notifications, or a task's status); ``total`` is None when unknown."""

    name: ClassVar[str] = "progress"
    id: str
    progress: float
    total: float | None = None
    message: str = ""
    session: int = field(default=0, metadata=NOT_IN_JSON)


@dataclass(frozen=True)
class CallFinished(Event):
    """A call finished (successfully or not); its value awaits injection."""

    name: ClassVar[str] = "result"
    id: str
    ok: bool
    ms: float
    status: CallStatus = CallStatus.DONE
    value: str = field(default="", metadata=NOT_IN_JSON)
    session: int = field(default=0, metadata=NOT_IN_JSON)


@dataclass(frozen=True)
class Interrupt(Event):
    """An ``[INTR]`` block was appended to the live KV cache."""

    name: ClassVar[str] = "interrupt"
    id: str
    value: str
    n_tokens: int
    wait_ms: float
    """Time from the result being ready to its tokens entering the decoder."""
    inject_ms: float = 0.0
    """Time the decode call that appended it took (its prefill cost); over a
    server, from the end of the stream to the continuation's first token."""
    kind: InterruptKind = InterruptKind.TOOL
    n_cached: int | None = None
    """Prompt tokens the backend already held (None: the server did not say)."""
    n_evaluated: int | None = None
    """Tokens the backend evaluated for this append (None: not reported)."""
    result_tokens: int = 0
    """Tokens of the whole result (0 when it had no budget to check)."""
    cut_tokens: int = 0
    """Tokens of the result left out by its budget (0: injected whole)."""


@dataclass(frozen=True)
class UserMessage(Event):
    """A message typed by the user landed as an interrupt mid-generation."""

    name: ClassVar[str] = "user"
    text: str


@dataclass(frozen=True)
class MessageReturned(Event):
    """A message the chat could not take (its turn failed before the model
    read it: too long for the context window, or the backend failed) is handed
    back to the user, who may edit and resend it; it was not answered."""

    name: ClassVar[str] = "returned"
    text: str
    reason: StopReason
    message: str
    """Why, in one line (the ``TurnFailed`` message)."""


@dataclass(frozen=True)
class Trapped(Event):
    """Decoding paused: a trap, EOS with calls pending, or a blocking mode."""

    name: ClassVar[str] = "trap"
    reason: PauseReason
    pending: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resumed(Event):
    """Decoding resumed after a pause."""

    name: ClassVar[str] = "resume"
    waited_ms: float


@dataclass(frozen=True)
class TurnDone(Event):
    """The turn ended; counts prove that nothing was re-prefilled."""

    name: ClassVar[str] = "done"
    reason: StopReason
    n_prompt: int
    n_generated: int
    n_injected: int
    n_past: int
    n_ctx: int
    elapsed_ms: float
    decode_ms: float
    tok_s: float
    text: str = field(default="", repr=False, metadata=NOT_IN_JSON)
    n_forced: int = 0
    """Of ``n_generated``, tokens the call grammar forced (jump-forward)."""
    n_drafted: int = 0
    """Of ``n_generated``, drafted tokens the model's samples kept (checked in
    an earlier token's decode call, no step of their own)."""
    call_blocks: int = 0
    """Call blocks written in the turn."""
    block_sampled: int = 0
    """Tokens sampled in call blocks, each in a decode step of its own (the
    ``[CALL]`` opener included)."""
    block_forced: int = 0
    """Tokens forced in call blocks."""
    block_drafted: int = 0
    """Drafted tokens kept in call blocks."""
    block_ms: float = 0.0
    """Time spent writing call blocks, each from the step that picked its
    first token to the call's hand-off to the scheduler."""
    cpu_busy: bool = False
    """Other work (another process, a CPU-bound tool) kept the CPU busy and the
    turn decoded slower for it: on fewer threads, on more threads than the CPUs
    left free, or with steps several times their usual cost."""
    threads: int = 0
    """Fewest decode threads the turn used (0: not reported, e.g. a server)."""


@dataclass(frozen=True)
class ContextSlid(Event):
    """The context window was full: the oldest turns left the model's context
    (they stay in the transcript) and the rest was evaluated again."""

    name: ClassVar[str] = "context_slid"
    dropped_turns: int
    n_before: int
    n_after: int
    n_evaluated: int
    ms: float


class HeldState(StrEnum):
    """What happens to the results of calls a stopped turn left behind."""

    HELD = "held"  # kept out of the context until the user decides
    KEPT = "kept"  # the user chose to give them to the next answer
    DROPPED = "dropped"  # the next answer started without them


@dataclass(frozen=True)
class HeldResults(Event):
    """Results of a stopped turn's calls: held back, kept or dropped.

    A turn that ends before its calls return (stopped, out of tokens, an
    error) does not hand their results to the next answer: they are held
    until the user posts :class:`KeepResults`, and dropped when the next turn
    starts without that.
    """

    name: ClassVar[str] = "held"
    ids: tuple[str, ...]
    state: HeldState


@dataclass(frozen=True)
class TurnFailed(Event):
    """The running turn could not go on (a full context, a template the model
    rejects, a backend error); a ``TurnDone`` follows and the engine takes
    the next message as usual.  Never a tool failure: those are results."""

    name: ClassVar[str] = "error"
    message: str
    """One line, for the user."""
    reason: StopReason = StopReason.ERROR
    """``context_full`` when the conversation no longer fits, else ``error``."""
    detail: str = field(default="", repr=False, metadata=NOT_IN_JSON)
    """The traceback, for ``--debug``."""


# ------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class Input:
    """Base of everything handed to :meth:`Engine.post` (each input is routed
    at once: to the mailbox, the executor or the engine's settings)."""


@dataclass(frozen=True)
class SendMessage(Input):
    """Start a turn when idle, or inject ``[INTR] user`` while generating."""

    text: str


@dataclass(frozen=True)
class StopGeneration(Input):
    """End the current turn within one token; partial output is kept."""


@dataclass(frozen=True)
class CancelCall(Input):
    """Cancel one call (``call_id``) or every pending call (None)."""

    call_id: str | None = None


@dataclass(frozen=True)
class KeepResults(Input):
    """Give the held results of a stopped turn to the next answer (those
    still running land when they finish)."""


@dataclass(frozen=True)
class ApproveCall(Input):
    """Answer a ``confirm: true`` tool: allow once, allow always, or deny."""

    call_id: str
    decision: Decision


@dataclass(frozen=True)
class Configure(Input):
    """Change how the next turns run; fields left None keep their value.

    ``generation`` replaces the generation settings as a whole (its ``mode``
    included); ``mode`` then overrides that mode."""

    mode: Mode | None = None
    injection: Injection | None = None
    generation: GenerationSettings | None = None


@dataclass(frozen=True)
class SetTools(Input):
    """Offer these tools from the next turn: calls run against them at once,
    and a session whose system message describes another tool set gets it
    rewritten at its next turn (an MCP server started or changed its list)."""

    registry: ToolRegistry


@dataclass(frozen=True)
class NewSession(Input):
    """Forget the conversation: a running turn stops and its calls are
    cancelled, but those in the background run on for their chat (their
    results wait for it: core.decode.other_chats); nothing of the old chat
    reaches the new one.  Messages posted after this belong to the new
    session.

    ``history`` continues a saved chat instead (system message first; the
    next turn's one prefill evaluates it) and ``call_ids`` are the ids it
    used, so the model cannot reuse them."""

    history: tuple[Mapping[str, str], ...] = ()
    call_ids: frozenset[str] = frozenset()
    interrupted: tuple[str, ...] = ()
    """Calls of the saved chat that were still running when asynclm quit:
    the model is told so at the start of the next turn."""
    results: tuple[WaitingResult, ...] = ()
    """Results of the saved chat that the model never read (they came in
    after the chat was left, or waited for a turn when asynclm quit):
    delivered as their calls' ``deliver_idle`` says, once."""
    rejoin: int | None = None
    """A serial this chat had earlier in this run (``SessionStarted``): its
    calls still running in the background, and results that came in while
    it was away, are its own again."""


@dataclass(frozen=True)
class WaitingResult:
    """A saved chat's result that the model has not read yet."""

    call_id: str
    value: str
    deliver_idle: DeliverIdle = DeliverIdle.ANSWER


@dataclass(frozen=True)
class ForceNextTurn(Input):
    """Teacher-force the next turn with these exact token ids (benchmarks);
    takes precedence over a script for that one turn."""

    tokens: tuple[int, ...]
