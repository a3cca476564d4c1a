"""Which calls the chat counts as in the background, from engine events alone."""

from __future__ import annotations

from asynclm_tui.core.api.delivery import CallBackgrounded, ResultHeld
from asynclm_tui.core.api.enums import (
    CallStatus,
    Deliver,
    DeliverIdle,
    InterruptKind,
    Mode,
    StopReason,
)
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    Event,
    HeldResults,
    HeldState,
    Interrupt,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.core.decode.due_calls import BACKGROUND_NOTE
from asynclm_tui.core.tools.executor import AT_EXIT
from asynclm_tui.ui.delivery_words import next_delivery, result_turn_text
from asynclm_tui.ui.state import ChatState

NOTE = BACKGROUND_NOTE


def done(t: float, reason: StopReason = StopReason.EOS) -> TurnDone:
    return TurnDone(t, reason, 100, 20, 0, 120, 2048, 1000.0, 900.0, 20.0, "")


def issued(t: float, call_id: str) -> list[Event]:
    return [
        CallIssued(t, call_id, "build", (), {}, True, 5000.0),
        CallUpdated(t, call_id, CallStatus.RUNNING),
    ]


def play(events: list[Event]) -> ChatState:
    state = ChatState()
    for event in events:
        state.apply(event)
    return state


FIRST: list[Event] = [
    TurnStarted(1.0, 1, Mode.ASYNC, "Build it."),
    *issued(1.2, "b1"),
    CallBackgrounded(1.5, "b1", Deliver.INTERRUPT, DeliverIdle.ANSWER),
    Interrupt(1.5, "b1", NOTE, 20, 0.0, kind=InterruptKind.BACKGROUND),
    done(2.0),
]


def test_the_news_that_a_call_runs_on_is_not_its_result() -> None:
    state = play(FIRST)
    call = state.calls["b1"]
    assert call.in_background and call.background_t == 1.5
    assert call.landed_t is None and call.deliver_idle is DeliverIdle.ANSWER
    assert state.background_calls() == [call] and state.foreground_calls() == []


def test_a_result_turn_takes_the_call_out_of_the_background() -> None:
    state = play(
        [
            *FIRST,
            CallFinished(126.0, "b1", True, 124_800.0, CallStatus.DONE, "built"),
            ResultHeld(126.0, "b1", DeliverIdle.ANSWER),
            TurnStarted(126.1, 2, Mode.ASYNC, "", started_by=("b1",)),
        ]
    )
    call = state.calls["b1"]
    assert call.in_background and call.result_held is DeliverIdle.ANSWER
    assert state.turns[1].started_by == ("b1",)
    text = result_turn_text(state.calls, ("b1", "x9"), 126.1)
    assert text == "⚙ build b1 finished after 2m 04s · x9 finished"
    state.apply(Interrupt(126.2, "b1", "built", 5, 0.1))
    assert not call.in_background and call.landed_turn == 2 and call.result_held is None
    # The carried lane: in turn 2 it was still waiting when the turn began.
    assert state.carried_into(state.turns[1]) == [call]


def test_a_delivery_changed_mid_answer_does_not_put_the_call_in_the_background() -> None:
    state = play(
        [
            TurnStarted(1.0, 1, Mode.ASYNC, "Build it."),
            *issued(1.2, "b1"),
            CallBackgrounded(1.3, "b1", Deliver.INTERRUPT, DeliverIdle.SILENT),
        ]
    )
    call = state.calls["b1"]
    assert call.deliver_idle is DeliverIdle.SILENT and not call.in_background
    assert state.foreground_calls() == [call]


def test_a_stopped_answer_holds_its_calls_back_instead() -> None:
    state = play(
        [
            TurnStarted(1.0, 1, Mode.ASYNC, "Build it."),
            *issued(1.2, "b1"),
            done(2.0, StopReason.STOPPED),
            HeldResults(2.0, ("b1",), HeldState.HELD),
        ]
    )
    assert state.background_calls() == []
    assert state.foreground_calls() == [state.calls["b1"]]


def test_an_answer_that_ends_by_itself_leaves_a_held_result_in_the_background() -> None:
    # A when_idle result that landed mid-answer waits for the answer's end.
    state = play(
        [
            TurnStarted(1.0, 1, Mode.ASYNC, "Build it."),
            *issued(1.2, "b1"),
            CallFinished(1.4, "b1", True, 200.0, CallStatus.DONE, "built"),
            ResultHeld(1.4, "b1", DeliverIdle.NOTIFY),
            done(2.0),
        ]
    )
    call = state.calls["b1"]
    assert call.in_background and call.background_t == 2.0


def test_the_savings_of_an_answer_count_only_its_own_time() -> None:
    state = play([*FIRST, CallFinished(126.0, "b1", True, 124_800.0, CallStatus.DONE, "built")])
    savings = state.savings(state.turns[0], 200.0)
    assert abs(savings.calls_ms - 800.0) < 1e-6  # 1.2 s to the answer's end at 2.0 s


def test_the_delivery_key_cycles_through_the_three() -> None:
    order = [DeliverIdle.ANSWER]
    for _ in range(3):
        order.append(next_delivery(order[-1]))
    assert order == [DeliverIdle.ANSWER, DeliverIdle.NOTIFY, DeliverIdle.SILENT, DeliverIdle.ANSWER]


def test_a_call_that_ended_with_the_app_is_not_counted_as_running_on() -> None:
    cut = CallFinished(9.0, "b1", False, 7800.0, CallStatus.CANCELLED, f"error: {AT_EXIT}")
    state = play([*FIRST, cut])
    assert not state.calls["b1"].in_background and state.background_calls() == []
    held = play(
        [*FIRST, CallFinished(9.0, "b1", True, 7800.0), ResultHeld(9.0, "b1", DeliverIdle.NOTIFY)]
    )
    assert held.background_calls() == [held.calls["b1"]]  # finished, its result waiting
