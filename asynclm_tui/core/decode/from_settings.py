"""The engine for a :class:`Settings`: its tools loaded, its backend chosen."""

from __future__ import annotations

from asynclm_tui.core.backends import backend_factory
from asynclm_tui.core.cml.script import Script
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.core.tools.registry import ToolRegistry


def build_engine(
    settings: Settings, *, script: Script | None = None, interactive: bool = False
) -> Engine:
    """Load the tools and create (not start) the engine for ``settings``.

    ``script`` teacher-forces the assistant's text; ``interactive`` says a
    person is there to approve the calls that ask first (the chat UI)."""
    registry = ToolRegistry.load(settings.tool_paths(), settings.tools.disabled)
    return Engine(
        settings, registry, backend_factory(settings), script=script, interactive=interactive
    )
