"""Servers that misbehave: never start, exit, hang, crash mid-call, write
garbage, drop their HTTP connection.  Each is one clear line, the call ends as
an error value, the other servers are untouched, nothing is left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.tools.mcp.config import ServerConfig
from asynclm_tui.core.tools.mcp.hub import probe
from asynclm_tui.core.tools.mcp.status import ServerState
from tests.mcp.mcp_harness import (
    SERVER,
    Calls,
    HttpServer,
    alive,
    http,
    running,
    stdio,
    wait_for,
)


def started_pids(folder: Path) -> list[int]:
    """Processes of the test server started with ``MCP_TEST_DIR=folder``."""
    return [int(p.name.split("-")[1]) for p in folder.glob("started-*")]


def test_servers_that_do_not_start_fail_alone_with_one_line(tmp_path: Path) -> None:
    env = {"MCP_TEST_DIR": str(tmp_path)}
    configs = [
        stdio("ok", env),
        ServerConfig(name="missing", transport="stdio", command="/nonexistent/mcp-server"),
        stdio("dies", {**env, "MCP_TEST_EXIT_AT_START": "7"}),
        stdio("silent", {**env, "MCP_TEST_HANG_START": "1"}, startup_timeout_s=4),
        stdio("off", env, enabled=False),
    ]
    with running(configs, tmp_path) as hub:
        status = {s.name: s for s in hub.statuses()}
        assert status["ok"].state is ServerState.READY
        lines = {name: status[name].line() for name in ("missing", "dies", "silent")}
        assert lines["missing"].startswith(
            "MCP missing: failed: cannot start '/nonexistent/mcp-server': No such file or directory"
        )
        assert "fatal: no configuration found" in lines["dies"]
        assert lines["silent"].startswith("MCP silent: failed: did not start within 4 s")
        assert status["off"].state is ServerState.DISABLED and status["off"].line() == (
            "MCP off: disabled"
        )
        assert all("\n" not in line for line in lines.values())
        assert set(hub.tools()) == {n for n in hub.tools() if n.startswith("ok.")}
        calls = Calls(hub)
        try:
            assert calls.call("a", "ok.echo", text="fine").value == "fine"
        finally:
            calls.close()
    pids = started_pids(tmp_path)
    assert len(pids) == 3  # ok, dies, silent (off never starts)
    wait_for(lambda: not any(alive(p) for p in pids), what="no server left running")


def test_a_server_that_crashes_mid_call_restarts_on_the_next_call(tmp_path: Path) -> None:
    env = {"MCP_TEST_DIR": str(tmp_path)}
    with running([stdio("c", env), stdio("other", env)], tmp_path) as hub:
        calls = Calls(hub)
        try:
            first = int(calls.call("p1", "c.pid").value)
            crash = calls.call("x", "c.crash")
            assert crash.status is CallStatus.FAILED
            assert crash.value == (
                "error: MCP server c exited: crash: the server dies now during the call"
            )
            wait_for(
                lambda: {s.name: s for s in hub.statuses()}["c"].state is ServerState.FAILED,
                what="the status to say failed",
            )
            line = {s.name: s for s in hub.statuses()}["c"].line()
            assert line.startswith("MCP c: failed: exited: crash: the server dies now")
            assert calls.call("o", "other.echo", text="untouched").value == "untouched"
            again = calls.call("p2", "c.pid")  # restarts (after its backoff) and answers
            assert again.status is CallStatus.DONE and int(again.value) != first
            status = {s.name: s for s in hub.statuses()}["c"]
            assert status.state is ServerState.READY and status.restarts == 1
        finally:
            calls.close()
    wait_for(lambda: not any(alive(p) for p in started_pids(tmp_path)), what="all stopped")


def test_a_banner_on_stdout_before_serving_is_ignored(tmp_path: Path) -> None:
    with running([stdio("b", {"MCP_TEST_BANNER": "1"})], tmp_path) as hub:
        assert hub.statuses()[0].state is ServerState.READY
        calls = Calls(hub)
        try:
            assert calls.call("n", "b.noop").value == "ok"
        finally:
            calls.close()


def test_an_http_server_that_drops_its_connection_mid_call(tmp_path: Path) -> None:
    server = HttpServer(tmp_path)
    try:
        with running([http(server.url, "h"), stdio("s")], tmp_path) as hub:
            calls = Calls(hub)
            try:
                calls.submit("long", "h.slow", ms=60_000, steps=600)
                wait_for(lambda: calls.progress.get("long"), what="the call to be running")
                server.kill()
                result = calls.wait("long")
                assert result.status is CallStatus.FAILED
                assert result.value == "error: MCP server h lost the connection during the call"
                wait_for(
                    lambda: hub.statuses()[0].state is ServerState.FAILED,
                    what="the status to say failed",
                )
                assert hub.statuses()[0].line().startswith("MCP h: failed: lost the connection")
                assert calls.call("s", "s.echo", text="stdio still fine").value == (
                    "stdio still fine"
                )
                down = calls.call("again", "h.noop")  # restart attempt: nobody listens
                assert down.status is CallStatus.FAILED
                assert down.value.startswith("error: MCP server h is not running: ")
            finally:
                calls.close()
    finally:
        server.kill()


def test_closing_leaves_no_server_process_even_with_calls_in_flight(tmp_path: Path) -> None:
    env = {"MCP_TEST_DIR": str(tmp_path)}
    with running([stdio("a", env), stdio("b", env)], tmp_path) as hub:
        calls = Calls(hub)
        calls.submit("h", "a.hang")
        wait_for(lambda: (tmp_path / "hang-started").exists(), what="a call in flight")
        pids = started_pids(tmp_path)
        assert len(pids) == 2 and all(alive(p) for p in pids)
    assert calls.wait("h").status in (CallStatus.FAILED, CallStatus.CANCELLED)
    calls.close()
    wait_for(lambda: not any(alive(p) for p in pids), what="no server left running")
    assert {s.state for s in hub.statuses()} == {ServerState.STOPPED}


EXITING = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from asynclm_tui.core.tools.mcp.approvals import ApprovalStore
    from asynclm_tui.core.tools.mcp.config import ServerConfig
    from asynclm_tui.core.tools.mcp.hub import McpHub

    folder = Path(sys.argv[1])
    # What the app does with SIGTERM: a normal exit, so atexit hooks run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    config = ServerConfig(
        name="s", transport="stdio", command=sys.executable, args=(sys.argv[2],),
        env={"MCP_TEST_DIR": str(folder)}, startup_timeout_s=90,
    )
    hub = McpHub([config], approvals=ApprovalStore(folder / "a.json"))
    hub.start()
    assert hub.wait_settled(90)
    print("ready", flush=True)
    time.sleep(3600)
    """
)


def test_sigterm_to_the_app_leaves_no_server_process(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", EXITING, str(tmp_path), str(SERVER)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        pids = started_pids(tmp_path)
        assert len(pids) == 1 and alive(pids[0])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        wait_for(lambda: not alive(pids[0]), what="the server to be gone")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_probe_gives_what_mcp_list_and_doctor_print() -> None:
    missing = ServerConfig(name="missing", transport="stdio", command="/nonexistent/mcp-server")
    statuses, listing = probe([stdio("ok"), missing], timeout=90)
    assert [s.state for s in statuses] == [ServerState.READY, ServerState.FAILED]
    ok, down = json.loads(json.dumps(listing))
    assert ok["state"] == "ready" and ok["tools"][0] == {
        "name": "ok.add_tool",
        "description": "Adds a tool and says the list changed.",
        "asks": False,
    }
    assert down["tools"] == [] and "No such file or directory" in down["reason"]
