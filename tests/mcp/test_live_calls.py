"""Calls to a real MCP server, over stdio and over Streamable HTTP on loopback:
progress, idle timeout and hard cap, cancellation reaching the server, errors,
images, a 10 MB result, garbage on the wire, tasks, list_changed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.tools.mcp.hub import McpHub
from asynclm_tui.core.tools.mcp.status import ServerState
from tests.mcp.mcp_harness import Calls, HttpServer, http, running, stdio, wait_for


@dataclass
class Served:
    hub: McpHub
    calls: Calls
    marks: Path
    transport: str

    def marked(self, name: str) -> bool:
        return (self.marks / name).exists()


@pytest.fixture(scope="module", params=["stdio", "http"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """Two servers: ``t`` (idle timeout 8 s) and ``quick`` (idle 1 s, hard cap
    2.5 s), both on the same transport."""
    folder = tmp_path_factory.mktemp(f"mcp-{request.param}")
    if request.param == "stdio":
        env = {"MCP_TEST_DIR": str(folder)}
        configs = [
            stdio("t", env, tool_timeout_s=8.0),
            stdio("quick", env, tool_timeout_s=1.0, max_tool_timeout_s=2.5),
        ]
        server = None
    else:
        server = HttpServer(folder, {"MCP_TEST_DIR": str(folder)})
        configs = [
            http(server.url, "t", tool_timeout_s=8.0),
            http(server.url, "quick", tool_timeout_s=1.0, max_tool_timeout_s=2.5),
        ]
    try:
        with running(configs, folder) as hub:
            calls = Calls(hub)
            try:
                yield Served(hub, calls, folder, request.param)
            finally:
                calls.close()
    finally:
        if server is not None:
            server.kill()


def test_tools_are_listed_as_server_dot_tool_with_their_schema(served: Served) -> None:
    tools = served.hub.tools()
    assert {"t.noop", "t.slow", "t.add_tool", "quick.hang"} <= set(tools)
    slow = tools["t.slow"]
    assert slow.parameters["required"] == ["ms"] and slow.param_names == ["ms", "steps"]
    assert slow.description == "Works for ms milliseconds, reporting progress."
    assert slow.estimated_ms == 1500  # the server's _meta hint
    assert tools["t.noop"].estimated_ms == 1000  # no hint: the default, until runs refine it
    status = {s.name: s for s in served.hub.statuses()}["t"]
    assert status.state is ServerState.READY and status.tools == len(
        [n for n in tools if n.startswith("t.")]
    )
    assert status.line() == f"MCP t: ready, {status.tools} tools"
    assert status.protocol  # negotiated


def test_a_call_returns_its_text(served: Served) -> None:
    result = served.calls.call("echo", "t.echo", text="hello over " + served.transport)
    assert result.status is CallStatus.DONE and result.value == "hello over " + served.transport


def test_progress_reaches_the_call_and_resets_the_idle_timeout(served: Served) -> None:
    # 2.5 s of work on a server whose idle timeout is 1 s: progress every 0.25 s keeps it alive
    result = served.calls.call("p", "quick.slow", ms=2000, steps=10)
    assert result.status is CallStatus.DONE, result.value
    assert result.value == "worked 2000 ms"
    progress = served.calls.progress["p"]
    assert [p for p, _, _ in progress] == [float(i) for i in range(1, 11)]
    assert progress[-1] == (10.0, 10.0, "step 10 of 10")


def test_the_hard_cap_ends_a_call_that_keeps_reporting_progress(served: Served) -> None:
    result = served.calls.call("cap", "quick.slow", ms=20000, steps=80)
    assert result.status is CallStatus.TIMED_OUT
    assert result.value == "error: no result within the hard cap of 2.5 s"
    assert len(served.calls.progress["cap"]) >= 2


def test_a_call_that_never_answers_times_out_and_is_cancelled_on_the_server(
    served: Served,
) -> None:
    (served.marks / "hang-cancelled").unlink(missing_ok=True)
    result = served.calls.call("h", "quick.hang")
    assert result.status is CallStatus.TIMED_OUT
    assert result.value == "error: no result or progress for 1 s (idle timeout)"
    wait_for(lambda: served.marked("hang-cancelled"), what="the server saw the cancel")


def test_cancelling_a_call_cancels_the_request_on_the_server(served: Served) -> None:
    for mark in ("hang-started", "hang-cancelled"):
        (served.marks / mark).unlink(missing_ok=True)
    served.calls.submit("c", "t.hang")
    wait_for(lambda: served.marked("hang-started"), what="the server running the call")
    served.calls.executor.cancel("c")
    assert served.calls.wait("c").status is CallStatus.CANCELLED
    wait_for(lambda: served.marked("hang-cancelled"), what="the server saw the cancel")


def test_a_tool_error_is_an_error_value(served: Served) -> None:
    result = served.calls.call("f", "t.fails", reason="no disk")
    assert result.status is CallStatus.FAILED and not result.ok
    assert result.value.startswith("error: ") and "refused: no disk" in result.value


def test_an_image_becomes_a_placeholder_with_type_and_size(served: Served) -> None:
    result = served.calls.call("i", "t.picture")
    assert result.value == "[image image/png, 2.0 KB]\na tiny picture"


def test_a_10_mb_result_is_cut_and_the_server_stays_usable(served: Served) -> None:
    result = served.calls.call("b", "t.big", wait_s=120, size=10_000_000)
    assert result.status is CallStatus.DONE
    assert result.value.endswith("…[result cut at 65,536 of 10,000,000 bytes]")
    assert len(result.value.encode()) < 66_000
    assert served.calls.call("b2", "t.echo", text="still here").value == "still here"


def test_garbage_on_the_wire_is_ignored(served: Served) -> None:
    if served.transport != "stdio":
        pytest.skip("stdout is stdio's wire")
    result = served.calls.call("g", "t.garbage")
    assert result.value == "answered after garbage"
    assert served.calls.call("g2", "t.echo", text="fine").value == "fine"


def test_a_task_capable_tool_runs_as_a_task(served: Served) -> None:
    result = served.calls.call("job", "t.long_job", seconds=0.6)
    assert result.status is CallStatus.DONE
    assert result.value == "job done after 0.6 s"  # the task's result, not the direct path's
    messages = [m for _, _, m in served.calls.progress["job"]]
    assert messages and all(m.endswith("% done") for m in messages)


def test_cancelling_a_task_cancels_it_on_the_server(served: Served) -> None:
    (served.marks / "task-cancelled").unlink(missing_ok=True)
    served.calls.submit("long", "t.long_job", seconds=60)
    wait_for(lambda: served.calls.progress.get("long"), what="the first poll")
    served.calls.executor.cancel("long")
    assert served.calls.wait("long").status is CallStatus.CANCELLED
    wait_for(lambda: served.marked("task-cancelled"), what="tasks/cancel on the server")


def test_list_changed_updates_the_tools(served: Served) -> None:
    name = f"fresh_{served.transport}"
    result = served.calls.call("add", "t.add_tool", name=name)
    assert result.value == f"added {name}"
    wait_for(lambda: f"t.{name}" in served.hub.tools(), what="the new tool")
    wait_for(lambda: f"t.{name}" in served.calls.executor.registry, what="the executor's list")
    assert served.calls.call("new", f"t.{name}").value == f"I am {name}"
