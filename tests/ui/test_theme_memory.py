"""A theme picked in the app is there at the next start, unless the config says otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "snapshots"))

from replay import LOADED, play, replay_app, settings  # noqa: E402

from asynclm_tui.ui.theming import DEFAULT_THEME, chosen_theme  # noqa: E402


async def test_a_theme_picked_in_the_app_is_kept_for_the_next_start() -> None:
    app = replay_app(LOADED)
    async with app.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        assert app.theme == DEFAULT_THEME
        app.theme = "nord"  # what the command palette's "Change theme" does
        await pilot.pause()
    assert chosen_theme() == "nord"
    again = replay_app(LOADED)
    async with again.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        assert again.theme == "nord"


async def test_the_config_file_or_flag_wins_over_the_remembered_theme() -> None:
    first = replay_app(LOADED)
    async with first.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        first.theme = "nord"
        await pilot.pause()
    cfg = settings()
    cfg.ui.theme = "asynclm-light"  # as the file or --theme sets it
    app = replay_app(LOADED, cfg)
    async with app.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        assert app.theme == "asynclm-light"
