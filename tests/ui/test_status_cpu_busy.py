"""The status bar says when a busy CPU slowed the answer, next to its speed."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "snapshots"))

from replay import FINISHED, play, replay_app  # noqa: E402
from uiharness import wait_until  # noqa: E402

from asynclm_tui.core.api.events import TurnDone  # noqa: E402


def busy_turn() -> list:  # type: ignore[type-arg]
    done = FINISHED[-1]
    assert isinstance(done, TurnDone)
    return [*FINISHED[:-1], dataclasses.replace(done, tok_s=2.1, cpu_busy=True, threads=1)]


async def test_a_slowed_answer_says_the_cpu_is_busy_until_the_chat_is_cleared() -> None:
    app = replay_app(busy_turn())
    async with app.run_test(size=(120, 30)) as pilot:
        await play(pilot)
        assert app.chat.status_text("speed") == "2.1 tok/s"
        assert app.chat.status_text("cpu") == "the CPU is busy"
        assert app.chat.status.query_one("#sb-cpu").display
        await pilot.press("ctrl+n", "ctrl+n")
        await wait_until(pilot, lambda: app.chat.status_text("speed") == "— tok/s", 5, "cleared")
        assert not app.chat.status.query_one("#sb-cpu").display


async def test_an_answer_on_a_free_cpu_shows_only_its_speed() -> None:
    app = replay_app(FINISHED)
    async with app.run_test(size=(120, 30)) as pilot:
        await play(pilot)
        assert app.chat.status_text("speed") == "30.0 tok/s"
        assert app.chat.status_text("cpu") == ""
        assert not app.chat.status.query_one("#sb-cpu").display
