"""The chat's MCP servers: started once the first frame is up, their tools
offered to the engine, their states in the status bar and failures said."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from textual.message import Message
from textual.notifications import SeverityLevel

from asynclm_tui.core.decode.from_settings import follow_mcp_tools
from asynclm_tui.core.tools.mcp.status import ServerState, ServerStatus

if TYPE_CHECKING:
    from textual.message_pump import MessagePump

    from asynclm_tui.core.api.handle import EngineHandle
    from asynclm_tui.core.tools.mcp.hub import McpHub
    from asynclm_tui.core.tools.registry import ToolRegistry

TROUBLE = {ServerState.FAILED, ServerState.RESTARTING}


class McpStatusChanged(Message):
    """A server's state changed (posted from the hub's thread)."""

    def __init__(self, status: ServerStatus) -> None:
        super().__init__()
        self.status = status


@dataclass(frozen=True)
class McpLink:
    """The hub and the YAML tools its servers' tools join."""

    hub: McpHub
    tools: ToolRegistry

    def start(self, engine: EngineHandle, target: MessagePump) -> None:
        """Start the servers in the background; ``target`` hears of each change."""

        def changed(status: ServerStatus) -> None:
            target.post_message(McpStatusChanged(status))

        self.hub.subscribe(changed)
        follow_mcp_tools(engine, self.hub, self.tools)
        self.hub.start()

    def is_mcp_tool(self, tool: str) -> bool:
        """Whether ``tool`` (a ``server.tool`` name) is one of the servers' tools."""
        return tool in self.hub.tools()

    def remember(self, tool: str, scope: Literal["tool", "server"]) -> bool:
        """Persist "always" for ``tool`` or its whole server; False when it is
        no MCP tool (nothing to remember beyond this chat)."""
        return self.hub.remember_approval(tool, scope)

    def counts(self) -> tuple[int, int, bool]:
        """(servers ready, servers enabled, whether one is failing)."""
        return summarize(self.hub.statuses())


def summarize(statuses: Sequence[ServerStatus]) -> tuple[int, int, bool]:
    """(ready, enabled, trouble) over ``statuses``."""
    enabled = [s for s in statuses if s.state is not ServerState.DISABLED]
    ready = sum(s.state is ServerState.READY for s in enabled)
    return ready, len(enabled), any(s.state in TROUBLE for s in enabled)


def notice(status: ServerStatus, previous: ServerState | None) -> tuple[str, SeverityLevel] | None:
    """What to tell the user about a change, as (text, severity), if anything:
    a server that became ready or failed (not every step of a restart)."""
    if status.state is ServerState.READY and previous is not ServerState.READY:
        return status.line(), "information"
    if status.state is ServerState.FAILED and previous is not ServerState.FAILED:
        return status.line(), "warning"
    return None
