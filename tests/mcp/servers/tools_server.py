"""A real MCP server written with the SDK's server API, for the tests and ``bench mcp``.

``python tools_server.py stdio`` serves over stdin/stdout; ``python
tools_server.py http PORT_FILE`` serves Streamable HTTP on 127.0.0.1 (a free
port, written to PORT_FILE once listening).  Environment knobs make it
misbehave on purpose: ``MCP_TEST_BANNER`` (a line of garbage on stdout before
serving), ``MCP_TEST_HANG_START`` (never answers), ``MCP_TEST_EXIT_AT_START``
(exits with that status after a line on stderr), ``MCP_TEST_STUBBORN``
(starts a child that ignores SIGTERM; with ``hold``, the server too ignores
SIGTERM and stays after its stdin closes).  ``MCP_TEST_DIR`` is where tools
leave marks the tests read (a cancelled call, a task cancelled, pids).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import ImageContent, ToolAnnotations
from mcp_types import CLIENT_CAPABILITIES_META_KEY, INVALID_PARAMS, RequestParams

from asynclm_tui.lab.bench.mcp_server import serve_http

TASKS = "io.modelcontextprotocol/tasks"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 1992).decode()
"""2,000 bytes that say PNG (the client reports the type and size, never pixels)."""


def mark(name: str, text: str = "") -> None:
    """Leave a mark in MCP_TEST_DIR for the test to read."""
    folder = os.environ.get("MCP_TEST_DIR")
    if folder:
        Path(folder, name).write_text(text, encoding="utf-8")


class TaskParams(RequestParams):
    task_id: str
    request_state: str | None = None


class Tasks(Extension):
    """The tasks extension (SEP-2663), server side: ``long_job`` becomes a task
    for clients that declare the extension; polled with ``tasks/get``."""

    identifier = TASKS

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}

    def methods(self) -> list[MethodBinding]:
        return [
            MethodBinding("tasks/get", TaskParams, self.get),
            MethodBinding("tasks/cancel", TaskParams, self.cancel),
        ]

    async def intercept_tool_call(self, params: Any, ctx: Any, call_next: Any) -> Any:
        caps = (ctx.meta or {}).get(CLIENT_CAPABILITIES_META_KEY) or {}
        if params.name != "long_job" or TASKS not in (caps.get("extensions") or {}):
            return await call_next(ctx)
        seconds = float((params.arguments or {}).get("seconds", 1))
        task_id = str(uuid.uuid4())
        now = datetime.now(UTC).isoformat()
        job = {"start": time.monotonic(), "seconds": seconds, "status": "working", "created": now}
        job["task"] = asyncio.get_running_loop().create_task(self._work(task_id, seconds))
        self.jobs[task_id] = job
        return self._shape(task_id, result_type="task")

    async def _work(self, task_id: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.jobs[task_id]["status"] = "completed"

    def _shape(self, task_id: str, result_type: str = "complete") -> dict[str, Any]:
        job = self.jobs[task_id]
        done = min(1.0, (time.monotonic() - job["start"]) / job["seconds"])
        out: dict[str, Any] = {
            "resultType": result_type,
            "taskId": task_id,
            "status": job["status"],
            "statusMessage": f"{done:.0%} done",
            "createdAt": job["created"],
            "lastUpdatedAt": datetime.now(UTC).isoformat(),
            "ttlSeconds": 60,
            "pollIntervalMilliseconds": 50,
            "requestState": f"state-{task_id[:8]}",
        }
        if job["status"] == "completed" and result_type == "complete":
            text = f"job done after {job['seconds']:g} s"
            out["result"] = {
                "content": [{"type": "text", "text": text}],
                "structuredContent": {"result": text},
                "isError": False,
            }
        return out

    async def get(self, ctx: Any, params: TaskParams) -> dict[str, Any]:
        if params.request_state != f"state-{params.task_id[:8]}":
            raise MCPError(INVALID_PARAMS, "requestState was not echoed")
        return self._shape(params.task_id)

    async def cancel(self, ctx: Any, params: TaskParams) -> dict[str, Any]:
        job = self.jobs.get(params.task_id)
        if job is not None and job["status"] == "working":
            job["task"].cancel()
            job["status"] = "cancelled"
            mark("task-cancelled", params.task_id)
        return {}


app = MCPServer("asynclm-test", log_level="WARNING", extensions=[Tasks()])


@app.tool(annotations=ToolAnnotations(read_only_hint=True))
def noop() -> str:
    """Does nothing, at once."""
    return "ok"


@app.tool(annotations=ToolAnnotations(read_only_hint=True))
def echo(text: str) -> str:
    """Returns its text."""
    return text


@app.tool(annotations=ToolAnnotations(read_only_hint=True), meta={"estimatedDurationMs": 1500})
async def slow(ms: int, ctx: Context, steps: int = 5) -> str:
    """Works for ms milliseconds, reporting progress."""
    for i in range(steps):
        await ctx.report_progress(i + 1, steps, f"step {i + 1} of {steps}")
        await asyncio.sleep(ms / 1000 / steps)
    return f"worked {ms} ms"


@app.tool()
def fails(reason: str) -> str:
    """Always fails with the reason given."""
    raise ToolError(f"refused: {reason}")


@app.tool(annotations=ToolAnnotations(read_only_hint=True))
def picture() -> list[Any]:
    """Returns an image and a line of text."""
    return [ImageContent(type="image", data=PNG, mime_type="image/png"), "a tiny picture"]


@app.tool()
def crash() -> str:
    """Kills the server."""
    print("crash: the server dies now", file=sys.stderr, flush=True)
    os._exit(3)


@app.tool()
async def hang() -> str:
    """Never answers (but notices a cancel)."""
    mark("hang-started")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        mark("hang-cancelled")
        raise
    return "never"


@app.tool(structured_output=False)
def big(size: int) -> str:
    """Returns size bytes of text."""
    return "x" * size


WIRE = os.fstat(1)
"""The real stdout: the SDK moves the wire off fd 1 while serving (so a stray
print cannot corrupt it); a buggy server writing there anyway is found by inode."""


@app.tool()
def garbage() -> str:
    """Writes lines that are not JSON-RPC on the wire, then answers."""
    for fd in range(3, 256):
        try:
            found = os.fstat(fd)
        except OSError:
            continue
        if (found.st_dev, found.st_ino) == (WIRE.st_dev, WIRE.st_ino):
            os.write(fd, b"this is not json\n{broken\n")
            return "answered after garbage"
    return "no wire found"


@app.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@app.tool()
async def long_job(seconds: float) -> str:
    """A job run as a task for clients that can (directly otherwise)."""
    await asyncio.sleep(seconds)
    return f"job done directly after {seconds:g} s"


@app.tool(name="add-tool")
async def add_tool(name: str, ctx: Context) -> str:
    """Adds a tool and says the list changed."""

    def added() -> str:
        return f"I am {name}"

    app.add_tool(added, name=name, description=f"The added tool {name}.")
    await ctx.notify_tools_changed()  # 2026-07-28 listeners
    with contextlib.suppress(Exception):  # not every session carries it
        await ctx.session.send_tool_list_changed()  # handshake-era sessions
    return f"added {name}"


if __name__ == "__main__":
    mark(f"started-{os.getpid()}")
    if os.environ.get("MCP_TEST_EXIT_AT_START"):
        print("fatal: no configuration found", file=sys.stderr, flush=True)
        sys.exit(int(os.environ["MCP_TEST_EXIT_AT_START"]))
    if os.environ.get("MCP_TEST_HANG_START"):
        time.sleep(3600)
    if os.environ.get("MCP_TEST_BANNER"):
        print("Welcome to the test server! (not JSON)", flush=True)
    stubborn = os.environ.get("MCP_TEST_STUBBORN")
    if stubborn:
        ready = Path(os.environ.get("MCP_TEST_DIR", "."), "deaf-child")
        deaf = (
            "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "pathlib.Path(sys.argv[1]).write_text(''); time.sleep(600)"
        )
        child = subprocess.Popen(
            [sys.executable, "-c", deaf, str(ready)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:  # deaf before serving
            time.sleep(0.01)
        mark(f"child-{child.pid}")
    if sys.argv[1:2] == ["http"]:
        serve_http(app, Path(sys.argv[2]))
    else:
        app.run()
    if stubborn == "hold":  # stdin closed: stay, deaf to SIGTERM
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(600)
