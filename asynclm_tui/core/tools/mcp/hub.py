"""Every MCP server of a chat, on their own thread and asyncio loop.

The engine's decode thread and the tool executor never wait on MCP: servers
start in the background (:meth:`McpHub.start` returns at once; the MCP SDK is
imported there, on the hub's thread), each server's state is readable at any
time (:meth:`McpHub.statuses`) and announced to subscribers, and the tools
offered to the model follow the servers (:meth:`McpHub.attach` hands the
tool set to the engine whenever it changes).  A call made by the
executor crosses to the hub's loop and back; cancelling it there cancels the
request on the server.  :meth:`McpHub.close` (also run at exit) stops every
server, leaving no stdio process behind.

Nothing in this module imports the SDK at import time.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from asynclm_tui.core.tools.call_context import ProgressReport, current_call
from asynclm_tui.core.tools.mcp.approvals import ApprovalStore
from asynclm_tui.core.tools.mcp.config import ServerConfig, collect_servers
from asynclm_tui.core.tools.mcp.naming import unique_identifiers
from asynclm_tui.core.tools.mcp.status import ServerState, ServerStatus
from asynclm_tui.core.tools.mcp.tools import McpToolRef, build_specs
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.core.tools.runners import ToolFailure
from asynclm_tui.core.tools.spec import ToolSpec

if TYPE_CHECKING:
    from asynclm_tui.core.settings.config import Settings
    from asynclm_tui.core.tools.mcp.server import McpServer

log = logging.getLogger("asynclm.mcp")

SETTLED = (ServerState.READY, ServerState.FAILED, ServerState.DISABLED, ServerState.STOPPED)
RETRYING = (ServerState.FAILED, ServerState.RESTARTING)
CLOSE_TIMEOUT_S = 12.0
"""Long enough for the SDK's stdio shutdown (stdin closed, 2 s, SIGTERM, 2 s,
SIGKILL) of every server at once."""

StatusListener = Callable[[ServerStatus], None]


class McpHub:
    """The MCP servers of one chat, their states and their tools."""

    def __init__(
        self, servers: Sequence[ServerConfig], *, approvals: ApprovalStore | None = None
    ) -> None:
        self.configs = list(servers)
        self.approvals = approvals or ApprovalStore()
        self.prefixes = unique_identifiers(c.name for c in self.configs)
        """Server name -> the first part of its tools' names."""
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._status = {c.name: self._initial(c) for c in self.configs}
        self._specs: dict[str, dict[str, ToolSpec]] = {c.name: {} for c in self.configs}
        self._status_listeners: list[StatusListener] = []
        self._tool_listeners: list[Callable[[], None]] = []
        self._servers: dict[str, McpServer] = {}
        self._built: dict[str, tuple[int, int]] = {}
        self._approvals_version = 0
        self._shadowed: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._booted = threading.Event()
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings, extra_files: Iterable[Path] = ()) -> McpHub:
        """The servers of ``settings`` plus ``--mcp-config`` files (not started).

        Raises:
            UserFileError: a bad file or entry, as ``file:line: problem``.
        """
        return cls(collect_servers(settings, extra_files))

    def _initial(self, config: ServerConfig) -> ServerStatus:
        state = ServerState.STARTING if config.enabled else ServerState.DISABLED
        return ServerStatus(
            config.name, state, config.transport, config.target(), source=config.source
        )

    # ------------------------------------------------------------ reading

    def statuses(self) -> tuple[ServerStatus, ...]:
        """Every server's state now, in configuration order."""
        with self._lock:
            return tuple(self._status[c.name] for c in self.configs)

    def tools(self) -> dict[str, ToolSpec]:
        """The MCP tools offered now, by name."""
        with self._lock:
            return {name: spec for specs in self._specs.values() for name, spec in specs.items()}

    def registry(self, base: ToolRegistry) -> ToolRegistry:
        """``base`` (the YAML tools) plus the MCP tools; a YAML tool keeps its
        name when an MCP tool would take it."""
        merged = ToolRegistry(tools=dict(base.tools), errors=list(base.errors))
        for name, spec in self.tools().items():
            if name in merged.tools:
                if name not in self._shadowed:
                    self._shadowed.add(name)
                    log.warning("MCP tool %s left out: a tool of that name is loaded", name)
                continue
            merged.tools[name] = spec
        return merged

    def listing(self) -> list[dict[str, Any]]:
        """Each server's status with its tools (``mcp list --json``)."""
        tools = self.tools()
        out = []
        for status in self.statuses():
            prefix = self.prefixes[status.name] + "."
            entry = status.to_json()
            entry["tools"] = [
                {"name": n, "description": t.description, "asks": t.confirm}
                for n, t in sorted(tools.items())
                if n.startswith(prefix)
            ]
            out.append(entry)
        return out

    def subscribe(self, listener: StatusListener) -> None:
        """Call ``listener`` (on the hub's thread) with each server's new status."""
        with self._lock:
            self._status_listeners.append(listener)

    def on_tools_changed(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the hub's thread) whenever :meth:`tools` changes."""
        with self._lock:
            self._tool_listeners.append(listener)

    def attach(self, apply: Callable[[ToolRegistry], None], base: ToolRegistry) -> None:
        """Keep an engine's tools in step: ``apply`` gets ``base`` plus the MCP
        tools now, and again at each change (the next answer sees them;
        :func:`~asynclm_tui.core.decode.from_settings.follow_mcp_tools` posts
        them to an engine)."""
        self.on_tools_changed(lambda: apply(self.registry(base)))
        apply(self.registry(base))

    def wait_settled(self, timeout: float | None = None) -> bool:
        """Block until no server is starting or restarting (True), or ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not all(s.state in SETTLED for s in self._status.values()):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(left)
            return True

    # ------------------------------------------------------------ control

    def start(self) -> None:
        """Start every enabled server in the background; returns at once."""
        if self._thread is not None or self._closed:
            return
        _route_sdk_logs()
        self._thread = threading.Thread(target=self._run, name="asynclm-mcp", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def restart(self, name: str) -> None:
        """Bring a failed server back now (no backoff)."""
        self._submit(self._restart(name))

    def remember_approval(self, tool: str, scope: Literal["tool", "server"]) -> bool:
        """Persist "always this tool" or "always this server" for the MCP tool
        ``tool`` (its ``server.tool`` name); its tools stop asking from the next
        ``SetTools``.  False when ``tool`` is no MCP tool."""
        spec = self.tools().get(tool)
        ref = getattr(spec.handler, "__self__", None) if spec is not None else None
        if not isinstance(ref, McpToolRef):
            return False
        config = next(c for c in self.configs if c.name == ref.server)
        key = ApprovalStore.key(config.name, config.fingerprint)
        if scope == "server":
            self.approvals.allow_server(key)
        else:
            self.approvals.allow_tool(key, ref.tool)
        with self._lock:
            self._approvals_version += 1
        self._submit(self._rebuild_all())
        return True

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Stop every server and the hub's thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if threading.current_thread() is thread:
            raise RuntimeError("McpHub.close() called from the hub's own thread")
        self._booted.wait(timeout)
        try:
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            fut.result(timeout)
        except Exception as exc:  # noqa: BLE001 - closing regardless
            log.warning("MCP servers did not all stop in %.0f s: %s", timeout, exc)
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=2)

    # ------------------------------------------------------------ the hub's thread

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_log_loop_error)
        self._loop = loop
        try:
            from asynclm_tui.core.tools.mcp.server import McpServer  # the SDK loads here

            for config in self.configs:
                self._servers[config.name] = McpServer(config, self._server_changed)
        except Exception as exc:  # noqa: BLE001 - no SDK means no MCP, not no chat
            log.exception("the MCP client could not load")
            for config in self.configs:
                if config.enabled:
                    self._publish(
                        replace(
                            self._initial(config),
                            state=ServerState.FAILED,
                            reason=f"the MCP SDK could not load: {exc}",
                        )
                    )
        self._booted.set()
        for server in self._servers.values():
            if server.config.enabled and not self._closed:
                loop.create_task(server.start())
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _submit(self, coro: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            return
        asyncio.run_coroutine_threadsafe(coro, loop)

    async def _shutdown(self) -> None:
        await asyncio.gather(*(s.stop() for s in self._servers.values()), return_exceptions=True)

    async def _restart(self, name: str) -> None:
        server = self._servers.get(name)
        if server is not None and server.state in (ServerState.FAILED, ServerState.STOPPED):
            server.retry_at = 0.0
            await server.start()

    async def _rebuild_all(self) -> None:
        for server in self._servers.values():
            self._server_changed(server)

    def _server_changed(self, server: McpServer) -> None:
        """On the loop: refresh the server's status and, when its tool list
        or the approvals changed, its tool specs."""
        config = server.config
        with self._lock:
            version = (id(server.tools), self._approvals_version)
            rebuild = self._built.get(config.name) != version
        specs, skipped = self._specs[config.name], self._status[config.name].skipped
        if rebuild:
            key = ApprovalStore.key(config.name, config.fingerprint)
            specs, skipped = build_specs(
                config,
                self.prefixes[config.name],
                server.tools,
                approved=lambda tool: self.approvals.allowed(key, tool),
                call=self._call_from_tool_loop,
            )
        retry = server.retry_at - time.monotonic()
        status = ServerStatus(
            config.name,
            server.state,
            config.transport,
            config.target(),
            tools=len(specs),
            reason=server.reason,
            protocol=server.protocol,
            restarts=server.restarts,
            retry_in_s=retry if retry > 0 and server.state in RETRYING else None,
            skipped=skipped,
            source=config.source,
        )
        tools_changed = False
        with self._lock:
            if rebuild:
                self._built[config.name] = version
                tools_changed = _shape(specs) != _shape(self._specs[config.name])
                self._specs[config.name] = specs
        self._publish(status)
        if tools_changed:
            for listener in list(self._tool_listeners):
                _safely(listener)

    def _publish(self, status: ServerStatus) -> None:
        with self._changed:
            self._status[status.name] = status
            listeners = list(self._status_listeners)
            self._changed.notify_all()
        for listener in listeners:
            _safely(listener, status)

    async def _call_from_tool_loop(self, ref: McpToolRef, args: dict[str, Any]) -> str:
        """Runs on the executor's loop: hand the call to the hub's loop."""
        context = current_call.get()
        loop = self._loop
        if loop is None or loop.is_closed() or self._closed:
            raise ToolFailure("the MCP servers are not running")
        fut = asyncio.run_coroutine_threadsafe(
            self._call(ref.server, ref.tool, args, context.report if context else None), loop
        )
        return await asyncio.wrap_future(fut)

    async def _call(
        self, server: str, tool: str, args: dict[str, Any], report: ProgressReport | None
    ) -> str:
        return await self._servers[server].call(tool, args, report)


def _shape(specs: dict[str, ToolSpec]) -> list[tuple[str, str, str, bool]]:
    """What of a tool set matters to the engine (prompt, grammar, approval)."""
    return sorted((n, s.description, repr(s.parameters), s.confirm) for n, s in specs.items())


def _safely(listener: Callable[..., None], *args: Any) -> None:
    try:
        listener(*args)
    except Exception:
        log.exception("MCP listener %r failed", listener)


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    log.warning("MCP loop: %s", context.get("message"), exc_info=context.get("exception"))


class _Forward(logging.Handler):
    """The SDK's log records, into the project's log file (never the terminal)."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger("asynclm.mcp.sdk").handle(record)


def _route_sdk_logs() -> None:
    for name, level in (("mcp", logging.INFO), ("httpx2", logging.WARNING)):
        logger = logging.getLogger(name)
        if not logger.handlers:  # an embedding app's own setup is left alone
            logger.addHandler(_Forward())
            logger.setLevel(level)
            logger.propagate = False


def probe(
    configs: Sequence[ServerConfig], timeout: float = 60.0
) -> tuple[tuple[ServerStatus, ...], list[dict[str, Any]]]:
    """Start ``configs``, wait up to ``timeout`` for each to be ready or
    failed, then stop them: the statuses and the listing as they were
    (what ``mcp list [--json]`` and ``doctor`` print)."""
    hub = McpHub(configs)
    hub.start()
    try:
        hub.wait_settled(timeout)
        return hub.statuses(), hub.listing()
    finally:
        hub.close()
