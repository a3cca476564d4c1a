"""A continued chat shows its calls as they were shown live: a call that ran
and failed ran (its time, its bar, its chip's run time), a call that never
started never ran."""

from __future__ import annotations

import time
from pathlib import Path

from uiharness import SIZE, ui_settings, wait_until

from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.sessions.saving import open_chat_sessions
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.lab.bench.open_chat import record_chat as record
from asynclm_tui.ui.app import AsyncLMApp, create_app
from asynclm_tui.ui.widgets.calls_panel import CallRow
from asynclm_tui.ui.widgets.transcript import AssistantEntry, Chip

SCRIPT = (
    "[CALL] f1 [HEAD] flaky() [END] [CALL] n1 [HEAD] nap() [END] "
    "[CALL] u1 [HEAD] nosuch() [END] Checking. [TRAP][END] Done."
)


def flaky() -> str:
    """Runs a while, then fails."""
    time.sleep(0.35)
    raise RuntimeError("the disk is full")


def nap() -> str:
    """Runs a while, then answers."""
    time.sleep(0.35)
    return "rested"


def registry() -> ToolRegistry:
    tools = ToolRegistry()
    tools.add_function("flaky", flaky, description="test tool", estimated_ms=100)
    tools.add_function("nap", nap, description="test tool", estimated_ms=100)
    return tools


def shown(app: AsyncLMApp) -> dict[str, object]:
    """What the chat claims about each call: panel row, timeline record, chips."""
    chat = app.chat
    rows = {r.record.id: str(r._body.content) for r in chat.query(CallRow)}
    starts = {cid: c.started_t is not None for cid, c in chat.state.calls.items()}
    entry = list(chat.query(AssistantEntry))[-1]
    chips = sorted(str(c.content) for c in entry.query(Chip))
    return {"rows": rows, "started": starts, "chips": chips}


async def test_a_continued_chat_shows_its_calls_as_they_ran(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    settings = ui_settings()
    engine = Engine(settings, registry(), ScriptedBackend([SCRIPT]).factory())
    sessions = open_chat_sessions(engine, db, session_id=None, latest=False, save=True)
    app = create_app(settings, engine, sessions=sessions)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.chat.status_text("state") == "ready", 10, "ready")
            app.chat.prompt.load_text("Try the tools.")
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: (
                    not app.chat.generating
                    and len(app.chat.state.calls) == 3
                    and all(c.status.finished for c in app.chat.state.calls.values())
                ),
                20,
                "the answer and its calls",
            )
            await pilot.pause()
            live = shown(app)
    finally:
        engine.close()
        assert sessions.recorder is not None
        sessions.recorder.close()
    rows = live["rows"]
    assert isinstance(rows, dict)
    assert "failed" in rows["f1"] and "never ran" not in rows["f1"]
    assert "never ran" not in rows["n1"]
    assert "failed, never ran" in rows["u1"]  # an unknown tool: nothing ran

    engine = Engine(settings, registry(), ScriptedBackend(["Ok."]).factory())
    sessions = open_chat_sessions(engine, db, session_id=None, latest=True, save=False)
    assert sessions.resumed is not None
    app = create_app(settings, engine, start_engine=False, sessions=sessions)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: len(app.chat.query(CallRow)) == 3, 10, "the calls")
            await pilot.pause()
            assert shown(app) == live
    finally:
        engine.close()


async def test_a_call_cut_off_at_exit_shows_it_ran_until_the_last_thing_saved(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    record(db, 1, last_done=False)  # c1 started at 1.22 s; the last event is at 1.31 s
    settings = ui_settings()
    engine = Engine(settings, ToolRegistry(), ScriptedBackend(["Ok."]).factory())
    sessions = open_chat_sessions(engine, db, session_id=None, latest=True, save=False)
    app = create_app(settings, engine, start_engine=False, sessions=sessions)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: len(app.chat.query(CallRow)) == 1, 10, "the call")
            await pilot.pause()
            (row,) = app.chat.query(CallRow)
            text = str(row._body.content)
            assert "cancelled" in text and "never ran" not in text and "90 ms" in text
            assert app.chat.state.calls["c1"].started_t == 1.22
    finally:
        engine.close()
