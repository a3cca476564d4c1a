"""Tools misbehaving in every way we know: each ends as an error value for
the model, the loop goes on, nothing hangs."""

from __future__ import annotations

import asyncio
import http.server
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.tools.executor import CallRequest
from asynclm_tui.core.tools.registry import ToolRegistry
from tests.unit.test_executor import Harness

PY = sys.executable
TEN_MB = 10 * 1024 * 1024


def command_tools(tmp_path: Path) -> Path:
    """Command tools that hang, crash, flood and write bytes that are not UTF-8."""
    path = tmp_path / "bad.yaml"

    def tool(name: str, code: str, extra: str = "") -> str:
        return (
            f"- name: {name}\n  description: {name}\n  estimated_ms: 10\n{extra}"
            f"  command: [{PY!r}, -c, {code!r}]\n"
        )

    path.write_text(
        tool("hang", "import time; time.sleep(60)", "  timeout_s: 0.5\n")
        + tool("crash", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
        + tool("raise", "raise SystemExit('bad things')")
        + tool("flood", f"import sys; sys.stdout.write('x' * {TEN_MB})")
        + tool("binary", "import sys; sys.stdout.buffer.write(b'ok \\xff\\xfe\\xc3 end')")
    )
    return path


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(ToolRegistry.load([command_tools(tmp_path)]))
    yield h
    h.close()


def test_command_tools_that_hang_crash_flood_or_write_bytes(harness: Harness) -> None:
    t0 = time.monotonic()
    res = harness.run(
        CallRequest("h", "hang"),
        CallRequest("c", "crash"),
        CallRequest("r", "raise"),
        CallRequest("f", "flood"),
        CallRequest("b", "binary"),
        timeout=30,
    )
    assert time.monotonic() - t0 < 20  # the hang was cut at its timeout
    assert res["h"].status is CallStatus.TIMED_OUT and "timed out after 0.5 s" in res["h"].value
    assert res["c"].status is CallStatus.FAILED and "exit status -11" in res["c"].value
    assert res["r"].status is CallStatus.FAILED and "bad things" in res["r"].value
    flood = res["f"]
    assert flood.status is CallStatus.DONE
    assert len(flood.value) < 20_000 and "output cut at 16384 bytes" in flood.value
    assert res["b"].status is CallStatus.DONE and res["b"].value == "ok \ufffd\ufffd\ufffd end"


def test_a_tool_that_returns_while_being_cancelled() -> None:
    entered = threading.Event()

    async def stubborn() -> str:
        entered.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return "I refuse to be cancelled"  # swallowing the cancellation
        return "slept"

    reg = ToolRegistry()
    reg.add_function("stubborn", stubborn, description="ignores cancel")
    h = Harness(reg)
    try:
        h.executor.submit(CallRequest("s", "stubborn"))
        assert entered.wait(10)
        h.executor.cancel("s")
        res = h.wait({"s"})["s"]
        assert res.status is CallStatus.CANCELLED and not res.ok
        assert res.value == "error: cancelled"
        # The loop still works afterwards.
        reg.add_function("fine", lambda: "fine", description="fine")
        assert h.run(CallRequest("ok", "fine"))["ok"].value == "fine"
    finally:
        h.close()


def test_a_hundred_calls_in_flight_run_eight_at_a_time() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    async def work(n: int) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        await asyncio.sleep(0.02)
        with lock:
            running -= 1
        return str(n)

    reg = ToolRegistry()
    reg.add_function(
        "work",
        work,
        description="work",
        parameters={"type": "object", "properties": {"n": {"type": "integer"}}},
    )
    h = Harness(reg, max_concurrency=8)
    try:
        res = h.run(
            *[CallRequest(f"w{n}", "work", kwargs={"n": n}) for n in range(100)], timeout=60
        )
    finally:
        h.close()
    assert {r.value for r in res.values()} == {str(n) for n in range(100)}
    assert all(r.status is CallStatus.DONE for r in res.values())
    assert peak == 8


class _Handler(http.server.BaseHTTPRequestHandler):
    stall = threading.Event()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.startswith("/500"):
            self.send_response(500)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"internal trouble")
        elif self.path.startswith("/stall"):
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"partial")
            self.wfile.flush()
            self.stall.wait(30)
        elif self.path.startswith("/cut"):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"only a little")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"fine")


@pytest.fixture
def server() -> Iterator[str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    _Handler.stall.set()
    srv.shutdown()
    srv.server_close()
    _Handler.stall.clear()


def test_http_tools_whose_server_fails(server: str, tmp_path: Path) -> None:
    path = tmp_path / "http.yaml"
    path.write_text(
        "".join(
            f"- name: get_{name}\n  description: 'answers {name}'\n  timeout_s: 1\n"
            f"  http: {{url: '{server}/{name}'}}\n"
            for name in ("500", "stall", "cut", "ok")
        )
    )
    h = Harness(ToolRegistry.load([path]))
    try:
        t0 = time.monotonic()
        res = h.run(
            *[CallRequest(n, f"get_{n}") for n in ("500", "stall", "cut", "ok")], timeout=30
        )
    finally:
        h.close()
    assert time.monotonic() - t0 < 15
    assert res["500"].status is CallStatus.FAILED
    assert res["500"].value == "error: HTTP 500: internal trouble"
    assert res["stall"].status is CallStatus.TIMED_OUT
    assert res["cut"].status is CallStatus.FAILED and "HTTP request failed" in res["cut"].value
    assert res["ok"].value == "fine"
