"""Calls that outlive their answer, in the chat: grouped in the calls panel,
counted in the status bar, a turn of their own marked by the call that
started it, a toast for a ``notify`` result, the panel's key that changes a
call's delivery, and the timeline drawing a call across turns.

The scripted backend writes the answers; the tools are gates a test opens.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from uiharness import SIZE, ui_settings, wait_until

from asynclm_tui.core.api.enums import DeliverIdle, StopReason
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.sessions.saving import open_chat_sessions
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.ui.app import AsyncLMApp, create_app
from asynclm_tui.ui.chat.status import IDLE_TITLE
from asynclm_tui.ui.screens.timeline import TimelineScreen
from asynclm_tui.ui.widgets.call_row import CallRow
from asynclm_tui.ui.widgets.timeline_chart import TurnTimeline
from asynclm_tui.ui.widgets.transcript import Chip, ResultTurnEntry, UserEntry

CALL = "[CALL] b1 [HEAD] build() [END] I will tell you when it is done.<eos> Noted."
LONG = " ".join(f"Line {i} of the report." for i in range(150))


class Gate:
    """A tool that returns only when the test opens it."""

    def __init__(self, value: str = "built") -> None:
        self.opened = threading.Event()
        self.value = value

    def __call__(self) -> str:
        self.opened.wait(30)
        return self.value

    def open(self) -> None:
        self.opened.set()


def tools(gate: Gate, **delivery: Any) -> ToolRegistry:
    registry = ToolRegistry()
    registry.add_function("build", gate, description="a slow build", estimated_ms=5000, **delivery)
    return registry


@asynccontextmanager
async def chat(
    turns: list[str], registry: ToolRegistry, step_s: float = 0.0, db: Path | None = None
) -> AsyncIterator[tuple[AsyncLMApp, Pilot[Any], Engine]]:
    """The app on the scripted backend; answers end without waiting for calls
    (``db``: chats are saved there)."""
    settings = ui_settings(**{"tools.wait_at_end_s": 0})
    engine = Engine(settings, registry, ScriptedBackend(turns, step_s=step_s).factory())
    sessions = None
    if db is not None:
        sessions = open_chat_sessions(engine, db, session_id=None, latest=False, save=True)
    app = create_app(settings, engine, sessions=sessions)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.chat.status_text("state") == "ready", 10, "ready")
            yield app, pilot, engine
    finally:
        await asyncio.to_thread(engine.close)


async def send(app: AsyncLMApp, pilot: Pilot[Any], text: str) -> None:
    app.chat.prompt.load_text(text)
    await pilot.press("enter")


def turn_over(app: AsyncLMApp, n: int) -> Callable[[], bool]:
    """The n-th turn has ended and the chat is idle."""
    turns = app.state.turns
    return lambda: len(turns) >= n and turns[n - 1].done is not None and not app.chat.generating


def grouped(app: AsyncLMApp) -> list[str]:
    return [row.record.id for row in app.chat.calls.background_rows]


def row_text(app: AsyncLMApp, call_id: str) -> str:
    return next(r.text for r in app.chat.query(CallRow) if r.record.id == call_id)


def toasts(app: AsyncLMApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_call_that_outlives_its_answer_is_grouped_counted_and_starts_its_own_turn() -> None:
    gate = Gate()
    async with chat([CALL, "The build finished."], tools(gate)) as (app, pilot, engine):
        await send(app, pilot, "Build it.")
        await wait_until(pilot, turn_over(app, 1), 10, "the first answer")
        await wait_until(pilot, lambda: grouped(app) == ["b1"], 5, "the background group")
        chat_screen = app.chat
        assert chat_screen.calls.query_one(".calls-group").display
        assert "in background · when done: answer" in row_text(app, "b1")
        assert chat_screen.status_text("bg") == "1 in background"
        assert chat_screen.status.shown("bg")
        # The answer is over: ready for the next message, Esc does not cancel the build.
        assert chat_screen.status_text("state") == "ready"
        assert chat_screen.prompt.border_title == IDLE_TITLE
        assert not chat_screen.generating
        assert chat_screen.check_action("stop", ()) is True
        assert chat_screen.check_action("cancel_calls", ()) is False
        chips = [str(c.content) for c in chat_screen.query(Chip)]
        assert any("b1 runs on in the background" in c for c in chips)

        gate.open()
        await wait_until(pilot, turn_over(app, 2), 10, "the turn the result started")
        assert app.state.turns[1].started_by == ("b1",)
        (marker,) = chat_screen.query(ResultTurnEntry)
        assert str(marker.content).startswith("⚙ build b1 finished after ")
        assert [str(u.content) for u in chat_screen.query(UserEntry)] == ["Build it."]
        await wait_until(pilot, lambda: grouped(app) == [], 5, "the group to clear")
        assert not chat_screen.calls.query_one(".calls-group").display
        assert "outlived its answer · result went into turn 2" in row_text(app, "b1")
        assert chat_screen.status_text("bg") == ""
        assert not chat_screen.status.shown("bg")


async def test_a_result_turn_is_an_ordinary_turn_that_esc_stops() -> None:
    gate = Gate()
    async with chat([CALL, LONG], tools(gate), step_s=0.005) as (app, pilot, engine):
        await send(app, pilot, "Build it.")
        await wait_until(pilot, turn_over(app, 1), 20, "the first answer")
        gate.open()
        await wait_until(
            pilot,
            lambda: len(app.state.turns) == 2 and app.state.turns[1].n_tokens > 5,
            10,
            "the result turn streaming",
        )
        assert app.chat.generating
        await pilot.press("escape")
        await wait_until(pilot, turn_over(app, 2), 10, "the stop")
        done = app.state.turns[1].done
        assert done is not None and done.reason is StopReason.STOPPED
        assert "[INTR] b1 [HEAD] built [END]" in done.text


async def test_notify_shows_a_toast_and_a_mark_and_waits_for_the_next_message() -> None:
    gate = Gate("42 tests passed")
    registry = tools(gate, deliver_idle=DeliverIdle.NOTIFY)
    async with chat([CALL, "All green."], registry) as (app, pilot, engine):
        await send(app, pilot, "Build it.")
        await wait_until(pilot, lambda: grouped(app) == ["b1"], 10, "the background group")
        assert "when done: notify" in row_text(app, "b1")
        gate.open()
        expected = "build b1 finished: its result goes in with your next message"
        await wait_until(pilot, lambda: expected in toasts(app), 10, "the toast")
        assert "● result waiting" in row_text(app, "b1")
        assert grouped(app) == ["b1"]  # held: still waiting for delivery
        assert app.chat.status_text("bg") == "1 in background"
        assert len(app.state.turns) == 1  # no turn of its own
        await send(app, pilot, "And?")
        await wait_until(pilot, turn_over(app, 2), 10, "the next answer")
        assert app.state.turns[1].user_text == "And?" and not app.state.turns[1].started_by
        await wait_until(pilot, lambda: grouped(app) == [], 5, "the group to clear")
        assert app.state.calls["b1"].landed_turn == 2
        assert app.chat.status_text("bg") == ""


async def test_silent_says_nothing_and_the_panel_shows_it_held() -> None:
    gate = Gate()
    registry = tools(gate, deliver_idle=DeliverIdle.SILENT)
    async with chat([CALL, "Ok."], registry) as (app, pilot, engine):
        await send(app, pilot, "Build it.")
        await wait_until(pilot, lambda: grouped(app) == ["b1"], 10, "the background group")
        gate.open()
        await wait_until(
            pilot, lambda: app.state.calls["b1"].result_held is DeliverIdle.SILENT, 10, "held"
        )
        await pilot.pause()
        assert "result held (silent)" in row_text(app, "b1")
        assert not any("b1" in t for t in toasts(app))
        assert len(app.state.turns) == 1


async def test_the_delivery_key_steps_a_call_and_the_panel_follows_the_engine() -> None:
    gate = Gate()
    async with chat([CALL, "Done."], tools(gate)) as (app, pilot, engine):
        await send(app, pilot, "Build it.")
        await wait_until(pilot, lambda: grouped(app) == ["b1"], 10, "the background group")
        await pilot.press("ctrl+l")
        assert app.focused is app.chat.calls
        assert app.chat.calls.selected_record is app.state.calls["b1"]
        for mode in ("notify", "silent"):
            await pilot.press("r")
            await wait_until(
                pilot, lambda m=mode: f"when done: {m}" in row_text(app, "b1"), 5, mode
            )
        assert app.state.calls["b1"].deliver_idle is DeliverIdle.SILENT
        await pilot.press("r")  # back to answer: the result will start a turn
        await wait_until(pilot, lambda: "when done: answer" in row_text(app, "b1"), 5, "answer")
        gate.open()
        await wait_until(pilot, turn_over(app, 2), 10, "the result's turn")
        assert app.state.turns[1].started_by == ("b1",)
        # Its result is in: nothing left to deliver.
        await pilot.press("r")
        assert any("already in the model's context" in t for t in toasts(app))


async def test_a_delivery_chosen_while_the_answer_runs_applies_when_it_ends() -> None:
    # The engine has not said the call's delivery yet: the key asks it first.
    gate = Gate("ok")
    script = "[CALL] b1 [HEAD] build() [END] " + LONG[:1500]
    async with chat([script, "Unused."], tools(gate), step_s=0.005) as (app, pilot, engine):
        await send(app, pilot, "Build it.")
        await wait_until(pilot, lambda: "b1" in app.state.calls, 10, "the call")
        await pilot.press("ctrl+l")
        assert app.state.calls["b1"].deliver_idle is None  # not said yet
        await pilot.press("r")
        await wait_until(
            pilot, lambda: app.state.calls["b1"].deliver_idle is DeliverIdle.NOTIFY, 5, "notify"
        )
        assert app.state.calls["b1"].background_t is None  # changed while the answer ran
        await pilot.pause()
        assert "if it outlives the answer: notify" in row_text(app, "b1")
        await wait_until(pilot, turn_over(app, 1), 20, "the answer")
        await wait_until(pilot, lambda: grouped(app) == ["b1"], 5, "the background group")
        gate.open()
        expected = "build b1 finished: its result goes in with your next message"
        await wait_until(pilot, lambda: expected in toasts(app), 10, "the toast")
        assert len(app.state.turns) == 1


async def test_the_timeline_draws_a_background_call_across_turns() -> None:
    gate = Gate()
    turns = [CALL, "Meanwhile: hello.", "The build finished."]
    async with chat(turns, tools(gate)) as (app, pilot, engine):
        await send(app, pilot, "Build it.")
        await wait_until(pilot, turn_over(app, 1), 10, "the first answer")
        await send(app, pilot, "Say hello.")  # chatting while it runs
        await wait_until(pilot, turn_over(app, 2), 10, "the second answer")
        assert grouped(app) == ["b1"]
        gate.open()
        await wait_until(pilot, turn_over(app, 3), 10, "the result's turn")
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, TimelineScreen), 5, "timeline")
        await wait_until(pilot, lambda: len(app.screen.query(TurnTimeline)) == 3, 5, "turns")
        charts = list(app.screen.query(TurnTimeline))
        text = [chart.render().plain for chart in charts]  # type: ignore[union-attr]
        first, second, third = text
        lane = next(line for line in first.splitlines() if line.startswith("b1 build"))
        assert lane.rstrip().split("▏")[0].endswith("▸")  # it goes on past its answer
        assert [c.id for c in charts[1].carried] == ["b1"]
        carried = next(line for line in second.splitlines() if line.startswith("↳ b1"))
        assert "━" in carried and "◆" not in carried  # still running through turn 2
        landed = next(line for line in third.splitlines() if line.startswith("↳ b1"))
        assert "◆" in landed  # its result went into turn 3
        assert "in the background" in second  # the legend names the new lanes
