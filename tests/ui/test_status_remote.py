"""A chat with a model on a server says so where a local chat shows its CPU
or GPU: the status bar and the welcome name the server's host."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from textual.widgets import Static

sys.path.insert(0, str(Path(__file__).parents[1] / "snapshots"))

from replay import LOADED, play, replay_app  # noqa: E402

from asynclm_tui.ui.widgets.transcript import WelcomeEntry  # noqa: E402

REMOTE = [dataclasses.replace(LOADED[0], server="127.0.0.1:8011")]
MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"


def welcome(app: object) -> tuple[str, str]:
    entry = app.chat.query_one(WelcomeEntry)  # type: ignore[attr-defined]
    long, short = entry.query_one(".long", Static), entry.query_one(".short", Static)
    return str(long.content), str(short.content)


async def test_a_remote_model_shows_its_server_where_a_local_one_shows_its_cpu() -> None:
    app = replay_app(REMOTE)
    async with app.run_test(size=(120, 30)) as pilot:
        await play(pilot)
        assert app.chat.status_text("device") == "127.0.0.1:8011"
        assert app.chat.status.shown("device")
        long, short = welcome(app)
        assert long.startswith(f"{MODEL} is ready (served by 127.0.0.1:8011, ")
        assert "CPU" not in long
        assert short.startswith(f"{MODEL} ready on 127.0.0.1:8011 · ")


async def test_a_local_model_shows_its_cpu() -> None:
    app = replay_app(LOADED)
    async with app.run_test(size=(120, 30)) as pilot:
        await play(pilot)
        assert app.chat.status_text("device") == "CPU"
        assert welcome(app)[0].startswith(f"{MODEL} is ready (CPU, ")


async def test_the_host_gives_way_before_state_mode_and_context_on_a_narrow_terminal() -> None:
    app = replay_app(REMOTE)
    async with app.run_test(size=(60, 20)) as pilot:
        await play(pilot)
        bar = app.chat.status
        assert bar.text("device") == "127.0.0.1:8011"
        assert all(bar.shown(part) for part in ("state", "mode", "ctx"))
        assert not bar.shown("device")
