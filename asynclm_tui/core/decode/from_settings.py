"""The engine for a :class:`Settings`: its tools loaded, its backend chosen,
and the MCP servers whose tools it is offered."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from asynclm_tui.core.api.events import SetTools
from asynclm_tui.core.backends import backend_factory
from asynclm_tui.core.cml.script import Script
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.core.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from asynclm_tui.core.api.handle import EngineHandle
    from asynclm_tui.core.tools.mcp.hub import McpHub


def load_tools(settings: Settings) -> ToolRegistry:
    """The YAML tools of ``settings`` (bad files are kept as the registry's errors)."""
    return ToolRegistry.load(settings.tool_paths(), settings.tools.disabled)


def build_engine(
    settings: Settings,
    *,
    registry: ToolRegistry | None = None,
    script: Script | None = None,
    interactive: bool = False,
) -> Engine:
    """Create (not start) the engine for ``settings`` with ``registry`` (by
    default the YAML tools of ``settings``).

    ``script`` teacher-forces the assistant's text; ``interactive`` says a
    person is there to approve the calls that ask first (the chat UI)."""
    return Engine(
        settings,
        registry if registry is not None else load_tools(settings),
        backend_factory(settings),
        script=script,
        interactive=interactive,
    )


def mcp_hub(settings: Settings, extra_files: Iterable[Path] = ()) -> McpHub | None:
    """The MCP servers of ``settings`` and ``--mcp-config`` files, not started;
    None when none is declared.

    Raises:
        UserFileError: a bad file or server entry (``file:line: problem``).
    """
    from asynclm_tui.core.tools.mcp.hub import McpHub

    hub = McpHub.from_settings(settings, extra_files)
    return hub if hub.configs else None


def follow_mcp_tools(engine: EngineHandle, hub: McpHub, base: ToolRegistry) -> None:
    """Offer the engine ``base`` plus the hub's MCP tools, now and whenever a
    server's tools change (the next answer sees them)."""
    hub.attach(lambda registry: engine.post(SetTools(registry)), base)
