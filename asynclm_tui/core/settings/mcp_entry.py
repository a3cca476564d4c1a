"""One MCP server as users already write it, in any popular client's dialect.

An entry of an ``mcpServers`` object (Claude Desktop, Claude Code's
``.mcp.json``, Cursor, Gemini CLI, Cline), of VS Code's ``servers`` object, or
of ``mcp.servers`` in ``config.yaml``: ``command``/``args``/``env``/``cwd`` for
a stdio server, ``url`` (or Gemini's ``httpUrl``, Windsurf's ``serverUrl``)
with ``headers`` for a remote one, plus asynclm's own per-server settings.
Unknown keys are refused by name; ``${VAR}``, ``${VAR:-default}``,
``${env:VAR}`` and a whole-value ``$VAR`` are expanded when the entry is read.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from asynclm_tui.core.api.enums import Deliver, DeliverIdle

Transport = Literal["stdio", "http", "sse"]

_REF = re.compile(r"\$\{([^}]*)\}")
_WHOLE_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\Z")
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_TYPES: dict[str, Transport] = {
    "stdio": "stdio",
    "http": "http",
    "streamable-http": "http",
    "streamable_http": "http",
    "streamableHttp": "http",
    "sse": "sse",
}

UNSUPPORTED = {
    "oauth": "OAuth sign-in is not supported yet: pass a token in headers instead",
    "authProviderType": "OAuth sign-in is not supported yet: pass a token in headers instead",
    "envFile": "env files are not read: list the variables under env",
}
"""Keys other clients know that asynclm refuses with a reason (not 'unknown')."""


def _alias(*names: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(*names))


class ToolDelivery(BaseModel):
    """One MCP tool's delivery, over its server's (fields left out keep the server's)."""

    model_config = ConfigDict(extra="forbid")

    background: bool | None = None
    deliver: Deliver | None = None
    deliver_idle: DeliverIdle | None = None


class ServerEntry(BaseModel):
    """One server's settings; every field is optional so each dialect fits."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: str | None = None
    """stdio, http (also streamable-http) or sse; inferred when absent."""
    command: str | None = None
    """Program of a stdio server (never run through a shell)."""
    args: list[str] = Field(default_factory=list)
    """Its arguments."""
    env: dict[str, str] = Field(default_factory=dict)
    """Variables given to the server on top of the conventional few (HOME, PATH, ...)."""
    cwd: str | None = None
    """Working directory of a stdio server (relative to the file naming it)."""
    url: str | None = _alias("url", "serverUrl")
    """Endpoint of a remote server (Streamable HTTP unless type says sse)."""
    http_url: str | None = _alias("http_url", "httpUrl")
    """Gemini CLI's Streamable HTTP endpoint."""
    headers: dict[str, str] | None = _alias("headers", "http_headers")
    """HTTP headers (an API key, ...)."""
    bearer_token_env_var: str | None = None
    """Codex CLI: send ``Authorization: Bearer $VAR``."""
    timeout: float | None = Field(default=None, gt=0)
    """Gemini CLI's request timeout in milliseconds (under 1000: seconds, as Cline writes it)."""
    trust: bool = False
    """Run this server's tools without asking."""
    include_tools: list[str] | None = _alias("include_tools", "includeTools", "enabled_tools")
    """Only these tools (original names); empty means all."""
    exclude_tools: list[str] | None = _alias("exclude_tools", "excludeTools", "disabled_tools")
    """Never these tools."""
    auto_approve: list[str] | None = _alias("auto_approve", "autoApprove", "alwaysAllow")
    """These tools run without asking (Cline's list)."""
    enabled: bool = True
    """Start this server."""
    disabled: bool = False
    """Cline's and Cursor's spelling of ``enabled: false``."""
    startup_timeout_s: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        validation_alias=AliasChoices("startup_timeout_s", "startup_timeout_sec"),
    )
    """Seconds a server may take to start and list its tools."""
    tool_timeout_s: float | None = Field(
        default=None,
        gt=0,
        le=86400,
        validation_alias=AliasChoices("tool_timeout_s", "tool_timeout_sec"),
    )
    """Seconds a call may go without a result or a progress notification."""
    max_tool_timeout_s: float | None = Field(default=None, gt=0, le=86400)
    """Hard cap on a call's duration, progress or not."""
    max_result_bytes: int | None = Field(default=None, gt=0, le=64 * 1024 * 1024)
    """Longest result text kept (the rest is cut with a marker)."""
    max_result_tokens: int | None = Field(default=None, gt=0, le=1_000_000)
    """Most tokens of a result injected into the model's context."""
    protocol: Literal["auto", "legacy"] = "auto"
    """auto: the 2026-07-28 protocol where the server speaks it; legacy: the
    initialize handshake only, for servers that mishandle the probe."""
    description: str | None = None
    """A note for ``mcp list`` (Gemini CLI)."""
    background: bool = False
    """Answers end without waiting for this server's calls (as a tool file's
    ``background``)."""
    deliver: Deliver = Deliver.INTERRUPT
    """Its results while an answer is written: ``interrupt`` or ``when_idle``."""
    deliver_idle: DeliverIdle = DeliverIdle.ANSWER
    """Its results while nothing is written: ``answer``, ``notify`` or ``silent``."""
    tools: dict[str, ToolDelivery] = Field(default_factory=dict)
    """Per tool (original names): ``background``, ``deliver``, ``deliver_idle``."""

    @model_validator(mode="before")
    @classmethod
    def _known_but_unsupported(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, why in UNSUPPORTED.items():
                if key in data:
                    raise ValueError(f"{key}: {why}")
        return data

    @field_validator("env", "headers", mode="before")
    @classmethod
    def _scalars_as_strings(cls, value: Any) -> Any:
        """``"PORT": 8080`` is what the user meant as ``"8080"``."""
        if isinstance(value, dict):
            return {
                k: (str(v).lower() if isinstance(v, bool) else str(v))
                if isinstance(v, int | float | bool)
                else v
                for k, v in value.items()
            }
        return value

    @model_validator(mode="after")
    def _expand_and_check(self, info: ValidationInfo) -> ServerEntry:
        base = (info.context or {}).get("base")
        expand = _Expander(Path(base) if base else None)
        if self.command is not None:
            self.command = expand(self.command, "command")
        self.args = [expand(a, f"args.{i}") for i, a in enumerate(self.args)]
        self.env = {k: expand(v, f"env.{k}") for k, v in self.env.items()}
        if self.cwd is not None:
            self.cwd = expand(self.cwd, "cwd")
        if self.url is not None:
            self.url = expand(self.url, "url")
        if self.http_url is not None:
            self.http_url = expand(self.http_url, "httpUrl")
        if self.headers is not None:
            self.headers = {k: expand(v, f"headers.{k}") for k, v in self.headers.items()}
        self.transport  # noqa: B018 - raises when the shape is incoherent
        return self

    @property
    def transport(self) -> Transport:
        """How to reach the server.

        Raises:
            ValueError: the entry names no command and no URL, both, or a
                ``type`` that contradicts what it names.
        """
        url = self.http_url or self.url
        if self.type is not None and self.type not in _TYPES:
            raise ValueError(f"type: {self.type!r} is not stdio, http or sse")
        if self.command is not None and url is not None:
            raise ValueError("give either command (a local server) or url (a remote one), not both")
        if self.command is None and url is None:
            raise ValueError("a server needs a command (stdio) or a url (http)")
        kind = _TYPES.get(self.type or "")
        if self.command is not None:
            if kind not in (None, "stdio"):
                raise ValueError(f"type: {self.type} needs a url, not a command")
            if not self.command.strip():
                raise ValueError("command: must not be empty")
            return "stdio"
        assert url is not None
        if kind == "stdio":
            raise ValueError("type: stdio needs a command, not a url")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url: {url!r} must start with http:// or https://")
        if self.http_url is not None:
            return "http"
        return kind or "http"

    @property
    def url_guessed(self) -> bool:
        """A bare ``url`` with no type: Streamable HTTP, falling back to SSE
        when the server refuses it (as the MCP spec advises clients)."""
        return self.type is None and self.http_url is None and self.url is not None

    def all_headers(self) -> dict[str, str]:
        """``headers`` plus Codex's bearer token.

        Raises:
            ValueError: the bearer token's variable is not set.
        """
        out = dict(self.headers or {})
        if self.bearer_token_env_var:
            token = os.environ.get(self.bearer_token_env_var)
            if token is None:
                raise ValueError(f"bearer_token_env_var: ${self.bearer_token_env_var} is not set")
            out["Authorization"] = f"Bearer {token}"
        return out

    def idle_timeout_s(self) -> float | None:
        """``tool_timeout_s``, else Gemini's ``timeout`` (ms; under 1000: s)."""
        if self.tool_timeout_s is not None:
            return self.tool_timeout_s
        if self.timeout is not None:
            return self.timeout / 1000 if self.timeout >= 1000 else self.timeout
        return None


class _Expander:
    """``${VAR}``, ``${VAR:-default}``, ``${env:VAR}``, ``${workspaceFolder}``,
    ``${userHome}`` and a whole-value ``$VAR``."""

    def __init__(self, base: Path | None) -> None:
        self.base = base

    def __call__(self, text: str, where: str) -> str:
        whole = _WHOLE_VAR.match(text)
        if whole:
            return self._var(whole.group(1), None, where)
        return _REF.sub(lambda m: self._ref(m.group(1), where), text)

    def _ref(self, inner: str, where: str) -> str:
        if inner.startswith("env:"):
            return self._var(inner[4:], None, where)
        if inner == "workspaceFolder":
            folder = self.base or Path.cwd()
            return str(folder.parent if folder.name == ".vscode" else folder)
        if inner == "userHome":
            return str(Path.home())
        if inner.startswith("input:"):
            raise ValueError(f"{where}: ${{{inner}}}: VS Code inputs are not asked for; use env")
        name, sep, default = inner.partition(":-")
        return self._var(name, default if sep else None, where)

    @staticmethod
    def _var(name: str, default: str | None, where: str) -> str:
        if not _VAR.match(name):
            raise ValueError(f"{where}: ${{{name}}} is not a variable name")
        value = os.environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise ValueError(f"{where}: ${{{name}}} is not set (export it or give a default)")
            return default
        return value
