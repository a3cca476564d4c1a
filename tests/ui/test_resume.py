"""A resumed chat is drawn as it was: transcript, chips, calls, timeline."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest
from textual.widgets import Static
from uiharness import SIZE, ui_settings, wait_until

from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.engine import Engine
from asynclm_tui.core.events import SendMessage
from asynclm_tui.core.sessions.recorder import resume_into
from asynclm_tui.core.sessions.store import SessionStore, StoredSession
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.runtime import build_engine, open_chat_sessions
from asynclm_tui.ui.app import create_app
from asynclm_tui.ui.widgets.transcript import AssistantEntry, Chip, UserEntry
from tests.sessions.helpers import SYSTEM, record


def no_fail(message: str) -> NoReturn:
    raise AssertionError(message)


def assert_context_loaded(stored: StoredSession) -> None:
    """An engine given the saved chat continues it: the next prompt holds
    the saved messages, turns count on, and its call ids stay taken."""
    backend = ScriptedBackend(["[CALL] c2 [HEAD] echo(text='x') [END] Fine."])
    engine = Engine(ui_settings(), ToolRegistry(), backend.factory())
    resume_into(engine, stored)
    engine.post(SendMessage("And now?"))
    engine.start()
    try:
        assert engine.wait_loaded(10) and engine.wait_idle(10)
        assert engine.snapshot().turns == 4
    finally:
        engine.close()
    saved = backend.render_chat(stored.messages()).removesuffix("<|im_start|>assistant\n")
    assert backend.text().startswith(saved)
    assert "[INTR] c2 [HEAD] error:" in backend.text()
    assert "already" in backend.text()


async def test_continue_draws_the_saved_chat_and_loads_its_context(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    sid = record(db, 3, last_done=False)
    settings = ui_settings()
    engine = build_engine(settings, interactive=True)
    sessions = open_chat_sessions(engine, db, session_id=None, latest=True, save=True,
                                  fail=no_fail)
    assert sessions.resumed is not None and sessions.resumed.info.id == sid
    stored = SessionStore(db).load(sid)
    assert stored.messages()[0]["content"] == SYSTEM
    assert_context_loaded(stored)
    app = create_app(settings, engine, start_engine=False, sessions=sessions)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            chat = app.chat
            assert len(chat.query(UserEntry)) == 3
            entries = list(chat.query(AssistantEntry))
            assert [e.turn for e in entries] == [1, 2, 3]
            chips = [str(c.content) for c in entries[0].query(Chip)]
            assert any("c1 = sleep(ms=1)" in c for c in chips)
            assert any("c1 → slept 1 ms · took 280 ms" in c for c in chips)
            assert any("you, mid-answer: be brief" in c for c in chips)
            last = [str(c.content) for c in entries[2].query(Chip)]
            assert any("cut off" in c for c in last)
            assert entries[0].raw_text == stored.turns[0].raw_text
            assert len(chat.calls.rows) == 3
            assert chat.state.calls["c3"].status.value == "cancelled"
            assert chat.state.savings(chat.state.turns[0], 0.0).calls_ms == pytest.approx(280)
            notices = [str(n.content) for n in chat.query(Static).filter(".notice")]
            assert any("Continuing chat" in n for n in notices)
            assert not chat.generating
    finally:
        engine.close()
        assert sessions.recorder is not None
        sessions.recorder.close()


async def test_messages_queued_before_a_crash_come_back_queued_not_sent(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    sid = record(db, 2, last_done=False)  # the answer was cut off
    store = SessionStore(db)
    with store.transaction():
        store.save_queued(sid, ["then the weather", "and save a note"])
    store.close()
    backend = ScriptedBackend(["Sure."])
    settings = ui_settings()
    engine = Engine(settings, ToolRegistry(), backend.factory())
    sessions = open_chat_sessions(engine, db, session_id=sid, latest=False, save=True,
                                  fail=no_fail)
    app = create_app(settings, engine, sessions=sessions)
    try:
        async with app.run_test(size=SIZE) as pilot:
            control = app.chat.control
            await wait_until(pilot, lambda: app.chat.loaded, 10, "the model")
            assert [i.text for i in control.queue.items] == ["then the weather",
                                                             "and save a note"]
            await pilot.pause()
            assert control.view.display and "then the weather" in str(control.view._rows.content)
            assert backend.text().count("then the weather") == 0  # not sent on load
            # The next answer ends cleanly, and the queue goes out after it, in order.
            app.chat.prompt.load_text("hello again")
            await pilot.press("enter")
            await wait_until(pilot, lambda: not control.queue.items and not app.chat.generating
                             and engine.snapshot().turns == 5, 20, "the queue to be sent")
            text = backend.text()
            assert text.index("hello again") < text.index("then the weather") < text.index(
                "and save a note")
    finally:
        engine.close()
        assert sessions.recorder is not None
        sessions.recorder.close()
    assert SessionStore(db).load(sid).queued == []
