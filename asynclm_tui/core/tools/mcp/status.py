"""Where each MCP server stands, for the status bar, ``doctor`` and ``mcp list``."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class ServerState(StrEnum):
    """Life cycle of one server."""

    DISABLED = "disabled"
    """``enabled: false``: never started."""
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    """Did not start, exited, hung or dropped its connection (see ``reason``)."""
    RESTARTING = "restarting"
    """A call is bringing it back (after ``retry_in_s`` of backoff)."""
    STOPPED = "stopped"
    """Closed with the chat."""


@dataclass(frozen=True)
class ServerStatus:
    """One server's state now; a new object on every change."""

    name: str
    state: ServerState
    transport: str
    target: str = ""
    """The command line or URL."""
    tools: int = 0
    """Tools offered to the model from this server."""
    reason: str = ""
    """Why it failed (one line), or what it is waiting for."""
    protocol: str = ""
    """The MCP revision negotiated (``2025-11-25``, ``2026-07-28``...)."""
    restarts: int = 0
    retry_in_s: float | None = None
    skipped: tuple[str, ...] = ()
    """Tools left out, each as ``name: why``."""
    source: str = ""
    """Where it was declared (``file:line``)."""
    since: float = field(default_factory=time.time)

    def line(self) -> str:
        """One line for the chat, ``doctor`` and ``mcp list``."""
        head = f"MCP {self.name}: {self.state.value}"
        match self.state:
            case ServerState.READY:
                text = f"{head}, {self.tools} tool{'s' if self.tools != 1 else ''}"
                if self.skipped:
                    text += f" ({len(self.skipped)} left out)"
                return text
            case ServerState.FAILED | ServerState.RESTARTING:
                wait = f" (retry in {self.retry_in_s:.0f} s)" if self.retry_in_s else ""
                return f"{head}: {self.reason}{wait}" if self.reason else head + wait
            case _:
                return head

    def to_json(self) -> dict[str, Any]:
        """A JSON object (``mcp list --json``)."""
        data = asdict(self)
        data["state"] = self.state.value
        data["skipped"] = list(self.skipped)
        return data
