"""An MCP server's tools as :class:`ToolSpec`\\ s, like the YAML tools.

``server.tool`` names (identifiers, see :mod:`.naming`), the input JSON Schema
as the parameters (driving validation and constrained decoding; parameters
whose names are no identifiers are renamed there and mapped back on the
call), the description cut to fit a small model's prompt, an estimate (the
server's ``_meta.estimatedDurationMs`` hint, else a default the executor's
moving average then refines), the approval rule and the hard time cap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from asynclm_tui.core.tools.mcp.config import ServerConfig
from asynclm_tui.core.tools.mcp.naming import unique_identifiers
from asynclm_tui.core.tools.spec import ToolSpec

DEFAULT_ESTIMATE_MS = 1000.0
"""A call's expected duration before any has run (a process or network round
trip plus the work; the moving average of real runs replaces it)."""
HINT_KEYS = ("estimatedDurationMs", "io.github.asynclm/estimated_ms")
"""Tool ``_meta`` keys read as the server's duration hint, in milliseconds."""


@dataclass(frozen=True)
class McpToolRef:
    """What the executor runs for one MCP tool: maps the model's argument
    names back to the server's and hands the call to the hub."""

    server: str
    tool: str
    """The tool's own name on its server."""
    params: Mapping[str, str] = field(default_factory=dict)
    """Model-facing parameter name -> the server's, where they differ."""
    call: Callable[[McpToolRef, dict[str, Any]], Awaitable[str]] | None = None

    async def run(self, **kwargs: Any) -> str:
        """Run the call (the executor awaits this like any async tool)."""
        assert self.call is not None
        args = {self.params.get(k, k): v for k, v in kwargs.items()}
        return await self.call(self, args)


def _description(tool: Any, server: str, limit: int) -> str:
    title = getattr(tool.annotations, "title", None) if tool.annotations else None
    text = " ".join((tool.description or getattr(tool, "title", None) or title or "").split())
    if not text:
        return f"Tool {tool.name} of the MCP server {server}."
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _estimate(tool: Any) -> float:
    meta = tool.meta or {}
    for key in HINT_KEYS:
        value = meta.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
    return DEFAULT_ESTIMATE_MS


def _parameters(schema: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The schema with identifier property names, and the renames to undo."""
    out = dict(schema)
    out.setdefault("type", "object")
    props = out.get("properties")
    if not isinstance(props, dict):
        return out, {}
    names = unique_identifiers(props)
    renamed = {new: old for old, new in names.items() if new != old}
    if renamed:
        out["properties"] = {names[k]: v for k, v in props.items()}
        required = out.get("required")
        if isinstance(required, list):
            out["required"] = [names.get(r, r) if isinstance(r, str) else r for r in required]
    return out, renamed


def _needs_approval(config: ServerConfig, tool: Any, approved: Callable[[str], bool]) -> bool:
    if config.trust or tool.name in config.auto_approve or approved(tool.name):
        return False
    read_only = getattr(tool.annotations, "read_only_hint", None) if tool.annotations else None
    return read_only is not True


def build_specs(
    config: ServerConfig,
    prefix: str,
    tools: Sequence[Any],
    *,
    approved: Callable[[str], bool],
    call: Callable[[McpToolRef, dict[str, Any]], Awaitable[str]],
) -> tuple[dict[str, ToolSpec], tuple[str, ...]]:
    """Specs for the tools ``config`` lets through, and those left out with why.

    ``tools`` are the SDK's ``Tool`` objects; ``approved(tool)`` says whether
    the user chose "always" for it; ``call`` runs a call on the hub.
    """
    skipped: list[str] = []
    wanted = []
    for tool in tools:
        support = getattr(tool.execution, "task_support", None) if tool.execution else None
        if not config.wants_tool(tool.name):
            continue
        if support == "required":
            skipped.append(f"{tool.name}: runs only as a 2025-11-25 task, which is not supported")
            continue
        wanted.append(tool)
    offered = {t.name for t in tools}
    for name in sorted(config.tool_delivery.keys() - offered):
        skipped.append(f"tools.{name}: the server has no tool of that name")
    names = unique_identifiers(t.name for t in wanted)
    cap = min(config.max_tool_timeout_s + config.startup_timeout_s + 5, 86400)
    specs: dict[str, ToolSpec] = {}
    for tool in wanted:
        parameters, renamed = _parameters(tool.input_schema or {})
        ref = McpToolRef(config.name, tool.name, renamed, call)
        try:
            spec = ToolSpec(
                name=f"{prefix}.{names[tool.name]}",
                description=_description(tool, config.name, config.max_description_chars),
                parameters=parameters,
                estimated_ms=_estimate(tool),
                timeout_s=cap,
                confirm=_needs_approval(config, tool, approved),
                max_output_bytes=min(config.max_result_bytes, 16 * 1024 * 1024),
                max_result_tokens=config.max_result_tokens,
                handler=ref.run,
                handled_by=f"mcp:{config.name}",
                **config.delivery_for(tool.name),
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            skipped.append(f"{tool.name}: {where}: {err['msg'].removeprefix('Value error, ')}")
            continue
        specs[spec.name] = spec
    return specs, tuple(skipped)
