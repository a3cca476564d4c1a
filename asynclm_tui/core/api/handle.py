"""The engine's declared surface: everything the UI, the benchmarks and the
headless runner may use.

Consumers post :class:`~asynclm_tui.core.api.events.Input` values, subscribe to
typed :class:`~asynclm_tui.core.api.events.Event` values and read a frozen
:class:`EngineSnapshot`; they never touch the engine's attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from asynclm_tui.core.api.bus import Sink
from asynclm_tui.core.api.enums import Injection, Mode
from asynclm_tui.core.api.events import Input
from asynclm_tui.core.backends.base import BackendInfo
from asynclm_tui.core.settings.config import GenerationSettings


class LoadState(StrEnum):
    """Where the model is."""

    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class EngineSnapshot:
    """The engine's state at one moment (a copy: it never changes)."""

    load: LoadState
    load_error: str | None
    """Why the model did not load (``load`` is ``failed``)."""
    model: BackendInfo | None
    """The loaded model; None until it loaded."""
    busy: bool
    """A turn is being decoded."""
    queued: int
    """Messages (and new-session marks) waiting to be taken."""
    mode: Mode
    """The scheduling mode of the next turn."""
    injection: Injection
    generation: GenerationSettings
    """The generation settings of the next turn (a copy)."""
    session: int
    """Serial of the current conversation (``NewSession`` starts the next)."""
    turns: int
    """Turns in the current conversation."""
    outstanding: tuple[str, ...]
    """Calls whose results the model has not received yet."""
    background: tuple[str, ...]
    """Calls that outlived their answer and whose results the model has not
    received yet (running, or held for a later turn)."""
    away: Mapping[int, tuple[str, ...]]
    """Calls still running for chats not on screen (their results wait for
    them), by the serial each chat began with in this run (what
    ``NewSession.rejoin`` takes)."""
    tools: tuple[str, ...]
    """Tools offered to the model, sorted."""
    tool_errors: tuple[str, ...]
    """Tool files that failed to load (shown to the user, never fatal)."""
    system_prompt: str
    """The system message a new conversation starts with."""
    prompt_style: str = "full"
    """``generation.prompt_style`` resolved for the loaded model (full or compact)."""


class EngineHandle(Protocol):
    """What every consumer of the engine depends on, and nothing more."""

    def start(self) -> None:
        """Start the decode thread; it loads the model first."""

    def post(self, inp: Input) -> None:
        """Hand an input to the engine (thread-safe, never blocks)."""

    def subscribe(self, sink: Sink) -> None:
        """Receive every event (called on engine threads)."""

    def snapshot(self) -> EngineSnapshot:
        """The engine's state now."""

    def elapsed(self) -> float:
        """Seconds since the engine was created (the ``t`` of events)."""

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Block until the model loaded or failed; True when it loaded."""

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no turn runs and nothing waits to start one; True
        when idle."""

    def close(self) -> None:
        """Stop decoding, cancel calls, free the model."""
