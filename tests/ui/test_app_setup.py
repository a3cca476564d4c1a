"""App start-up without a model turn: themes, bad theme files, unknown theme names."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Static
from uiharness import SIZE, ui_settings, wait_until

from asynclm_tui.core.decode.from_settings import build_engine
from asynclm_tui.core.settings import paths
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.ui.app import AsyncLMApp, create_app
from asynclm_tui.ui.streaming.startup_gc import pause_collection
from asynclm_tui.ui.widgets.status_bar import StatusBar


def notes(app: Any) -> list[str]:
    """Messages of the app's current notifications."""
    return [str(n.message) for n in app._notifications]


@asynccontextmanager
async def idle_app(settings: Settings) -> AsyncIterator[tuple[AsyncLMApp, Pilot[Any]]]:
    """The real app with its engine not started (no model load)."""
    engine = build_engine(settings, interactive=True)
    app = create_app(settings, engine, start_engine=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            yield app, pilot
    finally:
        engine.close()


async def test_bad_user_theme_is_reported_and_skipped() -> None:
    themes = paths.user_themes_dir()  # under the test's own XDG_CONFIG_HOME
    themes.mkdir(parents=True)
    (themes / "broken.yaml").write_text("name: broken\nprimary: '#12345'\n")
    (themes / "mine.yaml").write_text("name: mine\ndark: false\nprimary: '#224488'\n")
    settings = ui_settings()
    settings.ui.theme = "mine"
    async with idle_app(settings) as (app, pilot):
        assert app.theme == "mine"
        assert {"asynclm-dark", "asynclm-light", "asynclm-high-contrast"} <= set(
            app.available_themes
        )
        assert "broken" not in app.available_themes
        [note] = [n for n in notes(app) if "Theme skipped" in n]
        assert f"{themes / 'broken.yaml'}:2: primary:" in note
        app.theme = "asynclm-high-contrast"  # what the command palette does
        await pilot.pause()
        assert app.current_theme.name == "asynclm-high-contrast"


async def test_unknown_theme_falls_back_with_a_warning() -> None:
    settings = ui_settings()
    settings.ui.theme = "no-such-theme"
    async with idle_app(settings) as (app, _pilot):
        assert app.theme == "asynclm-dark"
        assert any("Unknown theme 'no-such-theme'" in n for n in notes(app))


async def test_tokens_wake_the_ui_once_per_render_and_other_events_at_once() -> None:
    import threading

    from asynclm_tui.core.api.events import Token, TurnFailed
    from asynclm_tui.ui.engine_messages import EventsPending
    from asynclm_tui.ui.widgets.transcript import NoticeEntry

    async with idle_app(ui_settings()) as (app, pilot):
        posted: list[bool] = []
        post = app.post_message

        def counting(message: Any) -> bool:
            if isinstance(message, EventsPending):
                posted.append(message.urgent)
            return post(message)

        app.post_message = counting  # type: ignore[method-assign]
        burst = threading.Thread(
            target=lambda: [app.receive(Token(0.0, "x", "x")) for _ in range(200)]
        )
        burst.start()
        burst.join()
        assert posted == [False]  # 200 tokens, one wake-up
        app.receive(TurnFailed(0.0, "boom"))
        assert posted == [False, True]

        def shown() -> list[str]:
            return [str(n.content) for n in app.chat.query(NoticeEntry)]

        await wait_until(pilot, lambda: any("boom" in text for text in shown()), 10, "the notice")
        assert not app._pending  # all drained, in order, by the urgent event


async def test_status_set_before_the_bar_is_composed_is_shown() -> None:
    # The engine's first event (a model that fails to load at once) may be
    # applied before the status bar has composed its parts.
    bar = StatusBar(id="status")
    bar.set_state("model failed to load", "error")
    bar.set_model("x.gguf", "CPU")

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield bar

    async with Host().run_test() as pilot:
        await pilot.pause()
        state = bar.query_one("#sb-state", Static)
        assert str(state.render()) == "model failed to load" and state.has_class("-error")
        assert str(bar.query_one("#sb-model", Static).render()) == "x.gguf"
        assert bar.text("state") == "model failed to load"


async def test_collection_paused_at_launch_resumes_once_the_first_frame_is_shown() -> None:
    pause_collection()  # what the console script does before importing anything
    try:
        assert not gc.isenabled()
        async with idle_app(ui_settings()) as (app, pilot):
            await wait_until(pilot, app.first_frame.is_set, what="the first frame")
            assert gc.isenabled()
            assert gc.get_freeze_count() > 0  # start-up's objects left out of full passes
    finally:
        gc.unfreeze()
        gc.enable()
