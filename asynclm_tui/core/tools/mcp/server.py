"""One MCP server, on the hub's loop: its connection, state, tool list and calls.

A connection lives in one task (the SDK's ``Client`` must be entered and left
by the same task): it starts the server (a subprocess over stdio, or Streamable
HTTP / SSE), lists the tools, follows ``tools/list_changed``, and ends when the
hub stops or the server is lost (its stderr closed: the process exited; or a
call found the connection dead).  A lost server restarts on its next call,
after a backoff that doubles with each failure in a row.  A call's timeout is
an idle timeout that progress (and each answer of a task poll) resets, under
a hard cap; cancelling a call cancels the request on the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from asynclm_tui import __version__
from asynclm_tui.core.tools.call_context import ProgressReport, ToolTimeout
from asynclm_tui.core.tools.mcp import stdio_groups
from asynclm_tui.core.tools.mcp.config import ServerConfig
from asynclm_tui.core.tools.mcp.results import result_text
from asynclm_tui.core.tools.mcp.status import ServerState
from asynclm_tui.core.tools.mcp.tasks import TaskEnded, TasksClient, task_report
from asynclm_tui.core.tools.runners import ToolFailure, one_line

log = logging.getLogger("asynclm.mcp")

MAX_BACKOFF_S = 60.0
MAX_TOOL_PAGES = 100
HTTP_CONNECT_S = 30.0
STDERR_TAIL = 20


DEAD_TRANSPORT = (
    httpx2.TransportError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    OSError,
)
"""Errors that mean the connection itself is gone (the server restarts on
its next call), as opposed to one bad answer."""


class StartFailed(Exception):
    """The server did not come up; ``str()`` is the one-line reason."""


class StderrPipe:
    """A stdio server's stderr, line by line into the log file (never the
    terminal the chat draws on); its end means the process exited."""

    def __init__(self, name: str, on_eof: Callable[[], None]) -> None:
        read_fd, write_fd = os.pipe()
        self.file = os.fdopen(write_fd, "w")
        """Handed to the SDK as the child's stderr."""
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL)
        self.closed = threading.Event()
        self._log = log.getChild(name)
        self._on_eof = on_eof
        threading.Thread(
            target=self._pump, args=(read_fd,), name=f"mcp-stderr-{name}", daemon=True
        ).start()

    def _pump(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            while raw := pipe.readline(8192):
                line = raw.decode("utf-8", errors="replace").rstrip()
                if line:
                    self.tail.append(line[:300])
                    self._log.info("%s", line[:4000])
        self.closed.set()
        self._on_eof()

    def close_writer(self) -> None:
        """Drop our copy of the write end (the child keeps its own)."""
        with contextlib.suppress(OSError):
            self.file.close()

    def last(self) -> str:
        """The last line the server wrote, or ''."""
        return self.tail[-1] if self.tail else ""


class _Watch:
    """A call's clock: an idle timeout that signs of life reset, and a hard cap."""

    def __init__(self, idle_s: float, cap_s: float, report: ProgressReport | None) -> None:
        self.idle_s, self.cap_s = idle_s, cap_s
        self.start = self.last = time.monotonic()
        self._report = report

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.last = time.monotonic()
        if self._report is not None:
            self._report(progress, total, message)

    def on_task_poll(self, polls: float, message: str | None) -> None:
        self.last = time.monotonic()
        if self._report is not None and message:
            self._report(polls, None, message)

    async def run(self, task: asyncio.Task[types.CallToolResult]) -> types.CallToolResult:
        """Wait for ``task``; cancel it (which cancels the request on the server)
        and raise :class:`ToolTimeout` when the clock runs out."""
        try:
            while True:
                now = time.monotonic()
                left = min(self.last + self.idle_s, self.start + self.cap_s) - now
                if left <= 0:
                    break
                done, _ = await asyncio.wait({task}, timeout=left)
                if done:
                    return task.result()
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if time.monotonic() >= self.start + self.cap_s:
            raise ToolTimeout(f"no result within the hard cap of {self.cap_s:g} s")
        raise ToolTimeout(f"no result or progress for {self.idle_s:g} s (idle timeout)")


class McpServer:
    """One configured server; every method runs on the hub's loop."""

    def __init__(self, config: ServerConfig, on_change: Callable[[McpServer], None]) -> None:
        self.config = config
        self.on_change = on_change
        """Called (on the loop) when state, reason or tools changed."""
        self.state = ServerState.DISABLED if not config.enabled else ServerState.STARTING
        self.reason = ""
        self.protocol = ""
        self.tools: list[types.Tool] = []
        self.restarts = 0
        self.retry_at = 0.0
        self._failures = 0
        self._client: Client | None = None
        self._conn: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._lost = asyncio.Event()
        self._stderr: StderrPipe | None = None
        self._garbage = 0
        self._refresh: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        """The server's configured name."""
        return self.config.name

    def _set(self, state: ServerState, reason: str = "") -> None:
        self.state, self.reason = state, reason
        self.on_change(self)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bring the server up (or record why not); never raises."""
        with contextlib.suppress(StartFailed):
            await self._ensure()

    async def stop(self) -> None:
        """Close the connection (stdio: stdin closed, then the process group
        terminated, then killed: the SDK's bounded shutdown; then whatever
        of the group is left, see :mod:`.stdio_groups`)."""
        self._stop.set()
        if self._conn is not None:
            with contextlib.suppress(BaseException):
                await self._conn
        if self.state is not ServerState.DISABLED:
            self._set(ServerState.STOPPED, self.reason)

    async def _ensure(self) -> Client:
        """The live client, starting or restarting the server if need be.

        Raises:
            StartFailed: the server is off, or did not come up.
        """
        if self._client is not None and not self._lost.is_set():
            return self._client
        if self.state is ServerState.DISABLED:
            raise StartFailed("it is disabled (enabled: false)")
        if self._stop.is_set():
            raise StartFailed("MCP is shutting down")
        async with self._lock:
            if self._client is not None and not self._lost.is_set():
                return self._client
            if self._conn is not None:  # a lost connection still winding down
                with contextlib.suppress(BaseException):
                    await self._conn
            if self.state is not ServerState.STARTING:
                self._set(ServerState.RESTARTING, self.reason)
            wait = self.retry_at - time.monotonic()
            if wait > 0:  # the backoff after a failure
                await asyncio.sleep(wait)
            if self._stop.is_set():
                raise StartFailed("MCP is shutting down")
            ready: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
            self._lost = asyncio.Event()
            self._conn = asyncio.get_running_loop().create_task(self._connection(ready))
            return await asyncio.shield(ready)

    def _failed(self, reason: str) -> None:
        self._failures += 1
        backoff = min(MAX_BACKOFF_S, 2.0 ** (self._failures - 1))
        self.retry_at = time.monotonic() + backoff
        log.warning("MCP server %s: %s", self.name, reason)
        self._set(ServerState.FAILED, reason)

    async def _connection(self, ready: asyncio.Future[Client]) -> None:
        if self.state is not ServerState.STARTING:
            self.restarts += 1
        lost = self._lost
        groups = stdio_groups.recording() if self.config.transport == "stdio" else []
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = await self._open(stack, lost)
                self._client = client
                self.protocol = client.protocol_version
                self._set(ServerState.READY)
                ready.set_result(client)
                await self._serve(client, lost)
        except Exception as exc:  # noqa: BLE001 - the SDK's teardown must not kill the hub
            if not ready.done():
                failure = exc if isinstance(exc, StartFailed) else StartFailed(one_line(exc))
                self._failed(str(failure))
                ready.set_exception(failure)
            else:
                log.info("MCP server %s: connection ended: %s", self.name, one_line(exc))
        finally:
            self._client = None
            await stdio_groups.end_groups(groups)  # what the SDK's shutdown left
            if not ready.done():  # cancelled (the hub is closing)
                ready.set_exception(StartFailed("closed before it started"))
            if lost.is_set() and not self._stop.is_set() and self.state is ServerState.READY:
                await self._stderr_drained()
                self._failed(self._lost_reason())
            if not ready.cancelled():
                ready.exception()  # retrieved: a start nobody awaited logs nothing

    async def _serve(self, client: Client, lost: asyncio.Event) -> None:
        """Follow the tool list until the hub stops or the server is lost."""
        listener = asyncio.create_task(self._listen(client))
        ends = {asyncio.create_task(self._stop.wait()), asyncio.create_task(lost.wait())}
        try:
            await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (listener, *ends):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            self._client = None

    async def _open(self, stack: contextlib.AsyncExitStack, lost: asyncio.Event) -> Client:
        """Start the transport, the handshake and the first tool listing.

        Raises:
            StartFailed: with the reason in one line.
        """
        config = self.config
        # asyncio's timeout, not anyio's: the client's task groups outlive this
        # block, and an anyio scope must close after everything opened in it.
        try:
            async with asyncio.timeout(config.startup_timeout_s):
                try:
                    client = await self._enter(stack, lost, sse=config.transport == "sse")
                except (MCPError, httpx2.HTTPError) as exc:
                    if not config.sse_fallback:
                        raise
                    log.info("MCP server %s: no Streamable HTTP (%s); trying SSE", self.name, exc)
                    client = await self._enter(stack, lost, sse=True)
                self.tools = await self._list_tools(client)
                return client
        except TimeoutError:
            reason = f"did not start within {config.startup_timeout_s:g} s"
            raise StartFailed(self._with_stderr(reason)) from None
        except OSError as exc:
            raise StartFailed(f"cannot start {config.command!r}: {exc.strerror or exc}") from None
        except Exception as exc:  # noqa: BLE001 - any failure to start is reported, not raised
            raise StartFailed(self._with_stderr(one_line(exc))) from None
        finally:
            if self._stderr is not None:
                self._stderr.close_writer()

    async def _enter(
        self, stack: contextlib.AsyncExitStack, lost: asyncio.Event, *, sse: bool
    ) -> Client:
        config = self.config
        transport: Any
        if config.transport == "stdio":
            loop = asyncio.get_running_loop()

            def exited() -> None:  # the stderr thread: this process is gone
                with contextlib.suppress(RuntimeError):  # the loop already closed
                    loop.call_soon_threadsafe(lost.set)

            self._stderr = StderrPipe(self.name, exited)
            params = StdioServerParameters(
                command=config.command or "",
                args=list(config.args),
                env=dict(config.env) or None,
                cwd=config.cwd,
            )
            transport = stdio_client(params, errlog=self._stderr.file)
        elif sse:
            transport = sse_client(
                config.url or "",
                headers=dict(config.headers),
                timeout=HTTP_CONNECT_S,
                sse_read_timeout=config.max_tool_timeout_s + 60,
            )
        else:
            http = httpx2.AsyncClient(
                headers=dict(config.headers),
                timeout=httpx2.Timeout(HTTP_CONNECT_S, read=config.max_tool_timeout_s + 60),
            )
            await stack.enter_async_context(http)
            transport = streamable_http_client(config.url or "", http_client=http)
        client = Client(
            transport,
            mode="legacy" if config.protocol == "legacy" else "auto",
            message_handler=self._on_message,
            client_info=types.Implementation(name="asynclm", version=__version__),
            extensions=[TasksClient()],
            cache=None,
        )
        return await stack.enter_async_context(client)

    async def _list_tools(self, client: Client) -> list[types.Tool]:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_TOOL_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools += page.tools
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    # ------------------------------------------------------------ events

    async def _stderr_drained(self) -> None:
        """Give a dead process's last stderr lines a moment to reach the tail."""
        if self._stderr is not None and not self._stderr.closed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.to_thread(self._stderr.closed.wait, 1.0), 1.5)

    def _lost_reason(self) -> str:
        if self.config.transport != "stdio":
            return "lost the connection"
        last = self._stderr.last() if self._stderr else ""
        return "exited" + (f": {last}" if last else " (nothing on stderr)")

    def _with_stderr(self, reason: str) -> str:
        last = self._stderr.last() if self._stderr else ""
        return f"{reason} (stderr: {last})" if last and last not in reason else reason

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            self._garbage += 1
            if self._garbage <= 3 or self._garbage % 100 == 0:
                log.warning(
                    "MCP server %s wrote something that is not MCP (ignored, %d so far): %s",
                    self.name,
                    self._garbage,
                    one_line(message)[:200],
                )
        elif isinstance(message, types.ToolListChangedNotification):
            self._schedule_refresh()
        elif isinstance(message, types.LoggingMessageNotification):
            log.getChild(self.name).info("%s", message.params.data)

    async def _listen(self, client: Client) -> None:
        """2026-07-28 servers send ``tools/list_changed`` only to listeners."""
        caps = client.server_capabilities.tools
        if client.protocol_version not in MODERN_PROTOCOL_VERSIONS or not (
            caps and caps.list_changed
        ):
            return
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                async for _event in subscription:
                    self._schedule_refresh()
        except Exception as exc:  # noqa: BLE001 - no listening is no refresh, not a failure
            log.info("MCP server %s: list_changed stream ended: %s", self.name, one_line(exc))

    def _schedule_refresh(self) -> None:
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.get_running_loop().create_task(self._refresh_tools())

    async def _refresh_tools(self) -> None:
        client = self._client
        if client is None:
            return
        try:
            self.tools = await self._list_tools(client)
        except Exception as exc:  # noqa: BLE001 - keep the old list
            log.warning("MCP server %s: tools/list failed: %s", self.name, one_line(exc))
            return
        log.info("MCP server %s: tool list changed (%d tools)", self.name, len(self.tools))
        self.on_change(self)

    # ------------------------------------------------------------ calls

    async def call(self, tool: str, args: dict[str, Any], report: ProgressReport | None) -> str:
        """Run one tool call to its text result.

        Raises:
            ToolFailure: the server is down, the call failed or the tool
                reported an error (``isError``).
            ToolTimeout: no result or progress within the idle timeout, or
                none within the hard cap.
        """
        try:
            client = await self._ensure()
        except StartFailed as exc:
            raise ToolFailure(f"MCP server {self.name} is not running: {exc}") from None
        watch = _Watch(self.config.tool_timeout_s, self.config.max_tool_timeout_s, report)

        async def request() -> types.CallToolResult:
            task_report.set(watch.on_task_poll)
            return await client.call_tool(tool, args, progress_callback=watch.on_progress)

        try:
            result = await watch.run(asyncio.get_running_loop().create_task(request()))
        except MCPError as exc:
            raise ToolFailure(await self._call_error(exc)) from None
        except TaskEnded as exc:
            raise ToolFailure(str(exc)) from None
        except ToolFailure:
            raise
        except DEAD_TRANSPORT as exc:
            self._lost.set()
            raise ToolFailure(f"MCP server {self.name}: connection lost: {one_line(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - a malformed result is this call's error
            raise ToolFailure(f"MCP server {self.name}: bad result: {one_line(exc)}") from None
        self._failures = 0
        return result_text(result, self.config.max_result_bytes)

    async def _call_error(self, exc: MCPError) -> str:
        if exc.code != types.CONNECTION_CLOSED:
            return f"MCP server {self.name}: {exc.message}"
        self._lost.set()
        await self._stderr_drained()
        return f"MCP server {self.name} {self._lost_reason()} during the call"
