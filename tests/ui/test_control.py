"""Pilot tests of steer, queue and stop, and of bounded results, on the real model.

Answers are teacher-forced so calls and their timing are deterministic while
every token still goes through llama.cpp.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from uiharness import running_app, type_text, ui_settings, wait_until

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.api.events import (
    HeldState,
)
from asynclm_tui.ui.app import AsyncLMApp
from asynclm_tui.ui.screens.call_detail import CallDetailScreen
from asynclm_tui.ui.screens.edit_queued import EditQueuedScreen
from asynclm_tui.ui.widgets.transcript import Chip, UserEntry

pytestmark = pytest.mark.model

LONG = " ".join(f"Sentence number {i} keeps the model talking for a while." for i in range(80))


def chips(app: AsyncLMApp) -> list[str]:
    return [str(c.content) for c in app.chat.query(Chip)]


def queued(app: AsyncLMApp) -> list[str]:
    return [item.text for item in app.chat.steering.queue.items]


async def start(app: AsyncLMApp, pilot: Pilot[Any], text: str = "go", tokens: int = 5) -> None:
    """Send ``text`` and wait until the answer streams."""
    await type_text(pilot, text)
    await pilot.press("enter")
    await wait_until(
        pilot,
        lambda: app.state.current is not None and app.state.current.n_tokens > tokens,
        60,
        "streaming",
    )


async def queue(app: AsyncLMApp, pilot: Pilot[Any], text: str) -> None:
    # (pilot key presses are slow while the model streams: insert, then Tab)
    app.chat.prompt.insert(text)
    await pilot.press("tab")


async def test_tab_queues_messages_that_run_in_order_after_the_answer() -> None:
    # The first answer waits for a 3 s call: it is still running while we queue.
    script = (
        "One. [CALL] s [HEAD] sleep(ms=3000) [END] [TRAP][END] Done.\n=== turn ===\nTwo."
        "\n=== turn ===\nThree."
    )
    async with running_app(script) as (app, pilot, engine):
        await start(app, pilot, tokens=1)
        await queue(app, pilot, "first")
        await queue(app, pilot, "second")
        assert queued(app) == ["first", "second"]
        assert app.chat.queue_view.display
        assert app.chat.prompt.text == "" and app.focused is app.chat.prompt
        assert len(app.state.turns) == 1  # nothing reached the running answer
        await wait_until(
            pilot,
            lambda: len(app.state.turns) == 3 and app.state.turns[2].done is not None,
            90,
            "three turns",
        )
        users = [str(u.content) for u in app.chat.query(UserEntry)]
        assert users == ["go", "first", "second"]
        assert queued(app) == [] and not app.chat.queue_view.display
        assert "[INTR] user" not in "".join(t.done.text for t in app.state.turns if t.done)


async def test_tab_in_an_empty_box_still_moves_the_focus() -> None:
    async with running_app("Hi.") as (app, pilot, engine):
        assert app.focused is app.chat.prompt
        await pilot.press("tab")
        assert app.focused is not app.chat.prompt
        assert engine.snapshot().turns == 0


async def test_queued_messages_can_be_edited_and_removed_and_a_stop_gives_them_back() -> None:
    # The answer waits on a long call, so it cannot end (and send the queue)
    # while the test edits; Esc below stops it.
    script = f"One. [CALL] s [HEAD] sleep(ms=60000) [END] [TRAP][END] {LONG}"
    async with running_app(script) as (app, pilot, engine):
        await start(app, pilot)
        for text in ("drop me", "fix me", "keep me"):
            await queue(app, pilot, text)
        await pilot.press("up")  # from the empty box to the queue
        assert app.focused is app.chat.queue_view
        await pilot.press("x")  # removes the selected (first) one
        assert queued(app) == ["fix me", "keep me"]
        await pilot.press("enter")
        assert isinstance(app.screen, EditQueuedScreen)
        await pilot.press("backspace", "backspace", "backspace")  # "fix me" -> "fix"
        await type_text(pilot, "ed")
        await pilot.press("enter")
        assert app.screen is app.chat
        assert queued(app) == ["fixed", "keep me"]
        await pilot.press("escape")  # back to the box
        assert app.focused is app.chat.prompt
        app.chat.prompt.insert("draft")
        await pilot.press("escape")  # stop: queued messages come back, none is sent
        await wait_until(pilot, lambda: not app.chat.generating, 30, "stopped")
        assert queued(app) == []
        assert app.chat.prompt.text == "fixed\n\nkeep me\n\ndraft"
        assert len(app.state.turns) == 1


async def test_escape_stops_then_cancels_and_results_are_held_back() -> None:
    script = f"Start. [CALL] s [HEAD] sleep(ms=30000) [END] {LONG}\n=== turn ===\nFresh."
    async with running_app(script) as (app, pilot, engine):
        await start(app, pilot)
        await wait_until(
            pilot,
            lambda: "s" in app.state.calls and app.state.calls["s"].status is CallStatus.RUNNING,
            60,
            "running",
        )
        assert app.chat.check_action("stop", ()) and not app.chat.check_action("cancel_calls", ())
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.state.calls["s"].held is HeldState.HELD, 30, "held")
        assert app.state.calls["s"].status is CallStatus.RUNNING  # stopping writing only
        assert app.chat.check_action("cancel_calls", ()) and app.chat.check_action(
            "keep_results", ()
        )
        assert any("s still due" in c for c in chips(app))
        assert "held back" in str(app.chat.queue_view.query_one("#queue-held").content)
        await pilot.press("escape")  # the footer's "Cancel calls"
        await wait_until(
            pilot, lambda: app.state.calls["s"].status is CallStatus.CANCELLED, 10, "cancelled"
        )
        await wait_until(
            pilot,
            lambda: any("s → error: cancelled · held back" in c for c in chips(app)),
            10,
            "chip in stopped turn",
        )
        await type_text(pilot, "next")
        await pilot.press("enter")  # not kept: the next answer starts without it
        await wait_until(
            pilot,
            lambda: len(app.state.turns) == 2 and app.state.turns[1].done is not None,
            60,
            "second turn",
        )
        assert app.state.calls["s"].held is HeldState.DROPPED
        done = app.state.turns[1].done
        assert done is not None and "[INTR]" not in done.text
        assert not app.chat.check_action("keep_results", ())


async def test_kept_results_reach_the_next_answer() -> None:
    # Long enough to be still running when Esc lands (the first frame can come
    # a few seconds and a hundred tokens in); the test then waits for it.
    script = f"Start. [CALL] s [HEAD] sleep(ms=8000) [END] {LONG}\n=== turn ===\nThanks."
    async with running_app(script) as (app, pilot, engine):
        await start(app, pilot, tokens=1)
        await wait_until(pilot, lambda: "s" in app.state.calls, 60, "call")
        await pilot.press("escape")
        await wait_until(
            pilot,
            lambda: (
                app.state.calls["s"].held is HeldState.HELD
                and app.state.calls["s"].status is CallStatus.DONE
            ),
            30,
            "held result",
        )
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: app.state.calls["s"].held is HeldState.KEPT, 10, "kept")
        await type_text(pilot, "next")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: len(app.state.turns) == 2 and app.state.turns[1].done is not None,
            60,
            "second turn",
        )
        done = app.state.turns[1].done
        assert done is not None and done.text.startswith(" [INTR] s [HEAD] slept")


async def test_long_results_are_cut_for_the_model_and_shown_whole() -> None:
    settings = ui_settings()
    settings.tools.max_result_tokens = 16
    text = " ".join(f"item{i}" for i in range(60))
    script = f"Listing. [CALL] a [HEAD] echo(text='{text}') [END] {LONG[:300]}"
    async with running_app(script, settings=settings) as (app, pilot, engine):
        await start(app, pilot)
        await wait_until(
            pilot,
            lambda: "a" in app.state.calls and app.state.calls["a"].landed_t is not None,
            60,
            "landed",
        )
        rec = app.state.calls["a"]
        assert rec.value == text and rec.cut_tokens == rec.result_tokens - 16
        # A chip that lands inside a word is drawn once the word ends.
        await wait_until(
            pilot, lambda: any("model saw 16 of" in c for c in chips(app)), 30, "the result chip"
        )
        row = app.chat.calls.rows[0]
        assert row.size.height <= 6  # a preview, not the result (60 lines)
        await pilot.press("ctrl+l", "enter")
        assert isinstance(app.screen, CallDetailScreen)
        assert app.screen.query_one("#call-detail-result").text == text  # type: ignore[attr-defined]
        assert "first 16 of" in str(app.screen.query_one("#call-detail-delivery").content)
        await pilot.press("escape")
        assert app.screen is app.chat
        turn = app.state.current
        assert turn is not None and turn.appends  # appending drawn as its own mark
