"""Which MCP servers to run: ``mcpServers`` files and ``mcp.servers`` in the config.

Sources, later ones winning for a server of the same name: the files of
``mcp.import``, then ``mcp.servers`` of ``config.yaml``, then each
``--mcp-config FILE``.  :func:`load_mcp_file` is what ``asynclm mcp check FILE``
runs (nothing is started); :func:`collect_servers` is what the chat runs.
Every problem is a :class:`UserFileError` reading ``file:line: field: problem``.
Nothing here imports the MCP SDK.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from asynclm_tui.core.api.enums import Deliver, DeliverIdle
from asynclm_tui.core.settings.mcp_entry import ServerEntry, ToolDelivery, Transport
from asynclm_tui.core.settings.yaml_source import (
    LineMap,
    UserFileError,
    pydantic_problem,
    read_user_file,
)
from asynclm_tui.core.tools.mcp.jsonc import JsonProblem, parse_jsonc

if TYPE_CHECKING:
    from asynclm_tui.core.settings.config import McpSettings, Settings

MAX_FILE_BYTES = 4 * 1024 * 1024
"""An MCP configuration file larger than this is refused unread: above the
cap of other user files, as Claude Code's ``~/.claude.json`` (which holds an
``mcpServers`` object) also keeps its project histories."""

SERVER_KEYS = ("mcpServers", "servers", "mcp_servers")
"""Top-level keys holding the servers: most clients, VS Code, Codex's table name."""


@dataclass(frozen=True)
class ServerConfig:
    """One server, normalised: what the client needs to start and call it."""

    name: str
    transport: Transport
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    sse_fallback: bool = False
    """A bare ``url``: try Streamable HTTP, then SSE when refused."""
    enabled: bool = True
    trust: bool = False
    include_tools: frozenset[str] | None = None
    exclude_tools: frozenset[str] = frozenset()
    auto_approve: frozenset[str] = frozenset()
    startup_timeout_s: float = 30.0
    tool_timeout_s: float = 60.0
    max_tool_timeout_s: float = 600.0
    max_result_bytes: int = 65536
    max_result_tokens: int | None = None
    max_description_chars: int = 300
    protocol: str = "auto"
    description: str = ""
    background: bool = False
    deliver: Deliver = Deliver.INTERRUPT
    deliver_idle: DeliverIdle = DeliverIdle.ANSWER
    tool_delivery: Mapping[str, ToolDelivery] = field(default_factory=dict)
    """Per-tool delivery over the server's, by original tool name."""
    source: str = ""
    """``file:line`` where the server was declared (for messages)."""

    @property
    def fingerprint(self) -> str:
        """What the server is (its command or URL), hashed: approvals
        remembered for a name are void once it runs something else."""
        what = "\0".join([self.transport, self.command or "", *self.args, self.url or ""])
        return hashlib.sha256(what.encode()).hexdigest()[:16]

    def delivery_for(self, tool: str) -> dict[str, Any]:
        """``background``, ``deliver`` and ``deliver_idle`` of ``tool``'s
        specs: its own entry under ``tools``, else the server's."""
        own = self.tool_delivery.get(tool)
        server = {"background": self.background, "deliver": self.deliver,
                  "deliver_idle": self.deliver_idle}  # fmt: skip
        if own is None:
            return server
        return {**server, **own.model_dump(exclude_none=True)}

    def wants_tool(self, tool: str) -> bool:
        """Whether ``include_tools``/``exclude_tools`` let ``tool`` through."""
        if self.include_tools is not None and tool not in self.include_tools:
            return False
        return tool not in self.exclude_tools

    def target(self) -> str:
        """``command args`` or the URL, for ``mcp list``."""
        if self.transport == "stdio":
            return " ".join([self.command or "", *self.args])
        return self.url or ""


def normalise(
    name: str, entry: ServerEntry, mcp: McpSettings, *, base: Path | None, source: str
) -> ServerConfig:
    """Fill what ``entry`` leaves unset from the ``mcp`` section's defaults.

    Raises:
        ValueError: a Codex bearer token variable is not set.
    """
    cwd = entry.cwd
    if cwd is not None:
        path = Path(cwd).expanduser()
        cwd = str(path if path.is_absolute() or base is None else (base / path).resolve())
    idle = entry.idle_timeout_s() or mcp.tool_timeout_s
    cap = entry.max_tool_timeout_s or max(mcp.max_tool_timeout_s, idle)
    return ServerConfig(
        name=name,
        transport=entry.transport,
        command=entry.command,
        args=tuple(entry.args),
        env=dict(entry.env),
        cwd=cwd,
        url=entry.http_url or entry.url,
        headers=entry.all_headers(),
        sse_fallback=entry.url_guessed,
        enabled=entry.enabled and not entry.disabled,
        trust=entry.trust,
        include_tools=frozenset(entry.include_tools) if entry.include_tools else None,
        exclude_tools=frozenset(entry.exclude_tools or ()),
        auto_approve=frozenset(entry.auto_approve or ()),
        startup_timeout_s=entry.startup_timeout_s or mcp.startup_timeout_s,
        tool_timeout_s=idle,
        max_tool_timeout_s=cap,
        max_result_bytes=entry.max_result_bytes or mcp.max_result_bytes,
        max_result_tokens=entry.max_result_tokens,
        max_description_chars=mcp.max_description_chars,
        protocol=entry.protocol,
        description=entry.description or "",
        background=entry.background,
        deliver=entry.deliver,
        deliver_idle=entry.deliver_idle,
        tool_delivery=dict(entry.tools),
        source=source,
    )


def _servers_object(path: Path, data: Any, lines: LineMap) -> tuple[str, dict[str, Any]]:
    if not isinstance(data, dict):
        raise UserFileError(path, lines.line_of(()), "the file must hold a JSON object")
    found = [k for k in SERVER_KEYS if k in data]
    if not found:
        raise UserFileError(
            path, lines.line_of(()), "no mcpServers object (nor VS Code's servers) in this file"
        )
    if len(found) > 1:
        raise UserFileError(
            path, lines.line_of((found[1],)), f"both {found[0]} and {found[1]}: keep one"
        )
    key = found[0]
    servers = data[key]
    if not isinstance(servers, dict):
        raise UserFileError(path, lines.line_of((key,)), f"{key}: must be an object of servers")
    return key, servers


def load_mcp_file(path: Path, mcp: McpSettings | None = None) -> list[ServerConfig]:
    """Read an ``mcpServers`` JSON file (other top-level keys are the host
    app's and are left alone); nothing is started.

    Raises:
        UserFileError: unreadable, not JSON, or a server entry that is wrong
            (unknown key, wrong type, unset variable), as ``file:line: problem``.
    """
    from asynclm_tui.core.settings.config import McpSettings

    mcp = mcp or McpSettings()
    path = path.expanduser()
    try:
        data, lines = parse_jsonc(read_user_file(path, MAX_FILE_BYTES, "MCP configuration"))
    except JsonProblem as exc:
        raise UserFileError(path, exc.line, f"invalid JSON: {exc.message}") from None
    key, servers = _servers_object(path, data, lines)
    out: list[ServerConfig] = []
    for name, raw in servers.items():
        prefix = (key, name)
        if not name.strip():
            raise UserFileError(path, lines.line_of(prefix), f"{key}: a server needs a name")
        if not isinstance(raw, dict):
            raise UserFileError(path, lines.line_of(prefix), f"{key}.{name}: must be an object")
        try:
            entry = ServerEntry.model_validate(raw, context={"base": str(path.parent)})
            config = normalise(
                name,
                entry,
                mcp,
                base=path.parent,
                source=f"{path}:{lines.line_of(prefix) or 1}",
            )
        except ValidationError as exc:
            raise pydantic_problem(path, lines, exc.errors(), prefix) from None
        except ValueError as exc:
            raise UserFileError(path, lines.line_of(prefix), f"{key}.{name}: {exc}") from None
        out.append(config)
    return out


def servers_in_settings(settings: Settings) -> list[ServerConfig]:
    """``mcp.servers`` of the config (already validated with it).

    Raises:
        UserFileError: a Codex bearer token variable is not set.
    """
    mcp = settings.mcp
    source = settings.source or Path("config")
    base = settings.source.parent if settings.source else None
    out = []
    for name, entry in mcp.servers.items():
        try:
            out.append(normalise(name, entry, mcp, base=base, source=f"{source}: mcp.servers"))
        except ValueError as exc:
            raise UserFileError(source, None, f"mcp.servers.{name}: {exc}") from None
    return out


def collect_servers(settings: Settings, extra_files: Iterable[Path] = ()) -> list[ServerConfig]:
    """Every server the chat should know, in order (a later one of the same
    name replaces an earlier one): ``mcp.import`` files, ``mcp.servers``,
    then ``extra_files`` (``--mcp-config``, repeatable).

    Raises:
        UserFileError: the first bad file or entry.
    """
    found: dict[str, ServerConfig] = {}
    groups: Sequence[Iterable[ServerConfig]] = (
        *(load_mcp_file(p, settings.mcp) for p in settings.mcp.import_),
        servers_in_settings(settings),
        *(load_mcp_file(p, settings.mcp) for p in extra_files),
    )
    for group in groups:
        for config in group:
            found.pop(config.name, None)  # a redefinition moves to its new place
            found[config.name] = config
    return list(found.values())
