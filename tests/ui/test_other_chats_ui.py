"""A chat left with a call in the background (issue 31), in the app: the call
runs on, a toast says when it ends and where its result waits, and opening
that chat from the saved chats gets the model's report there; opened while
the call still runs, the chat shows it running, not interrupted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_background_calls import (
    CALL,
    Gate,
    chat,
    grouped,
    row_text,
    send,
    toasts,
    tools,
    turn_over,
)
from textual.pilot import Pilot
from uiharness import wait_until

from asynclm_tui.ui.app import AsyncLMApp
from asynclm_tui.ui.widgets.transcript import ResultTurnEntry

TURNS = [CALL, "Hello to you.", "The build you asked for finished: built."]


async def leave_for_a_new_chat(app: AsyncLMApp, pilot: Pilot[Any]) -> int:
    """Build, then Ctrl+N twice; the id of the chat left behind."""
    await send(app, pilot, "Build it.")
    await wait_until(pilot, turn_over(app, 1), 10, "the first answer")
    await wait_until(pilot, lambda: grouped(app) == ["b1"], 5, "the background group")
    recorder = app.sessions.recorder if app.sessions else None
    assert recorder is not None
    recorder.flush()
    first = recorder.session_id
    assert first is not None
    await pilot.press("ctrl+n")
    assert any("they go on, and their results wait in this chat" in t for t in toasts(app))
    await pilot.press("ctrl+n")
    await wait_until(pilot, lambda: not app.state.turns, 5, "the new chat")
    await send(app, pilot, "Hi.")
    await wait_until(pilot, turn_over(app, 1), 10, "the new chat's answer")
    return first


async def test_a_left_chats_result_is_announced_and_reported_when_it_is_opened(
    tmp_path: Path,
) -> None:
    gate = Gate()
    async with chat(TURNS, tools(gate), db=tmp_path / "s.db") as (app, pilot, _):
        first = await leave_for_a_new_chat(app, pilot)
        gate.open()
        await wait_until(
            pilot,
            lambda: any(
                "build b1 ended: its result waits in the chat “Build it.”" in t for t in toasts(app)
            ),  # fmt: skip
            10,
            "the toast",
        )
        assert len(app.state.turns) == 1  # nothing of it reached this chat
        await app.open_saved(first)
        await wait_until(pilot, turn_over(app, 2), 10, "the report in the chat opened again")
        assert app.state.turns[1].started_by == ("b1",)
        (marker,) = app.chat.query(ResultTurnEntry)
        assert str(marker.content).startswith("⚙ build b1 finished")
        assert app.state.calls["b1"].value == "built"


async def test_a_chat_opened_while_its_call_runs_shows_it_running(tmp_path: Path) -> None:
    gate = Gate()
    async with chat(TURNS, tools(gate), db=tmp_path / "s.db") as (app, pilot, _):
        first = await leave_for_a_new_chat(app, pilot)
        await app.open_saved(first)
        await wait_until(pilot, lambda: grouped(app) == ["b1"], 5, "b1 in the background again")
        assert "in background" in row_text(app, "b1")
        assert not app.state.calls["b1"].status.finished  # not "interrupted at exit"
        gate.open()
        await wait_until(pilot, turn_over(app, 2), 10, "the report")
        assert app.state.turns[1].started_by == ("b1",)
        assert app.state.calls["b1"].value == "built"
        assert not [t for t in toasts(app) if "waits in the chat" in t]


async def test_a_chat_left_twice_still_gets_its_running_call_back(tmp_path: Path) -> None:
    gate = Gate()
    turns = [CALL, "Hello to you.", "Hello again.", "The build finished: built."]
    async with chat(turns, tools(gate), db=tmp_path / "s.db") as (app, pilot, _):
        first = await leave_for_a_new_chat(app, pilot)
        await app.open_saved(first)
        await wait_until(pilot, lambda: grouped(app) == ["b1"], 5, "b1 back the first time")
        await pilot.press("ctrl+n", "ctrl+n")
        await wait_until(pilot, lambda: not app.state.turns, 5, "another new chat")
        await send(app, pilot, "Hi again.")
        await wait_until(pilot, turn_over(app, 1), 10, "its answer")
        await app.open_saved(first)
        await wait_until(pilot, lambda: grouped(app) == ["b1"], 5, "b1 back the second time")
        assert not app.state.calls["b1"].status.finished
        gate.open()
        await wait_until(pilot, turn_over(app, 2), 10, "the report")
        assert app.state.calls["b1"].value == "built"
