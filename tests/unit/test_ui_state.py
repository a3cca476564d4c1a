"""The UI's record of turns and calls, folded from engine events (no widgets)."""

from __future__ import annotations

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    HeldResults,
    HeldState,
    Interrupt,
    TurnStarted,
)
from asynclm_tui.ui.state import ChatState


def test_appends_are_spans_and_cut_results_are_counted() -> None:
    state = ChatState()
    state.apply(TurnStarted(0.0, 1, "async", "go"))
    state.apply(CallIssued(0.1, "a", "list_dir", {}))
    state.apply(CallFinished(0.2, "a", True, 5.0, CallStatus.DONE, "x" * 5000))
    # Two interrupts appended by one decode call share one span.
    state.apply(
        Interrupt(1.5, "a", "cut", 270, 0.0, 1000.0, "tool", result_tokens=1079, cut_tokens=823)
    )
    state.apply(Interrupt(1.5, "user", "hi", 5, 0.0, 1000.0, "user"))
    state.apply(Interrupt(2.0, "b", "v", 5, 0.0, 100.0, "error"))
    turn = state.current
    assert turn is not None
    assert turn.appends == [(0.5, 1.5), (1.9, 2.0)]
    call = state.calls["a"]
    assert (call.result_tokens, call.cut_tokens, call.value) == (1079, 823, "x" * 5000)


def test_held_results_follow_the_engine() -> None:
    state = ChatState()
    state.apply(TurnStarted(0.0, 1, "async", "go"))
    state.apply(CallIssued(0.1, "a", "sleep", {}))
    state.apply(HeldResults(0.5, ("a",), HeldState.HELD))
    assert [c.id for c in state.held_calls()] == ["a"]
    state.apply(HeldResults(0.6, ("a",), HeldState.KEPT))
    assert state.held_calls() == [] and state.calls["a"].held is HeldState.KEPT
