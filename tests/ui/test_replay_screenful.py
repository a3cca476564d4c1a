"""A resumed chat draws only the newest turns that fill the screen before its
first paint: the count rests on a lower bound of each turn's rows, checked
here against the rows the real widgets take."""

from __future__ import annotations

from pathlib import Path

import pytest
from uiharness import ui_settings, wait_until

from asynclm_tui.core.api.enums import Mode, StopReason
from asynclm_tui.core.api.events import Event, ModelLoaded, Token, TurnDone, TurnStarted
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.sessions.recorder import Recorder
from asynclm_tui.core.sessions.saving import open_chat_sessions
from asynclm_tui.core.sessions.store import SessionStore
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.lab.bench.open_chat import SYSTEM, chat_turn
from asynclm_tui.ui import replay
from asynclm_tui.ui.app import create_app
from asynclm_tui.ui.replay import least_rows, screenful, turn_events
from asynclm_tui.ui.widgets.transcript import AssistantEntry, NoticeEntry, UserEntry


def text_turn(number: int, prompt: str, answer: str) -> list[Event]:
    t = float(number)
    return [
        TurnStarted(t, number, Mode.ASYNC, prompt),
        Token(t + 0.1, answer, answer),
        TurnDone(t + 0.2, StopReason.EOS, 10, 5, 0, 0, 2048, 1.0, 1.0, 1.0, answer),
    ]


SHAPES: list[tuple[str, str]] = [
    ("a long paragraph", "word " * 300),
    ("paragraphs", "one\n\ntwo\n\nthree"),
    ("soft line breaks, joined by Markdown", "a\nb\nc\nd"),
    ("a code block", "Here:\n\n```python\nx = 1\ny = 2\n```\n\nDone."),
    ("wide characters", "漢字" * 90),
    ("a list", "- one\n- two\n- three"),
    ("nothing", ""),
]


def turns() -> list[list[Event]]:
    out = [chat_turn(1, t0=1.0)]
    for n, (prompt, answer) in enumerate(SHAPES, 2):
        out.append(text_turn(n, prompt, answer))
    out.append(text_turn(len(out) + 1, "a long question " * 30, "Short."))
    return out


@pytest.mark.parametrize("size", [(80, 24), (150, 42)])
async def test_no_turn_takes_fewer_rows_than_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    monkeypatch.setattr(replay, "BATCH_TURNS", 100)
    db = tmp_path / "s.db"
    rec = Recorder(db, system=lambda: SYSTEM, interval=0.05)
    rec(ModelLoaded(0.0, "test.gguf", 2048, 0, False, 1.0))
    for events in turns():
        for event in events:
            rec(event)
    rec.close()
    assert rec.session_id is not None
    stored = [turn_events(t) for t in SessionStore(db).load(rec.session_id).turns]
    settings = ui_settings()
    engine = Engine(settings, ToolRegistry(), ScriptedBackend(["ok"]).factory())
    sessions = open_chat_sessions(engine, db, session_id=None, latest=True, save=False)
    app = create_app(settings, engine, sessions=sessions, start_engine=False)
    try:
        async with app.run_test(size=size) as pilot:
            await wait_until(
                pilot,
                lambda: len(app.chat.query(AssistantEntry)) == len(stored),
                30,
                "every turn drawn",
            )
            await pilot.pause()
            transcript = app.chat.transcript
            tops = [w.virtual_region.y for w in transcript.query(UserEntry)]
            tops.append(transcript.query_one(NoticeEntry).virtual_region.y)
            width = transcript.scrollable_content_region.width
            for i, events in enumerate(stored):
                real = tops[i + 1] - tops[i]
                assert least_rows(events, width) <= real, (i, real)
            # The first paint draws fewer turns than the whole chat here, and
            # still fills the transcript.
            drawn = screenful(stored, *size)
            assert drawn < len(stored)
            assert tops[-1] - tops[len(stored) - drawn] >= transcript.size.height
    finally:
        engine.close()
