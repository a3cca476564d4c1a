"""The executor: LPT ready queue, failures as values, cancel, approval."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from asynclm_tui.core.api.enums import CallStatus, Decision
from asynclm_tui.core.settings.paths import shipped_tools_dir
from asynclm_tui.core.tools.executor import CallRequest, CallResult, Executor, ToolHost
from asynclm_tui.core.tools.registry import ToolRegistry

FIXTURES = Path(__file__).parent.parent / "fixtures" / "tools"


class Harness:
    """An executor on a real tool loop, recording statuses and results."""

    def __init__(self, registry: ToolRegistry, **kw: object) -> None:
        self.host = ToolHost()
        self.statuses: list[tuple[str, CallStatus]] = []
        self.results: dict[str, CallResult] = {}
        self.started: list[str] = []
        self._cv = threading.Condition()
        self.executor = Executor(registry, self.host, self._status, self._result, **kw)  # type: ignore[arg-type]

    def _status(self, req: CallRequest, status: CallStatus) -> None:
        cid = req.id
        with self._cv:
            self.statuses.append((cid, status))
            if status is CallStatus.RUNNING:
                self.started.append(cid)
            self._cv.notify_all()

    def _result(self, res: CallResult) -> None:
        with self._cv:
            self.results[res.id] = res
            self._cv.notify_all()

    def run(self, *reqs: CallRequest, timeout: float = 10) -> dict[str, CallResult]:
        for req in reqs:
            self.executor.submit(req)
        return self.wait({r.id for r in reqs}, timeout)

    def wait(self, ids: set[str], timeout: float = 10) -> dict[str, CallResult]:
        with self._cv:
            assert self._cv.wait_for(lambda: ids <= set(self.results), timeout)
        return {i: self.results[i] for i in ids}

    def wait_status(self, cid: str, status: CallStatus, timeout: float = 10) -> None:
        with self._cv:
            assert self._cv.wait_for(lambda: (cid, status) in self.statuses, timeout)

    def close(self) -> None:
        self.host.close()


@pytest.fixture
def registry() -> ToolRegistry:
    reg = ToolRegistry.load([shipped_tools_dir(), FIXTURES])

    async def slow(ms: int) -> str:
        await asyncio.sleep(ms / 1000)
        return f"{ms}"

    def boom() -> str:
        raise RuntimeError("kaboom")

    reg.add_function(
        "short",
        slow,
        description="short",
        estimated_ms=10,
        parameters={"type": "object", "properties": {"ms": {"type": "integer"}}},
    )
    reg.add_function(
        "long",
        slow,
        description="long",
        estimated_ms=900,
        parameters={"type": "object", "properties": {"ms": {"type": "integer"}}},
    )
    reg.add_function("boom", boom, description="raises")
    return reg


@pytest.fixture
def harness(registry: ToolRegistry) -> Iterator[Harness]:
    h = Harness(registry)
    yield h
    h.close()


def test_failures_come_back_as_values(harness: Harness) -> None:
    res = harness.run(
        CallRequest("u", "nosuch", kwargs={"x": 1}),
        CallRequest("s", "sleep", kwargs={"ms": "soon"}),
        CallRequest("t", "nap", kwargs={"s": "5"}),
        CallRequest("b", "boom"),
        CallRequest("c", "calc", kwargs={"expression": "1/0"}),
        CallRequest("f", "fail_cmd"),
        CallRequest("ok", "calc", kwargs={"expression": "2**10"}),
    )
    assert res["u"].status is CallStatus.FAILED and "unknown tool 'nosuch'" in res["u"].value
    assert res["s"].status is CallStatus.FAILED and "bad arguments" in res["s"].value
    assert res["t"].status is CallStatus.TIMED_OUT and "timed out after 0.3 s" in res["t"].value
    assert res["b"].status is CallStatus.FAILED and "RuntimeError: kaboom" in res["b"].value
    assert "division by zero" in res["c"].value
    assert "exit status 3" in res["f"].value
    assert all(r.value.startswith("error: ") for k, r in res.items() if k != "ok")
    assert res["ok"].ok and res["ok"].value == "1024"


def test_lpt_order_when_slots_are_full(registry: ToolRegistry) -> None:
    h = Harness(registry, max_concurrency=1)
    try:
        h.run(
            CallRequest("block", "short", kwargs={"ms": 200}),
            CallRequest("s1", "short", kwargs={"ms": 1}),
            CallRequest("l1", "long", kwargs={"ms": 1}),
            CallRequest("s2", "short", kwargs={"ms": 1}),
        )
        # "block" took the only slot; of the queued calls the longest estimate runs first.
        assert h.started[:2] == ["block", "l1"]
    finally:
        h.close()


def test_estimates_follow_observed_durations(harness: Harness) -> None:
    before = harness.executor.estimate_ms("long")
    harness.run(CallRequest("a", "long", kwargs={"ms": 10}))
    after = harness.executor.estimate_ms("long")
    assert after < before  # moving average pulled toward the ~10 ms observed


def test_a_duration_argument_is_the_estimate(registry: ToolRegistry) -> None:
    h = Harness(registry, max_concurrency=1)
    try:
        h.run(
            CallRequest("block", "short", kwargs={"ms": 200}),
            CallRequest("l1", "long", kwargs={"ms": 1}),
            CallRequest("s1", "sleep", kwargs={"ms": 5}),
            CallRequest("s2", "sleep", kwargs={"ms": 1000}),
        )
        # sleep(ms=1000) says it takes 1 s, longer than long's 900 ms estimate;
        # sleep(ms=5) is expected to take 5 ms.
        assert h.started == ["block", "s2", "l1", "s1"]
        # What the call asks wins over the moving average of earlier runs.
        assert h.executor.estimate_ms("sleep", (), {"ms": 30000}) == 30000
        assert h.executor.estimate_ms("sleep") != 30000
    finally:
        h.close()


def test_cancel_one_and_all(harness: Harness) -> None:
    harness.executor.submit(CallRequest("a", "long", kwargs={"ms": 5000}))
    harness.executor.submit(CallRequest("b", "long", kwargs={"ms": 5000}))
    harness.wait_status("a", CallStatus.RUNNING)
    harness.executor.cancel("a")
    res = harness.wait({"a"})
    assert res["a"].status is CallStatus.CANCELLED and "b" not in harness.results
    harness.executor.cancel(None)
    assert harness.wait({"b"})["b"].status is CallStatus.CANCELLED


def test_approval_flow(registry: ToolRegistry, tmp_path: Path) -> None:
    h = Harness(registry, interactive=True)
    note = str(tmp_path / "notes.md")
    try:
        h.executor.submit(CallRequest("n1", "save_note", kwargs={"text": "hi", "path": note}))
        h.wait_status("n1", CallStatus.AWAITING_APPROVAL)
        h.executor.approve("n1", Decision.DENY)
        assert h.wait({"n1"})["n1"].status is CallStatus.DENIED
        h.executor.submit(CallRequest("n2", "save_note", kwargs={"text": "hi", "path": note}))
        h.wait_status("n2", CallStatus.AWAITING_APPROVAL)
        h.executor.approve("n2", Decision.ALWAYS)
        assert h.wait({"n2"})["n2"].ok
        h.run(CallRequest("n3", "save_note", kwargs={"text": "again", "path": note}))
        assert (tmp_path / "notes.md").read_text().count("\n") == 2  # n3 needed no approval
    finally:
        h.close()


def test_non_interactive_confirm_tools_fail_closed(harness: Harness) -> None:
    res = harness.run(CallRequest("n", "save_note", kwargs={"text": "x"}))
    assert res["n"].status is CallStatus.DENIED and "--yes" in res["n"].value


def test_results_carry_their_tools_injection_budget(registry: ToolRegistry) -> None:
    registry.add_function("tight", lambda: "x", description="small budget", max_result_tokens=7)
    h = Harness(registry, max_result_tokens=300)
    try:
        res = h.run(
            CallRequest("t", "tight"),
            CallRequest("c", "calc", kwargs={"expression": "1"}),
            CallRequest("u", "nosuch"),
        )
    finally:
        h.close()
    assert (res["t"].budget, res["c"].budget, res["u"].budget) == (7, 300, 300)
