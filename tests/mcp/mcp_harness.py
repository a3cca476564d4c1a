"""Real MCP servers (``servers/tools_server.py``, written with the SDK's server
API) over the real transports, and an executor to call their tools through."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.tools.executor import CallRequest, CallResult, Executor, ToolHost
from asynclm_tui.core.tools.mcp.approvals import ApprovalStore
from asynclm_tui.core.tools.mcp.config import ServerConfig
from asynclm_tui.core.tools.mcp.hub import McpHub
from asynclm_tui.core.tools.registry import ToolRegistry

SERVER = Path(__file__).parent / "servers" / "tools_server.py"
START_S = 90.0
"""A server's first start imports the SDK; generous on a loaded machine."""


def stdio(name: str = "t", env: dict[str, str] | None = None, **fields: Any) -> ServerConfig:
    """The test server over stdio."""
    fields.setdefault("startup_timeout_s", START_S)
    fields.setdefault("trust", True)
    return ServerConfig(
        name=name,
        transport="stdio",
        command=sys.executable,
        args=(str(SERVER),),
        env=env or {},
        **fields,
    )


def http(url: str, name: str = "t", **fields: Any) -> ServerConfig:
    """The test server over Streamable HTTP."""
    fields.setdefault("startup_timeout_s", START_S)
    fields.setdefault("trust", True)
    return ServerConfig(name=name, transport="http", url=url, **fields)


class HttpServer:
    """The test server over Streamable HTTP on 127.0.0.1, in a subprocess."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        port_file = folder / "port"
        port_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), "http", str(port_file)],
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_S
        while not port_file.exists():
            assert self.proc.poll() is None, "the HTTP test server exited"
            assert time.monotonic() < deadline, "the HTTP test server never listened"
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port_file.read_text()}/mcp"

    def kill(self) -> None:
        """Drop every connection at once (SIGKILL)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@contextmanager
def running(configs: Sequence[ServerConfig], folder: Path, settle: bool = True) -> Iterator[McpHub]:
    """A started hub whose approvals live in ``folder``; closed on exit."""
    hub = McpHub(configs, approvals=ApprovalStore(folder / "approvals.json"))
    hub.start()
    try:
        if settle:
            assert hub.wait_settled(START_S), [s.line() for s in hub.statuses()]
        yield hub
    finally:
        hub.close()


class Calls:
    """An executor over a hub's tools (kept in step with its list), recording
    results and progress; waits on conditions."""

    def __init__(self, hub: McpHub, *, interactive: bool = False, approval: str = "ask") -> None:
        self.hub = hub
        self.host = ToolHost()
        self.results: dict[str, CallResult] = {}
        self.progress: dict[str, list[tuple[float, float | None, str | None]]] = {}
        self.statuses: dict[str, list[CallStatus]] = {}
        self._cv = threading.Condition()
        self.executor = Executor(
            hub.registry(ToolRegistry()),
            self.host,
            self._status,
            self._result,
            interactive=interactive,
            approval=approval,
            on_progress=self._progress,
        )
        hub.on_tools_changed(self._refresh)

    def _refresh(self) -> None:
        self.executor.registry = self.hub.registry(ToolRegistry())

    def _status(self, req: CallRequest, status: CallStatus) -> None:
        with self._cv:
            self.statuses.setdefault(req.id, []).append(status)
            self._cv.notify_all()

    def _result(self, result: CallResult) -> None:
        with self._cv:
            self.results[result.id] = result
            self._cv.notify_all()

    def _progress(self, req: CallRequest, p: float, total: float | None, msg: str | None) -> None:
        with self._cv:
            self.progress.setdefault(req.id, []).append((p, total, msg))

    def submit(self, call_id: str, tool: str, /, **kwargs: Any) -> None:
        """Start a call (returns at once)."""
        self.executor.submit(CallRequest(call_id, tool, kwargs=kwargs))

    def wait(self, call_id: str, timeout: float = 60) -> CallResult:
        """The call's result, once it has one."""
        with self._cv:
            assert self._cv.wait_for(lambda: call_id in self.results, timeout), call_id
            return self.results[call_id]

    def wait_status(self, call_id: str, status: CallStatus, timeout: float = 30) -> None:
        """Until the call has been in ``status``."""
        with self._cv:
            ok = self._cv.wait_for(lambda: status in self.statuses.get(call_id, ()), timeout)
            assert ok, (call_id, status, self.statuses.get(call_id))

    def call(self, call_id: str, tool: str, /, wait_s: float = 60, **kwargs: Any) -> CallResult:
        """Run a call to its result."""
        self.submit(call_id, tool, **kwargs)
        return self.wait(call_id, wait_s)

    def close(self) -> None:
        """Cancel what runs and stop the tool loop."""
        self.executor.cancel(None)
        self.host.close()


def wait_for(predicate: Any, timeout: float = 30, what: str = "") -> None:
    """Poll ``predicate`` until it holds (for state owned by another process)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state != "Z"
