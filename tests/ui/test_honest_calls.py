"""What the calls panel and the timeline claim about a call: only what happened."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "snapshots"))

from replay import LOADED, _text, play, replay_app  # noqa: E402

from asynclm_tui.core.api.enums import CallStatus, Mode, StopReason  # noqa: E402
from asynclm_tui.core.api.events import (  # noqa: E402
    CallFinished,
    CallIssued,
    CallUpdated,
    Event,
    Prefilled,
    Token,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.ui.state import ChatState  # noqa: E402
from asynclm_tui.ui.widgets.calls_panel import CallRow  # noqa: E402
from asynclm_tui.ui.widgets.timeline_chart import call_label  # noqa: E402

STOPPED: list[Event] = [
    *LOADED,
    TurnStarted(1.0, 1, Mode.ASYNC, "Wait 30 seconds, then tell me."),
    Prefilled(1.2, 100, 100, 200.0),
    Token(1.3, "[CALL] s [HEAD] sleep(ms=30000) [END]", ""),
    CallIssued(1.4, "s", "sleep", (), {"ms": 30000}, True, 30000.0),
    CallUpdated(1.4, "s", CallStatus.RUNNING),
    *_text(1.5, "Waiting for the timer while I write this."),
    TurnDone(2.0, StopReason.STOPPED, 100, 20, 20, 120, 2048, 1000.0, 600.0, 30.0, ""),
    # the user cancels the call 3.3 s in: it never reached the model
    CallFinished(4.7, "s", False, 3300.0, CallStatus.CANCELLED, "cancelled"),
]


def test_a_cancelled_call_that_never_landed_saves_nothing() -> None:
    state = ChatState()
    for event in STOPPED:
        state.apply(event)
    savings = state.savings(state.turns[-1], 5.0)
    assert savings.calls_ms == 0 and savings.saved_ms == 0


def test_labels_drop_arguments_whole_rather_than_cut_a_number() -> None:
    assert call_label("sleep1", "sleep", "ms=30000", 24) == "sleep1 sleep(ms=30000)"
    label = call_label("w2", "weather", "city='Paris', units='metric'", 27)
    assert label == "w2 weather(city='Paris', …)"
    assert call_label("w2", "weather", "ms=300000000000000000", 16) == "w2 weather(…)"


async def test_a_cancelled_call_shows_how_far_it_got_not_a_full_bar() -> None:
    app = replay_app(STOPPED)
    async with app.run_test(size=(160, 45)) as pilot:
        await play(pilot)
        row = next(r for r in app.chat.query(CallRow) if r.record.id == "s")
        text = str(row._body.content)
        assert "cancelled" in text and "3.30 s" in text
        assert "█" * 12 not in text and "░" in text


async def test_a_saved_call_that_ran_is_not_shown_as_never_run() -> None:
    # A resumed chat's calls carry their run time but no start time.
    events = [
        *LOADED,
        TurnStarted(1.0, 1, Mode.ASYNC, "What time is it?"),
        CallIssued(1.1, "c", "clock", (), {}, True, 50.0),
        CallFinished(1.5, "c", True, 350.0, CallStatus.DONE, "12:00"),
    ]
    app = replay_app(events)
    async with app.run_test(size=(160, 45)) as pilot:
        await play(pilot)
        row = next(r for r in app.chat.query(CallRow) if r.record.id == "c")
        text = str(row._body.content)
        assert "never ran" not in text and "350 ms" in text
