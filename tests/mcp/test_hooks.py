"""What MCP needs from the executor and the engine, checked without a server:
progress from a running call, a runner's own timeout, a tool that left the
set while its call queued, and a tool set changed mid-chat reaching the next
answer's system prompt."""

from __future__ import annotations

import asyncio
import threading

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.api.events import Prefilled, SetTools
from asynclm_tui.core.tools.call_context import ToolTimeout, current_call
from asynclm_tui.core.tools.executor import CallRequest, CallResult, Executor, ToolHost
from asynclm_tui.core.tools.registry import ToolRegistry
from tests.engine.engine_harness import scripted

Seen = list[tuple[str, object]]


def executor(
    registry: ToolRegistry,
    seen: Seen,
    done: threading.Event,
    n: int = 1,
    queued: threading.Event | None = None,
) -> Executor:
    results: list[CallResult] = []

    def on_status(req: CallRequest, status: CallStatus) -> None:
        if queued is not None and req.id == "b" and status is CallStatus.QUEUED:
            queued.set()

    def on_result(result: CallResult) -> None:
        seen.append(("result", (result.id, result.status, result.value)))
        results.append(result)
        if len(results) == n:
            done.set()

    return Executor(
        registry,
        ToolHost(),
        on_status,
        on_result,
        max_concurrency=1,
        on_progress=lambda req, p, t, m: seen.append(("progress", (req.id, p, t, m))),
    )


def test_a_running_call_reports_progress_in_order_before_its_result() -> None:
    async def stepper() -> str:
        context = current_call.get()
        assert context is not None and context.name == "stepper"
        for i in range(3):
            # from another thread, as the MCP hub reports it
            await asyncio.to_thread(context.report, i + 1, 3, f"step {i + 1}")
        return "stepped"

    registry = ToolRegistry()
    registry.add_function("stepper", stepper, description="steps")
    seen: Seen = []
    done = threading.Event()
    ex = executor(registry, seen, done)
    ex.submit(CallRequest("s", "stepper"))
    assert done.wait(10)
    ex.host.close()
    assert seen == [
        ("progress", ("s", 1, 3, "step 1")),
        ("progress", ("s", 2, 3, "step 2")),
        ("progress", ("s", 3, 3, "step 3")),
        ("result", ("s", CallStatus.DONE, "stepped")),
    ]


def test_a_runner_timeout_ends_the_call_as_timed_out_with_its_message() -> None:
    async def idle() -> str:
        raise ToolTimeout("no result or progress for 1 s (idle timeout)")

    registry = ToolRegistry()
    registry.add_function("idle", idle, description="stalls")
    seen: Seen = []
    done = threading.Event()
    ex = executor(registry, seen, done)
    ex.submit(CallRequest("i", "idle"))
    assert done.wait(10)
    ex.host.close()
    assert seen == [
        (
            "result",
            ("i", CallStatus.TIMED_OUT, "error: no result or progress for 1 s (idle timeout)"),
        )
    ]


def test_a_call_whose_tool_left_the_set_while_it_queued_fails_cleanly() -> None:
    gate = threading.Event()
    registry = ToolRegistry()
    registry.add_function("gate", lambda: gate.wait(10) and "opened", description="waits")
    registry.add_function("gone", lambda: "never", description="removed")
    seen: Seen = []
    done = threading.Event()
    queued = threading.Event()
    ex = executor(registry, seen, done, n=2, queued=queued)
    ex.submit(CallRequest("a", "gate"))
    ex.submit(CallRequest("b", "gone"))
    assert queued.wait(10)  # behind the gate: one call at a time
    smaller = ToolRegistry()
    smaller.add_function("gate", lambda: "opened", description="waits")
    ex.registry = smaller  # an MCP server's list changed
    gate.set()
    assert done.wait(10)
    ex.host.close()
    assert ("result", ("b", CallStatus.FAILED, "error: tool 'gone' is no longer available")) in seen


def test_set_tools_mid_chat_rewrites_the_system_prompt_only_when_the_tools_change() -> None:
    extended = ToolRegistry()
    with scripted(["One.", "Two.", "Three."]) as run:
        run.turn("first")
        base_prompt = run.engine.snapshot().system_prompt
        for name, spec in run.engine._registry.tools.items():  # the same tools, a new object
            extended.tools[name] = spec
        run.post(SetTools(extended))
        run.turn("second")
        same = run.of(Prefilled)[-1]
        added = ToolRegistry(tools=dict(extended.tools))
        added.add_function("weather", lambda city: "sunny", description="Weather in a city.")
        run.post(SetTools(added))
        run.turn("third")
        changed = run.of(Prefilled)[-1]
        prompt = run.engine.snapshot().system_prompt
    assert "weather(" not in base_prompt and "weather(" in prompt
    assert same.n_evaluated < 40  # only the new turn: the prompt was kept
    # evaluated again from where the system message changed (the new tool's line on)
    assert changed.n_evaluated > 3 * same.n_evaluated
    assert run.backend.text().count("Weather in a city.") == 1
