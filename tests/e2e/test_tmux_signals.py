"""End to end: SIGTERM (a ``kill``, a shutdown) and SIGHUP (the terminal window
closed) end the chat as Ctrl+Q does: the terminal is restored, the answer so far
is saved, and a call still running is recorded as interrupted at exit."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from asynclm_tui.core.sessions.store import SessionStore
from asynclm_tui.core.settings.paths import shipped_tools_dir
from asynclm_tui.core.tools.executor import AT_EXIT
from tests.e2e.test_tmux import ASYNCLM, TMUX, capture, send, session, wait_for

pytestmark = [pytest.mark.tmux, pytest.mark.model]

__all__ = ["session"]

LONG = " ".join(f"Line {i} of a long answer." for i in range(300))


def start_chat(name: str, tmp: Path) -> tuple[Path, Path]:
    config = tmp / "config.yaml"
    config.write_text(
        f"model:\n  n_ctx: 4096\ntools:\n  shipped: false\n"
        f"  dirs: ['{shipped_tools_dir() / 'sleep.yaml'}']\n"
    )
    script = tmp / "script.txt"
    script.write_text(f"Waiting. [CALL] s [HEAD] sleep(ms=60000) [END] {LONG}")
    db = tmp / "sessions.db"
    code_file = tmp / "exit_code"
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp / "xdg"),
        "XDG_STATE_HOME": str(tmp / "state"),
        "TERM": "xterm-256color",
    }
    env.pop("ASYNCLM_CONFIG", None)
    command = (
        f"{ASYNCLM} chat --config {config} --script {script} --db {db}; "
        f"echo $? > {code_file}; echo chat-ended; sleep 30"
    )
    subprocess.run(
        [TMUX or "tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "36", command],
        check=True,
        env=env,
    )
    wait_for(name, lambda s: "is ready" in s, 120, "the model to load")
    send(name, "go", "Enter")
    wait_for(name, lambda s: "Line 3 " in s and "running" in s, 120, "the answer and the call")
    return db, code_file


def chat_pid(tmp: Path) -> int:
    found = subprocess.run(
        ["pgrep", "-f", "--", f"--db {tmp / 'sessions.db'}"], capture_output=True, text=True
    ).stdout.split()
    pids = [int(p) for p in found if int(p) != os.getpid()]
    assert pids, "the chat's process"
    return max(pids)  # the python process, not the shell that started it


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_ends_the_chat_as_ctrl_q_does(
    session: tuple[str, Path], signum: signal.Signals
) -> None:
    name, tmp = session
    db, code_file = start_chat(name, tmp)
    os.kill(chat_pid(tmp), signum)
    screen = wait_for(name, lambda s: "chat-ended" in s, 60, "the chat to end")
    assert "Traceback" not in screen
    assert "╭" not in screen  # back on the shell's screen, not the chat's
    deadline = time.monotonic() + 10
    while not code_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)  # the shell writes it right after the chat exits
    assert code_file.read_text().strip() == str(128 + signum)
    store = SessionStore(db)
    try:
        turn = store.load(store.latest() or 0).turns[-1]
    finally:
        store.close()
    assert "Line 1 of a long answer" in turn.raw_text
    (call,) = turn.calls
    assert call.status == "cancelled" and AT_EXIT in (call.result or "")
    assert "mouse" not in capture(name)


def close_terminal_and_wait(name: str, pid: int, seconds: float) -> None:
    """Kill the tmux session (the window closes) and wait for the chat's
    process to end; fail, killing it, when it outlives ``seconds``."""
    subprocess.run([TMUX or "tmux", "kill-session", "-t", name], check=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)  # polling until the deadline
    os.kill(pid, signal.SIGKILL)
    pytest.fail(f"the chat was still running {seconds:g} s after its terminal closed")


def test_closing_the_terminal_ends_the_chat_and_keeps_the_answer(
    session: tuple[str, Path],
) -> None:
    """A closed window sends SIGHUP and then SIGCONT, with the terminal gone:
    the chat still exits promptly (it once hung for good in its exit's writes)."""
    name, tmp = session
    db, _code_file = start_chat(name, tmp)
    pid = chat_pid(tmp)
    close_terminal_and_wait(name, pid, 15)
    store = SessionStore(db)
    try:
        turn = store.load(store.latest() or 0).turns[-1]
    finally:
        store.close()
    assert "Line 1 of a long answer" in turn.raw_text
    (call,) = turn.calls
    assert call.status == "cancelled" and AT_EXIT in (call.result or "")


def test_closing_the_terminal_while_the_model_warms_up(session: tuple[str, Path]) -> None:
    """Quitting during a first launch's prompt evaluation does not wait for it."""
    name, tmp = session
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp / "xdg"), "XDG_CACHE_HOME": str(tmp / "c")}
    env["XDG_STATE_HOME"] = str(tmp / "state")
    db = tmp / "sessions.db"
    subprocess.run(
        [
            TMUX or "tmux",
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "100",
            "-y",
            "30",
            f"{ASYNCLM} chat --db {db}",
        ],
        check=True,
        env=env,
    )
    wait_for(name, lambda s: "message" in s, 60, "the first frame")
    pid = chat_pid(tmp)
    close_terminal_and_wait(name, pid, 10)
