"""``asynclm mcp ...``: check MCP configuration files, list the servers' tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from asynclm_tui.cli.errors import CliError
from asynclm_tui.cli.flatten import flatten
from asynclm_tui.cli.options import ModelOptions, ToolOptions, start_logging
from asynclm_tui.cli.plain_help import PlainArgsCommand

mcp_app = typer.Typer(
    help="MCP servers: check their configuration, list their state and tools.",
    no_args_is_help=True,
)


@mcp_app.command("check", cls=PlainArgsCommand)
def mcp_check(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE...",
            show_default=False,
            help="mcpServers JSON files (Claude Desktop's, .mcp.json, VS Code's mcp.json ...).",
        ),
    ],
) -> None:
    """Validate MCP server files without starting anything; a bad one prints
    file:line: message (exit 2)."""
    from asynclm_tui.core.tools.mcp.config import load_mcp_file

    for path in files:
        if not path.is_file():
            raise CliError(f"{path}: not found")
        servers = load_mcp_file(path)
        names = ", ".join(s.name for s in servers) or "none"
        typer.echo(f"{path}: {len(servers)} server(s) OK ({names})")


TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", min=1, max=600, metavar="S", help="Seconds to wait for servers to start."
    ),
]


@mcp_app.command("list")
@flatten("config", "mcp_configs", "as_json", "timeout")
def mcp_list(
    model: ModelOptions,
    tools: ToolOptions,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """Start the declared MCP servers, show each one's state and tools, and stop
    them (exit 1 when one did not start)."""
    from asynclm_tui.core.tools.mcp.hub import probe
    from asynclm_tui.core.tools.mcp.status import ServerState

    settings = model.load_settings(tools)
    hub = tools.mcp_hub(settings)
    if hub is None:
        if as_json:
            typer.echo("[]")
        else:
            typer.echo("no MCP servers declared (mcp.servers, mcp.import or --mcp-config)")
        return
    start_logging(False)
    statuses, listing = probe(hub.configs, timeout)
    if as_json:
        typer.echo(json.dumps(listing, indent=2))
    else:
        for status, entry in zip(statuses, listing, strict=True):
            typer.echo(status.line())
            for tool in entry["tools"]:
                asks = " (asks first)" if tool["asks"] else ""
                summary = tool["description"].splitlines()[0] if tool["description"] else ""
                typer.echo(f"  {tool['name']}{asks}  {summary}")
    down = [s for s in statuses if s.state not in (ServerState.READY, ServerState.DISABLED)]
    if down:
        raise typer.Exit(1)
