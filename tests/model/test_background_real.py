"""Calls that outlive their answer, on the real model (llama-cpp-python).

Teacher-forced text, so the places are exact: a trap waits at most
``tools.wait_at_end_s`` like the answer's end, the model reads at that step
that the call went on in the background and writes on, the answer ends, and
the result later starts a turn whose prompt ends with it, before any token.
With no limit (``asynclm run``'s default) the trap waits for the result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from asynclm_tui.core.api.delivery import CallBackgrounded
from asynclm_tui.core.api.enums import InterruptKind, PauseReason, StopReason
from asynclm_tui.core.api.events import (
    Event,
    Interrupt,
    SendMessage,
    SetTools,
    Token,
    Trapped,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.core.cml.script import Script
from asynclm_tui.core.decode.due_calls import BACKGROUND_NOTE
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.decode.from_settings import build_engine
from tests.conftest import small_settings, tool_registry

pytestmark = pytest.mark.model

SCRIPT = (
    "On it. [CALL] a [HEAD] gate() [END] [TRAP][END] It runs on; I will say when it is done."
    "\n=== turn ===\nIt finished: the gate opened."
)


class Events:
    """The engine's events, with waits on them (no fixed sleeps)."""

    def __init__(self) -> None:
        self.all: list[Event] = []
        self._changed = threading.Condition()
        self.hooks: list[Callable[[Event], None]] = []

    def __call__(self, event: Event) -> None:
        with self._changed:
            self.all.append(event)
            self._changed.notify_all()
        for hook in self.hooks:
            hook(event)

    def wait(self, check: Callable[[Event], bool], timeout: float = 120) -> Event:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((e for e in self.all if check(e)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                assert left > 0, f"timed out; events: {[type(e).__name__ for e in self.all]}"
                self._changed.wait(left)

    def dones(self, n: int) -> list[TurnDone]:
        """The first ``n`` TurnDone events, waiting for them."""
        self.wait(lambda e: sum(isinstance(x, TurnDone) for x in self.all) >= n)
        return [e for e in self.all if isinstance(e, TurnDone)][:n]


Running = tuple[Engine, Events, threading.Event]
"""The started engine, its events, and the gate to open."""


@contextmanager
def engine_with_gate(wait_at_end_s: float | None) -> Iterator[Running]:
    """The real model writing SCRIPT with a ``gate`` tool that returns once opened."""
    opened = threading.Event()

    def gate() -> str:
        opened.wait(120)
        return "opened"

    settings = small_settings()
    settings.tools.wait_at_end_s = wait_at_end_s
    engine = build_engine(settings, script=Script.from_text(SCRIPT))
    tools = tool_registry(settings)
    tools.add_function("gate", gate, description="Waits for the test.", estimated_ms=100)
    engine.post(SetTools(tools))
    events = Events()
    engine.subscribe(events)
    engine.start()
    try:
        assert engine.wait_loaded(120), engine.snapshot().load_error
        yield engine, events, opened
    finally:
        opened.set()
        engine.close()


def test_a_trap_waits_like_the_end_then_the_result_starts_its_own_turn() -> None:
    with engine_with_gate(0.3) as (engine, events, opened):
        engine.post(SendMessage("Open the gate."))
        (first,) = events.dones(1)
        # The answer ended with the gate still closed: nothing waits for it.
        assert not opened.is_set() and first.reason is StopReason.EOS
        assert engine.wait_idle(30) and engine.snapshot().background == ("a",)
        went = events.wait(lambda e: isinstance(e, CallBackgrounded))
        assert isinstance(went, CallBackgrounded) and went.id == "a"
        # The model read the notice at the trap's step, then wrote on.
        assert f"[TRAP][END] [INTR] a [HEAD] {BACKGROUND_NOTE} [END]" in first.text
        assert first.text.endswith("I will say when it is done.")
        assert first.n_past == first.n_prompt + first.n_generated + first.n_injected
        opened.set()
        started = events.wait(lambda e: isinstance(e, TurnStarted) and bool(e.started_by))
        _, report = events.dones(2)
    assert isinstance(started, TurnStarted) and started.started_by == ("a",)
    assert started.text == ""
    # The result is the first thing in the new turn, before any token, and only there.
    assert report.text.lstrip().startswith("[INTR] a [HEAD] opened [END]")
    assert report.text.endswith("It finished: the gate opened.")
    after = events.all[events.all.index(started) :]
    result = next(e for e in after if isinstance(e, Interrupt))
    first_token = next(e for e in after if isinstance(e, Token) and e.text)
    assert after.index(result) < after.index(first_token)
    results = [e for e in events.all if isinstance(e, Interrupt) and e.kind is InterruptKind.TOOL]
    assert [(e.id, e.value) for e in results] == [("a", "opened")]
    assert report.n_past == report.n_prompt + report.n_generated + report.n_injected


def test_without_a_limit_the_trap_waits_for_the_result() -> None:
    with engine_with_gate(None) as (engine, events, opened):

        def open_at_the_trap(event: Event) -> None:
            if isinstance(event, Trapped) and event.reason == PauseReason.TRAP:
                opened.set()

        events.hooks.append(open_at_the_trap)
        engine.post(SendMessage("Open the gate."))
        (first,) = events.dones(1)
    assert "[TRAP][END] [INTR] a [HEAD] opened [END] It runs on" in first.text
    assert BACKGROUND_NOTE not in first.text
    assert not [e for e in events.all if isinstance(e, CallBackgrounded)]
