"""A resumed chat is drawn as it was: transcript, chips, calls, timeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static
from uiharness import SIZE, ui_settings, wait_until

from asynclm_tui.core.api.events import SendMessage
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.decode.from_settings import build_engine
from asynclm_tui.core.sessions.recorder import resume_into
from asynclm_tui.core.sessions.saving import open_chat_sessions
from asynclm_tui.core.sessions.store import SessionStore, StoredSession
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.lab.bench.open_chat import SYSTEM
from asynclm_tui.lab.bench.open_chat import record_chat as record
from asynclm_tui.ui import replay
from asynclm_tui.ui.app import AsyncLMApp, create_app
from asynclm_tui.ui.chat.screen import HISTORY_GROUP
from asynclm_tui.ui.widgets.transcript import AssistantEntry, Chip, UserEntry


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
    sessions = open_chat_sessions(engine, db, session_id=None, latest=True, save=True)
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
    sessions = open_chat_sessions(engine, db, session_id=sid, latest=False, save=True)
    app = create_app(settings, engine, sessions=sessions)
    try:
        async with app.run_test(size=SIZE) as pilot:
            queue, view = app.chat.steering.queue, app.chat.queue_view
            await wait_until(pilot, lambda: app.chat.loaded, 10, "the model")
            assert [i.text for i in queue.items] == ["then the weather", "and save a note"]
            await pilot.pause()
            assert view.display and "then the weather" in str(view._rows.content)
            assert backend.text().count("then the weather") == 0  # not sent on load
            # The next answer ends cleanly, and the queue goes out after it, in order.
            app.chat.prompt.load_text("hello again")
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: (
                    not queue.items and not app.chat.generating and engine.snapshot().turns == 5
                ),
                20,
                "the queue to be sent",
            )
            text = backend.text()
            assert (
                text.index("hello again")
                < text.index("then the weather")
                < text.index("and save a note")
            )
    finally:
        engine.close()
        assert sessions.recorder is not None
        sessions.recorder.close()
    assert SessionStore(db).load(sid).queued == []


LONG = 40
"""Turns of a chat long enough that, one turn per batch, drawing it spans many paints."""


def open_long_chat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: ScriptedBackend
) -> tuple[AsyncLMApp, Engine]:
    """A saved chat of LONG turns, opened with older turns drawn one per batch."""
    monkeypatch.setattr(replay, "BATCH_TURNS", 1)
    db = tmp_path / "s.db"
    record(db, LONG)
    settings = ui_settings()
    engine = Engine(settings, ToolRegistry(), backend.factory())
    sessions = open_chat_sessions(engine, db, session_id=None, latest=True, save=False)
    return create_app(settings, engine, sessions=sessions), engine


def drawn_turns(app: AsyncLMApp) -> list[int]:
    return [e.turn for e in app.chat.query(AssistantEntry)]


def replaying(app: AsyncLMApp) -> bool:
    """A replay holds full garbage collections off."""
    return any(h.startswith("replay") for h in app.chat.quiet_gc.holders)


def history_drawing(app: AsyncLMApp) -> bool:
    return any(w.group == HISTORY_GROUP and w.is_running for w in app.chat.workers)


async def test_a_long_chat_shows_its_last_turns_first_then_the_older_ones_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, engine = open_long_chat(tmp_path, monkeypatch, ScriptedBackend(["Sure."]))
    try:
        async with app.run_test(size=SIZE) as pilot:
            seen: list[list[int]] = []
            held: list[bool] = []  # full collections held off while the turns are drawn

            def all_drawn() -> bool:
                seen.append(drawn_turns(app))
                if len(seen[-1]) < LONG:
                    held.append(replaying(app))
                return len(seen[-1]) == LONG

            await wait_until(pilot, all_drawn, 60, "every turn drawn")
            assert held and all(held)
            await wait_until(
                pilot, lambda: not app.chat.quiet_gc.holders, 10, "full collections back"
            )
            # Every step on the way was the newest turns, in order: the reader
            # never sees a gap or a turn out of place.
            assert all(s == list(range(LONG - len(s) + 1, LONG + 1)) for s in seen)
            assert any(len(s) < LONG for s in seen), "the older turns were not drawn later"
            await pilot.pause()
            kinds = [
                type(w).__name__
                for w in app.chat.transcript.children
                if type(w).__name__ in ("UserEntry", "AssistantEntry")
            ]
            assert kinds == ["UserEntry", "AssistantEntry"] * LONG
            first = next(iter(app.chat.query(AssistantEntry)))
            chips = [str(c.content) for c in first.query(Chip)]
            assert any("c1 → slept 1 ms · took 280 ms" in c for c in chips), chips
            assert [r.record.id for r in app.chat.calls.rows] == [
                f"c{n}" for n in range(1, LONG + 1)
            ]
            assert app.chat.transcript.is_vertical_scroll_end
            assert app.chat.calls.selected == LONG - 1  # the newest call
    finally:
        engine.close()


async def test_a_message_sent_while_older_turns_are_drawn_lands_after_the_saved_chat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = ScriptedBackend(["Here is the next answer."])
    app, engine = open_long_chat(tmp_path, monkeypatch, backend)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot, lambda: app.chat.loaded and not app.chat.warming, 30, "the model"
            )
            assert history_drawing(app), "drawing ended before the message could be sent"
            app.chat.prompt.load_text("one more question")
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: (
                    len(drawn_turns(app)) == LONG + 1
                    and not app.chat.generating
                    and not history_drawing(app)
                ),
                60,
                "the answer and the older turns",
            )
            assert drawn_turns(app) == list(range(1, LONG + 2))
            last = list(app.chat.query(AssistantEntry))[-1]
            assert "Here is the next answer." in last.markdown
            assert list(app.chat.query(UserEntry))[-1].content.plain == "one more question"
    finally:
        engine.close()


async def test_a_new_chat_stops_the_drawing_of_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, engine = open_long_chat(tmp_path, monkeypatch, ScriptedBackend(["Sure."]))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.chat.loaded, 30, "the model")
            assert history_drawing(app)
            await pilot.press("ctrl+n", "ctrl+n")
            await wait_until(pilot, lambda: not history_drawing(app), 30, "drawing to stop")
            await pilot.pause()
            assert drawn_turns(app) == []
            assert not replaying(app)
            assert app.chat.calls.rows == []
    finally:
        engine.close()


async def test_a_reader_scrolled_up_keeps_their_place_while_older_turns_arrive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, engine = open_long_chat(tmp_path, monkeypatch, ScriptedBackend(["Sure."]))
    try:
        async with app.run_test(size=SIZE) as pilot:
            transcript = app.chat.transcript
            await wait_until(pilot, lambda: transcript.max_scroll_y > 20, 30, "a scrolled view")
            assert history_drawing(app), "drawing ended before the reader scrolled"
            transcript.scroll_to(y=transcript.max_scroll_y - 20, animate=False, immediate=True)
            await pilot.pause()
            y = transcript.scroll_y
            top = next(c for c in transcript.displayed_children if c.virtual_region.bottom > y)
            offset = y - top.virtual_region.y
            await wait_until(pilot, lambda: not history_drawing(app), 60, "every turn drawn")
            await pilot.pause()
            assert len(drawn_turns(app)) == LONG
            assert transcript.scroll_y - top.virtual_region.y == offset
            assert transcript.scroll_y > y  # moved with the turns drawn above
    finally:
        engine.close()
