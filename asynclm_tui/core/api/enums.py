"""The closed sets of names the engine speaks in: modes, reasons, decisions, call states.

They are ``StrEnum`` members, so they compare equal to their plain strings
(config files and ``--json`` output keep the same words) while code that
matches on them gets exhaustiveness checks from mypy.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """How calls are scheduled against decoding."""

    ASYNC = "async"
    """AsyncLM: a call starts when its block closes; decoding goes on."""
    SYNC = "sync"
    """Decoding blocks on each call until its result is injected."""
    PARALLEL = "parallel"
    """Calls are collected and run together at the next trap or end."""


MODES: tuple[Mode, ...] = tuple(Mode)


class Injection(StrEnum):
    """How an interrupt reaches the model."""

    KV = "kv"
    """Appended to the live KV cache (AsyncLM)."""
    REPREFILL = "reprefill"
    """The whole context is re-evaluated, as a stateless chat API would."""
    PREFIX = "prefix"
    """The request ends and the conversation is sent again as text: the text
    written since the last request is tokenized anew and only what follows
    the longest cached prefix is evaluated, as on a chat API whose server
    caches prefixes (llama.cpp's ``cache_prompt``, vLLM, SGLang)."""


class StopReason(StrEnum):
    """Why a turn ended (``TurnDone.reason``)."""

    EOS = "eos"
    STOPPED = "stopped"
    MAX_TOKENS = "max_tokens"
    CONTEXT_FULL = "context_full"
    ERROR = "error"
    """The turn failed; a ``TurnFailed`` event said why."""
    CLOSED = "closed"
    """The process ended before the turn did (a saved chat, reopened)."""


class PauseReason(StrEnum):
    """Why decoding paused (``Trapped.reason``)."""

    TRAP = "trap"
    """The model wrote ``[TRAP][END]``."""
    EOS = "eos"
    """The model finished with results still due."""
    SYNC = "sync"
    """Sync mode waits for each call."""


class Decision(StrEnum):
    """An answer to a tool that asks before it runs."""

    ONCE = "once"
    ALWAYS = "always"
    DENY = "deny"


class InterruptKind(StrEnum):
    """What an ``[INTR]`` block carries."""

    TOOL = "tool"
    """A call's result (or its error value)."""
    USER = "user"
    """A message the user typed while the model wrote."""
    ERROR = "error"
    """An error about a block itself (malformed, duplicate id)."""
    BACKGROUND = "background"
    """A call outlived its answer and goes on in the background (its result
    comes later, in its own ``[INTR]``)."""


class Deliver(StrEnum):
    """How a result that lands while an answer is being written reaches it."""

    INTERRUPT = "interrupt"
    """Injected into the answer at its next safe point."""
    WHEN_IDLE = "when_idle"
    """Held until the answer ends, then delivered as ``DeliverIdle`` says."""


class DeliverIdle(StrEnum):
    """How a result that lands while nothing is being written is delivered."""

    ANSWER = "answer"
    """A new turn starts with the result in its context."""
    NOTIFY = "notify"
    """The user is told; the result goes in with their next message."""
    SILENT = "silent"
    """The result goes in with the next message, without a word."""


class CallStatus(StrEnum):
    """Life cycle of one function call, as shown in the calls panel."""

    COLLECTED = "collected"  # parallel mode: held until the model traps or ends
    QUEUED = "queued"
    AWAITING_APPROVAL = "awaiting approval"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed out"
    DENIED = "denied"

    @property
    def finished(self) -> bool:
        """True for the terminal states."""
        return self in _FINISHED


_FINISHED = {
    CallStatus.DONE,
    CallStatus.FAILED,
    CallStatus.CANCELLED,
    CallStatus.TIMED_OUT,
    CallStatus.DENIED,
}
