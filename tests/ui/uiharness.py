"""Helpers for Pilot tests of the chat UI against the real engine and model."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from textual.pilot import Pilot

from asynclm_tui.core.cml.script import Script
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.decode.from_settings import build_engine
from asynclm_tui.core.settings.config import Settings, load_settings
from asynclm_tui.core.settings.paths import shipped_tools_dir
from asynclm_tui.ui.app import AsyncLMApp, create_app

SIZE = (130, 40)


def ui_settings(**overrides: Any) -> Settings:
    """A short system prompt: only the tools the UI tests use."""
    tools = shipped_tools_dir()
    settings = load_settings(None, {"model.n_ctx": 2048, **overrides})
    settings.tools.shipped = False
    settings.tools.dirs = [tools / "sleep.yaml", tools / "echo.yaml", tools / "save_note.yaml"]
    return settings


async def wait_until(
    pilot: Pilot[Any], predicate: Callable[[], bool], timeout: float = 60, what: str = ""
) -> None:
    """Poll ``predicate`` while the app keeps running (never a blind sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.05)


@asynccontextmanager
async def running_app(
    script: str | None = None, settings: Settings | None = None, **kwargs: Any
) -> AsyncIterator[tuple[AsyncLMApp, Pilot[Any], Engine]]:
    """The real app around a real engine; waits until the model has loaded."""
    settings = settings or ui_settings()
    engine = build_engine(
        settings,
        script=Script.from_text(script) if script is not None else None,
        interactive=True,
    )
    app = create_app(settings, engine, **kwargs)
    try:
        async with app.run_test(size=SIZE) as pilot:
            ok = await asyncio.to_thread(engine.wait_loaded, 60)
            if ok:
                await wait_until(
                    pilot, lambda: app.chat.status_text("state") == "ready", 10, "ready state"
                )
            yield app, pilot, engine
    finally:
        await asyncio.to_thread(engine.close)


async def type_text(pilot: Pilot[Any], text: str) -> None:
    """Type ``text`` key by key into the focused widget."""
    await pilot.press(*[("space" if ch == " " else ch) for ch in text])


@pytest.fixture
def settings() -> Settings:
    """UI test settings (isolated XDG dirs come from the root conftest)."""
    return ui_settings()
