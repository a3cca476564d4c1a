"""The local MCP server ``asynclm bench mcp`` calls (the SDK's own server API).

``python -P -m asynclm_tui.lab.bench.mcp_server [stdio]`` or ``... http
PORT_FILE`` (Streamable HTTP on 127.0.0.1, a free port written to PORT_FILE
once listening).  ``ASYNCLM_BENCH_START_DELAY_S`` makes it take that long to
start (a slow server among several).  Never imported by the chat.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations

app = MCPServer("asynclm-bench", log_level="WARNING")
READ_ONLY = ToolAnnotations(read_only_hint=True)


async def _work(ctx: Context, ms: int, what: str) -> None:
    steps = max(1, ms // 250)
    for i in range(steps):
        await ctx.report_progress(i + 1, steps, f"{what} {i + 1}/{steps}")
        await asyncio.sleep(ms / 1000 / steps)


@app.tool(annotations=READ_ONLY)
def noop() -> str:
    """Does nothing (round-trip cost)."""
    return "ok"


@app.tool(annotations=READ_ONLY)
async def weather(city: str, ms: int, ctx: Context) -> str:
    """The forecast for a city."""
    await _work(ctx, ms, "forecast")
    return f"{city}: 21 C, light wind, no rain until evening"


@app.tool(annotations=READ_ONLY)
async def trains(route: str, ms: int, ctx: Context) -> str:
    """Train times on a route."""
    await _work(ctx, ms, "timetable")
    return f"{route}: 14:04 (2 h 02), 15:04 (1 h 58), 16:34 (2 h 05)"


@app.tool(annotations=READ_ONLY)
async def museums(city: str, ms: int, ctx: Context) -> str:
    """Museums open this afternoon."""
    await _work(ctx, ms, "museums")
    return f"{city}: Musee des Confluences (to 19:00), Musee des Beaux-Arts (to 18:00)"


def serve_http(server: MCPServer, port_file: Path) -> None:
    """Serve ``server`` over Streamable HTTP on a free port of 127.0.0.1, written
    to ``port_file`` once listening (the bench's and the tests' HTTP servers)."""
    import uvicorn

    sock = socket.socket()
    # Accepted connections inherit it: without, a response written in two
    # parts waits on the client's delayed ACK (40 ms a request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(sock.getsockname()[1]))
    tmp.replace(port_file)
    config = uvicorn.Config(server.streamable_http_app(), log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    time.sleep(float(os.environ.get("ASYNCLM_BENCH_START_DELAY_S", "0")))
    if sys.argv[1:2] == ["http"]:
        serve_http(app, Path(sys.argv[2]))
    else:
        app.run()
