"""Command tools end when their time is up and leave no process behind
(issue 36, finding 3): a tool that ignores SIGTERM, one that backgrounds a
child, calls running when the executor closes or the interpreter exits, and
a sync Python tool abandoned at its timeout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.tools.executor import AT_EXIT, CallRequest
from asynclm_tui.core.tools.process_groups import KILL_GRACE_S, live_groups
from asynclm_tui.core.tools.registry import ToolRegistry
from tests.conftest import ROOT
from tests.unit.test_executor import Harness

PY = sys.executable
SLACK_S = 0.5
"""Room for a loaded machine on top of a bound the design guarantees."""


def running(marker: str) -> list[int]:
    """Pids of live (not zombie) processes whose argv holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        state = stat[stat.rfind(b")") + 2 :].split()[0]
        if marker.encode() in argv and state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def wait_until(check: object, timeout: float) -> bool:
    """Poll ``check()`` until true or ``timeout`` (a condition, not a sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return bool(check())  # type: ignore[operator]


def tools_file(tmp_path: Path, marker: str, timeout_s: float = 2) -> Path:
    """Tools that misbehave with processes; every process they start carries
    ``marker`` in its argv."""
    # The shell and its child both ignore SIGTERM; the child holds the pipes.
    ignore_term = f"trap '' TERM; {PY} -c 'import time; time.sleep(100)' {marker}"
    spawn = f"{PY} -c 'import time; time.sleep(300)' {marker} & echo started"
    text = f"""
- name: stubborn
  description: ignores SIGTERM
  timeout_s: {timeout_s}
  command: [sh, -c, {ignore_term!r}]
- name: spawner
  description: leaves a child running
  command: [sh, -c, {spawn!r}]
- name: long
  description: runs a long time
  command: [{PY!r}, -c, 'import time; time.sleep(300)', {marker}]
"""
    path = tmp_path / "procs.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def marker() -> Iterator[str]:
    mark = f"asynclm-test-{uuid.uuid4().hex}"
    yield mark
    for pid in running(mark):  # never leave the machine dirty, whatever failed
        os.kill(pid, 9)


@pytest.fixture
def harness(tmp_path: Path, marker: str) -> Iterator[Harness]:
    h = Harness(ToolRegistry.load([tools_file(tmp_path, marker)]))
    yield h
    h.close()


def test_a_tool_ignoring_sigterm_returns_at_its_timeout_plus_the_grace(
    harness: Harness, marker: str, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(2):
        t0 = time.monotonic()
        res = harness.run(CallRequest(f"s{i}", "stubborn"), timeout=30)[f"s{i}"]
        took = time.monotonic() - t0
        assert res.status is CallStatus.TIMED_OUT and res.value == "error: timed out after 2 s"
        assert 2 <= took <= 2 + KILL_GRACE_S + SLACK_S, took
        assert running(marker) == []
        assert live_groups() == frozenset()
    # The command was reaped by asyncio, not behind its back.
    assert not [r for r in caplog.records if "Unknown child process" in r.getMessage()]


def test_a_tool_that_backgrounds_a_child_returns_at_once_and_the_child_ends(
    harness: Harness, marker: str
) -> None:
    t0 = time.monotonic()
    res = harness.run(CallRequest("b", "spawner"), timeout=30)["b"]
    took = time.monotonic() - t0
    assert res.status is CallStatus.DONE and res.value == "started"
    # The child dies with SIGTERM at once; the grace is the bound for one that would not.
    assert took < KILL_GRACE_S + SLACK_S + 1, took
    assert running(marker) == []


def test_a_cancelled_call_ends_its_group(harness: Harness, marker: str) -> None:
    harness.executor.submit(CallRequest("l", "long"))
    assert wait_until(lambda: running(marker), 10)
    harness.executor.cancel("l")
    res = harness.wait({"l"}, timeout=10)["l"]
    assert res.status is CallStatus.CANCELLED and res.value == "error: cancelled"
    assert running(marker) == []


def test_closing_the_executor_ends_every_running_call(harness: Harness, marker: str) -> None:
    for i in range(3):
        harness.executor.submit(CallRequest(f"l{i}", "long"))
    assert wait_until(lambda: len(running(marker)) == 3, 10)
    harness.host.submit(harness.executor.aclose()).result(timeout=10)
    results = harness.wait({"l0", "l1", "l2"}, timeout=1)
    assert {r.value for r in results.values()} == {f"error: {AT_EXIT}"}
    assert running(marker) == []


CHILD = """
import json, sys, time
from pathlib import Path
from asynclm_tui.core.tools.executor import CallRequest
from asynclm_tui.core.tools.process_groups import live_groups
from asynclm_tui.core.tools.registry import ToolRegistry
from tests.faults.test_tool_processes import running, wait_until
from tests.unit.test_executor import Harness

tools, how, marker = sys.argv[1:]
registry = ToolRegistry.load([Path(tools)])

def nap() -> str:
    time.sleep(120)
    return "woke"

registry.add_function("nap", nap, description="sleeps", timeout_s=0.5)
h = Harness(registry)
if how == "python":
    print(json.dumps(h.run(CallRequest("n", "nap"))["n"].value), flush=True)
else:
    h.executor.submit(CallRequest("l", "long"))
    assert wait_until(lambda: running(marker) and live_groups(), 10)
    if how == "crash":
        raise RuntimeError("an uncaught exception with a call running")
    print("running", flush=True)
    time.sleep(60)  # until the test's signal
"""


def child(tmp_path: Path, marker: str, how: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """A Python process that runs a call and then exits ``how``."""
    path = tools_file(tmp_path, marker)
    t0 = time.monotonic()
    proc = subprocess.run(
        [PY, "-c", CHILD, str(path), how, marker],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"},
    )
    return proc, time.monotonic() - t0


def test_an_uncaught_exception_leaves_no_tool_process(tmp_path: Path, marker: str) -> None:
    proc, _ = child(tmp_path, marker, "crash")
    assert proc.returncode == 1 and "an uncaught exception" in proc.stderr, proc.stderr[-2000:]
    assert wait_until(lambda: running(marker) == [], 2), running(marker)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_that_ends_the_process_ends_its_tools_first(
    tmp_path: Path, marker: str, sig: signal.Signals
) -> None:
    proc = subprocess.Popen(
        [PY, "-c", CHILD, str(tools_file(tmp_path, marker)), "signal", marker],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"},
        # Under nohup the signal is inherited ignored, and asynclm keeps it so.
        preexec_fn=lambda: signal.signal(sig, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "running\n"
        proc.send_signal(sig)
        assert proc.wait(30) == -sig  # it still dies of the signal
    finally:
        proc.kill()
        proc.wait()
    assert wait_until(lambda: running(marker) == [], 2), running(marker)


def test_a_sync_python_tool_past_its_timeout_does_not_hold_the_exit(
    tmp_path: Path, marker: str
) -> None:
    proc, took = child(tmp_path, marker, "python")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == "error: timed out after 0.5 s"
    # The abandoned function sleeps 120 s; the process must not wait for it.
    assert took < 30, took
    assert "Event loop is closed" not in proc.stderr
    assert wait_until(lambda: running(marker) == [], 2)


@pytest.mark.model
def test_asynclm_run_leaves_no_process_of_a_call_running_at_exit(
    tmp_path: Path, marker: str
) -> None:
    tools = tools_file(tmp_path, marker)
    config = tmp_path / "config.yaml"
    config.write_text(f"model: {{n_ctx: 2048}}\ntools: {{shipped: false, dirs: ['{tools}']}}\n")
    script = tmp_path / "answer.txt"
    # A call whose result is not awaited: the answer ends while it runs.
    script.write_text("Starting. [CALL] long() [END] [CALL] b [HEAD] spawner() [END] Done.")
    proc = subprocess.run(
        [PY, "-m", "asynclm_tui", "run", "go", "--script", str(script), "-c", str(config)]
        + ["--no-save", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    results = {e["id"]: e for e in events if e["event"] == "result"}
    assert results["b"]["status"] == "done"
    assert "Event loop is closed" not in proc.stderr and "Traceback" not in proc.stderr
    assert running(marker) == []
