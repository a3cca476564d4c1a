"""End to end: the installed ``asynclm`` console script in a real terminal (tmux).

Loads the bundled model, streams a teacher-forced answer, shows a slow tool in
the calls panel while tokens keep coming, and stops on Escape.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from asynclm_tui.core.paths import shipped_tools_dir

pytestmark = [pytest.mark.tmux, pytest.mark.model]

TMUX = shutil.which("tmux")
ASYNCLM = shutil.which("asynclm", path=str(Path(sys.executable).parent)) or shutil.which("asynclm")
LONG = " ".join(f"Line {i} of a long answer that keeps streaming." for i in range(150))


def capture(session: str) -> str:
    """The visible pane as plain text."""
    return subprocess.run(
        [TMUX or "tmux", "capture-pane", "-p", "-t", session],
        capture_output=True, text=True, check=True,
    ).stdout


def send(session: str, *keys: str) -> None:
    """tmux send-keys."""
    subprocess.run([TMUX or "tmux", "send-keys", "-t", session, *keys], check=True)


def wait_for(session: str, check: Callable[[str], bool], timeout: float, what: str) -> str:
    """Poll the pane until ``check`` holds."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if check(screen):
            return screen
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; screen was:\n{screen}")


@pytest.fixture
def session(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A tmux session name, killed afterwards."""
    if TMUX is None or ASYNCLM is None:
        why = "needs tmux and the installed asynclm console script"
        if os.environ.get("CI"):
            pytest.fail(why)  # CI installs both (.ci/run): a skip there would hide a bug
        pytest.skip(why)
    name = f"asynclm-e2e-{uuid.uuid4().hex[:8]}"
    yield name, tmp_path
    subprocess.run([TMUX, "kill-session", "-t", name], capture_output=True)


def test_chat_in_tmux_streams_runs_slow_tool_and_stops(session: tuple[str, Path]) -> None:
    name, tmp = session
    tools = shipped_tools_dir()
    config = tmp / "config.yaml"
    config.write_text(
        "model:\n  n_ctx: 2048\n"
        f"tools:\n  shipped: false\n  dirs: ['{tools / 'sleep.yaml'}', '{tools / 'echo.yaml'}']\n"
    )
    script = tmp / "script.txt"
    script.write_text(f"Let me wait. [CALL] s [HEAD] sleep(ms=30000) [END] {LONG}\n")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp / "xdg"), "TERM": "xterm-256color"}
    env.pop("ASYNCLM_CONFIG", None)
    code_file = tmp / "exit_code"
    command = (
        f"{ASYNCLM} chat --config {config} --script {script}; echo $? > {code_file}; sleep 30"
    )
    subprocess.run(
        [TMUX, "new-session", "-d", "-s", name, "-x", "140", "-y", "40", command],
        check=True, env=env,
    )
    wait_for(name, lambda s: "is ready" in s, 90, "the model to load")
    send(name, "hello", "Enter")  # one burst: Enter must still see "hello"
    screen = wait_for(name, lambda s: "sleep(ms=30000)" in s and "running" in s, 120,
                      "the slow call in the panel")
    assert "s = sleep(ms=30000)" in screen  # the call chip in the transcript
    first = wait_for(name, lambda s: "Line 3 " in s, 60, "tokens after the call")
    time.sleep(1.5)
    later = capture(name)
    assert later != first  # still streaming, and the timer moves
    assert "generating" in later or "running" in later
    send(name, "Escape")
    wait_for(name, lambda s: "stopped by you" in s, 30, "Escape to stop generation")
    screen = capture(name)
    assert "ready" in screen  # still running, back to idle
    send(name, "C-q")
    deadline = time.monotonic() + 20
    while not code_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert code_file.read_text().strip() == "0"
