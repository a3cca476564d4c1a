"""Pilot tests of the responsive layout and the calls panel's visibility.

Replayed engine events (no model): the layout is a function of the events,
the terminal size and the keys.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from textual.pilot import Pilot

sys.path.insert(0, str(Path(__file__).parents[1] / "snapshots"))

from replay import LOADED, MID_TURN, _text, play, replay_app, settings, settle  # noqa: E402
from uiharness import wait_until  # noqa: E402

from asynclm_tui.core.api.enums import (
    CallStatus,  # noqa: E402
    Mode,  # noqa: E402
)
from asynclm_tui.core.api.events import (  # noqa: E402
    CallFinished,
    CallIssued,
    CallUpdated,
    Event,
    TurnStarted,
)
from asynclm_tui.ui.app import AsyncLMApp  # noqa: E402
from asynclm_tui.ui.engine_messages import EngineEvent  # noqa: E402
from asynclm_tui.ui.widgets.transcript import AssistantEntry  # noqa: E402


def columns(app: AsyncLMApp) -> int:
    """Columns the transcript's entries get (padding and scrollbar excluded)."""
    return app.chat.transcript.scrollable_content_region.width


def strip_text(app: AsyncLMApp) -> str:
    return str(app.chat.query_one("#calls-strip").render())


@pytest.mark.parametrize(
    ("size", "open_min", "closed_min"),
    [((80, 24), None, 74), ((100, 30), 60, 94), ((120, 30), 70, 110), ((160, 45), 100, 150)],
)
async def test_transcript_width_at_each_size(
    size: tuple[int, int], open_min: int | None, closed_min: int
) -> None:
    app = replay_app(LOADED)
    async with app.run_test(size=size) as pilot:
        await play(pilot)
        narrow = size[0] < 100
        assert app.chat.calls_open is not narrow  # wide terminals start with the panel
        if open_min is not None:
            assert columns(app) >= open_min
            assert app.chat.query_one("#side").region.width > 30
        await pilot.press("f2") if not narrow else None
        await wait_until(pilot, lambda: not app.chat.calls_open, 5, "the panel to close")
        assert columns(app) >= closed_min
        assert app.chat.query_one("#calls-strip").display  # the way back is on screen
        assert app.focused is app.chat.prompt


async def test_narrow_panel_is_a_strip_that_opens_over_the_transcript() -> None:
    app = replay_app(LOADED)
    async with app.run_test(size=(80, 24)) as pilot:
        await play(pilot)
        assert "no calls running" in strip_text(app)
        width = columns(app)
        await pilot.press("f2")
        assert app.chat.calls_open and app.focused is app.chat.calls
        side = app.chat.query_one("#side")
        assert side.region.width > 40 and columns(app) == width  # over, not beside
        await pilot.press("escape")  # back to the input closes the overlay
        await wait_until(pilot, lambda: not app.chat.calls_open, 5, "the overlay to close")
        assert app.focused is app.chat.prompt
        await pilot.press("ctrl+l")
        assert app.chat.calls_open and app.focused is app.chat.calls
        await pilot.press("f2")
        assert not app.chat.calls_open


async def _answer_approval(app: AsyncLMApp, pilot: Pilot[None]) -> None:
    app.post_message(EngineEvent(CallUpdated(4.0, "n", CallStatus.RUNNING)))
    await settle(pilot)


async def test_panel_opens_for_approval_and_closes_after_it() -> None:
    app = replay_app(MID_TURN)
    async with app.run_test(size=(80, 24)) as pilot:
        await play(pilot)
        assert app.chat.calls_open  # opened by itself over the transcript
        assert app.focused is app.chat.prompt  # typing is not interrupted
        assert "1 to approve" in strip_text(app)
        await _answer_approval(app, pilot)
        assert not app.chat.calls_open
        assert "2 running" in strip_text(app)


async def test_approval_leaves_a_hidden_panel_alone_when_configured() -> None:
    cfg = settings()
    cfg.ui.open_calls_for_approval = False
    cfg.ui.calls_panel = "hidden"
    app = replay_app(MID_TURN, cfg)
    async with app.run_test(size=(160, 45)) as pilot:
        await play(pilot)
        assert not app.chat.calls_open
        assert "1 to approve" in strip_text(app)
        assert app.chat.query_one("#calls-strip").has_class("-awaiting")


async def test_user_choice_survives_an_approval() -> None:
    app = replay_app(MID_TURN)
    async with app.run_test(size=(160, 45)) as pilot:
        await play(pilot)
        assert app.chat.calls_open  # shown from the start (ui.calls_panel)
        await _answer_approval(app, pilot)
        assert app.chat.calls_open  # the user's panel is not closed for them


LONG_TURN = [
    *MID_TURN,
    *_text(3.7, " ".join(f"Sentence {i} of a long answer." for i in range(400))),
]


async def test_resize_keeps_text_and_reading_position() -> None:
    app = replay_app(LONG_TURN)
    async with app.run_test(size=(160, 45)) as pilot:
        await play(pilot)
        transcript = app.chat.transcript
        entry = app.chat.query_one(AssistantEntry)
        before = entry.raw_text
        for size in [(80, 24), (100, 30), (160, 45), (80, 24)]:
            await pilot.resize_terminal(*size)
            await settle(pilot)
            assert transcript.scroll_y >= transcript.max_scroll_y  # still following the end
        region = entry.virtual_region_with_margin
        transcript.scroll_to(y=region.y + region.height // 2, animate=False, immediate=True)
        await settle(pilot)

        def place() -> float:
            """How far into the answer the top of the view is."""
            top = entry.virtual_region_with_margin
            assert top.y <= transcript.scroll_y < top.bottom  # the same answer at the top
            return (transcript.scroll_y - top.y) / top.height

        start = place()
        for size in [(100, 30), (160, 45), (80, 24)]:
            await pilot.resize_terminal(*size)
            await settle(pilot)
            assert abs(place() - start) < 0.05, size  # the same part of it, re-wrapped
        assert not transcript.scroll_y >= transcript.max_scroll_y  # not pulled to the end
        assert entry.raw_text == before


def many_calls(n: int) -> list[Event]:
    """``n`` echo calls issued one after another, each finishing with a result."""
    events: list[Event] = [*LOADED, TurnStarted(1.0, 1, Mode.ASYNC, "Echo a lot.")]
    for i in range(n):
        t = 1.1 + i * 0.1
        events += [
            CallIssued(t, f"c{i}", "echo", (), {"text": f"number {i}"}, True, 20.0),
            CallUpdated(t, f"c{i}", CallStatus.RUNNING),
            CallFinished(t + 0.05, f"c{i}", True, 50.0, CallStatus.DONE, f"number {i} " * 8),
        ]
    return events


def row_in_view(app: AsyncLMApp, index: int) -> bool:
    panel = app.chat.calls
    row = panel.rows[index].region
    view = panel.content_region
    return view.y <= row.y and row.bottom <= view.bottom


async def test_the_calls_panel_follows_its_newest_row_until_the_reader_scrolls_up() -> None:
    app = replay_app(many_calls(12))
    async with app.run_test(size=(160, 45)) as pilot:
        await play(pilot)
        panel = app.chat.calls
        assert panel.max_scroll_y > 0  # more rows than fit
        assert row_in_view(app, -1)  # the newest row whole, grown by its result
        panel.scroll_home(animate=False, immediate=True)
        await settle(pilot)
        for event in many_calls(14)[-6:]:  # two more calls
            app.post_message(EngineEvent(event))
        await settle(pilot)
        assert panel.scroll_y == 0  # the reader's place is kept
        assert row_in_view(app, 0)
        panel.scroll_end(animate=False, immediate=True)
        await settle(pilot)
        for event in many_calls(15)[-3:]:
            app.post_message(EngineEvent(event))
        await settle(pilot)
        assert row_in_view(app, -1)  # back at the end: following again
