"""``asynclm --continue`` of a chat whose calls outlived their answers: the
turn a result started is drawn as such (no empty message of the user's), a
call asynclm quit while it ran shows as interrupted at exit, and the model is
told so at the next turn (issue 31)."""

from __future__ import annotations

from pathlib import Path

import pytest

from asynclm_tui.core.api.delivery import CallBackgrounded
from asynclm_tui.core.api.enums import CallStatus, InterruptKind
from asynclm_tui.core.api.events import CallUpdated, TurnDone
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.sessions.recorder import Recorder
from asynclm_tui.core.sessions.saving import open_chat_sessions
from asynclm_tui.core.tools.executor import AT_EXIT
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.lab.bench.open_chat import SYSTEM
from asynclm_tui.ui.app import create_app
from asynclm_tui.ui.widgets.transcript import AssistantEntry, UserEntry
from tests.engine.engine_harness import Gate, scripted
from tests.ui.uiharness import SIZE, ui_settings, wait_until

pytestmark = pytest.mark.ui

FIRST = "Starting the build. [CALL] a [HEAD] build() [END] I will tell you.<eos> Noted."
SECOND = "The build finished. [CALL] t [HEAD] test() [END] Testing it now.<eos> Ok."


def record_quit_with_a_call_running(db: Path) -> None:
    """Turn 1 leaves ``a`` in the background; its result starts turn 2, which
    leaves ``t`` there too; asynclm quits while ``t`` runs."""
    built, tested = Gate("built"), Gate("too late")
    rec = Recorder(db, system=lambda: SYSTEM, interval=0.05)
    try:
        with scripted([FIRST, SECOND], tools={"build": built, "test": tested},
                      **{"tools.wait_at_end_s": 0}) as run:  # fmt: skip
            run.engine.subscribe(rec)
            run.turn("Build it.")
            run.wait_for(CallBackgrounded, id="a")
            built.open()
            run.wait_for(TurnDone, 2)
            run.wait_for(CallBackgrounded, id="t")
            run.wait_for(CallUpdated, id="t", status=CallStatus.RUNNING)
    finally:
        tested.open()
        rec.close()


async def test_continue_draws_the_result_turn_and_tells_the_model_of_the_lost_call(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    record_quit_with_a_call_running(db)
    settings = ui_settings()
    backend = ScriptedBackend(["It was lost; shall I run the tests again?"])
    engine = Engine(settings, ToolRegistry(), backend.factory())
    sessions = open_chat_sessions(engine, db, session_id=None, latest=True, save=False)
    assert sessions.resumed is not None
    assert sessions.resumed.interrupted_at_exit() == ("t",)
    app = create_app(settings, engine, sessions=sessions)
    try:
        async with app.run_test(size=SIZE) as pilot:
            chat = app.chat
            await wait_until(pilot, lambda: len(chat.query(AssistantEntry)) == 2, 10, "replay")
            # One message of the user's: the result started the second turn.
            assert [str(u.content) for u in chat.query(UserEntry)] == ["Build it."]
            assert [t.user_text for t in chat.state.turns] == ["Build it.", ""]
            lost = chat.state.calls["t"]
            assert lost.status is CallStatus.CANCELLED and AT_EXIT in (lost.value or "")
            assert chat.state.calls["a"].status is CallStatus.DONE
            await wait_until(pilot, lambda: chat.status_text("state") == "ready", 10, "ready")
            chat.prompt.load_text("Did the tests pass?")
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: len(chat.state.turns) == 3 and chat.state.turns[-1].done is not None,
                10,
                "the next answer",
            )
            told = [(i, k) for _, i, k in chat.state.turns[-1].interrupts]
            assert told == [("t", InterruptKind.ERROR)]
    finally:
        engine.close()
    assert "[INTR] t [HEAD] error: interrupted at exit" in backend.text()
