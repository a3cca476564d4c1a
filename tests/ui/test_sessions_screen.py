"""The saved-chats screen: search, open, rename, delete (with a question)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable
from uiharness import SIZE, ui_settings, wait_until

from asynclm_tui.core.decode.from_settings import build_engine
from asynclm_tui.core.sessions.recorder import ChatSessions, Recorder
from asynclm_tui.core.sessions.store import SessionStore
from asynclm_tui.lab.bench.open_chat import record_chat as record
from asynclm_tui.ui.app import create_app
from asynclm_tui.ui.screens.sessions import ConfirmScreen, SessionsScreen
from asynclm_tui.ui.widgets.transcript import AssistantEntry, UserEntry


async def test_browse_search_rename_delete_and_open(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    one = record(db, 1)
    two = record(db, 2)
    three = record(db, 3)
    SessionStore(db).rename(one, "about ducks")
    settings = ui_settings()
    engine = build_engine(settings, interactive=True)
    recorder = Recorder(db)
    engine.subscribe(recorder)
    app = create_app(settings, engine, start_engine=False, sessions=ChatSessions(db, recorder))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen), 5)
            screen = app.screen
            assert isinstance(screen, SessionsScreen)
            table = screen.query_one(DataTable)
            assert table.row_count == 3
            await pilot.press(*"ducks")
            await wait_until(pilot, lambda: table.row_count == 1, 5, "search")
            await pilot.press(*["backspace"] * 5)
            await wait_until(pilot, lambda: table.row_count == 3, 5, "cleared search")
            # Newest first; the cursor stayed on the chat found; rename chat two above it.
            assert screen.selected() is not None and screen.selected().id == one  # type: ignore[union-attr]
            await pilot.press("up")
            assert screen.selected() is not None and screen.selected().id == two  # type: ignore[union-attr]
            await pilot.press("ctrl+r")
            await pilot.pause()
            await pilot.press(*["ctrl+u"])
            await pilot.press(*"renamed", "enter")
            await wait_until(
                pilot, lambda: SessionStore(db).load(two).info.title == "renamed", 5, "rename"
            )
            # Delete asks first; "n" keeps it, "y" deletes.
            await pilot.press("ctrl+d")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5)
            await pilot.press("n")
            await pilot.pause()
            assert len(SessionStore(db).list_sessions()) == 3
            await pilot.press("ctrl+d")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5)
            await pilot.press("y")
            await wait_until(pilot, lambda: table.row_count == 2, 5, "delete")
            assert [s.id for s in SessionStore(db).list_sessions()] == [three, one]
            # Open chat three: its three turns are drawn and the model gets them.
            await pilot.press("up", "enter")
            await wait_until(pilot, lambda: len(app.chat.query(AssistantEntry)) == 3, 10)
            assert len(app.chat.query(UserEntry)) == 3
            recorder.flush()
            assert recorder.session_id == three  # its next turn is saved there
    finally:
        engine.close()
        recorder.close()
