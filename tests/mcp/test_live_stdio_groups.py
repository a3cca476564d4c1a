"""No process of an MCP stdio server outlives asynclm: not the server, not a
child it started, not one that ignores SIGTERM; after the hub closes, after
``asynclm run --mcp-config`` exits, and after it is sent SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from asynclm_tui.core.tools import process_groups
from asynclm_tui.core.tools.mcp.status import ServerState
from tests.mcp.mcp_harness import SERVER, alive, running, stdio, wait_for

ROOT = Path(__file__).parents[2]
GONE_S = 30.0
"""Deadline for a group to be gone (the SDK alone may take 4 s, more on a
loaded machine); the checks poll, they never sleep it out."""


def server_and_child(folder: Path) -> tuple[int, int]:
    """The pids the stubborn test server left in ``folder``: itself, its child."""
    wait_for(lambda: any(folder.glob("child-*")), 60, "the server's child")
    (started,) = folder.glob("started-*")
    (child,) = folder.glob("child-*")
    return int(started.name.split("-")[1]), int(child.name.split("-")[1])


def assert_group_gone(pgid: int, *pids: int) -> None:
    """Every process of group ``pgid`` (and ``pids``) is gone, by a deadline."""
    wait_for(
        lambda: not process_groups.group_alive(pgid) and not any(alive(p) for p in pids),
        GONE_S,
        f"process group {pgid} to be gone",
    )


def stubborn_env(folder: Path, how: str) -> dict[str, str]:
    return {"MCP_TEST_DIR": str(folder), "MCP_TEST_STUBBORN": how}


@pytest.mark.parametrize("how", ["child", "hold"])
def test_closing_the_hub_ends_the_server_and_its_sigterm_deaf_child(
    tmp_path: Path, how: str
) -> None:
    """``child``: the server exits when its stdin closes and leaves a child
    that ignores SIGTERM (the SDK ends the group only while the server runs).
    ``hold``: the server itself ignores SIGTERM and stays."""
    with running([stdio("s", stubborn_env(tmp_path, how))], tmp_path):
        pid, child = server_and_child(tmp_path)
        assert os.getpgid(child) == pid  # the server leads its own group
        assert pid in process_groups.live_groups()  # killed at exit whatever happens
    assert_group_gone(pid, pid, child)
    assert pid not in process_groups.live_groups()


def test_a_server_that_exits_on_its_own_takes_its_child_with_it(tmp_path: Path) -> None:
    with running([stdio("s", stubborn_env(tmp_path, "child"))], tmp_path) as hub:
        pid, child = server_and_child(tmp_path)
        os.kill(pid, signal.SIGKILL)  # a crash: the child stays behind, deaf to SIGTERM
        assert_group_gone(pid, pid, child)
        wait_for(lambda: pid not in process_groups.live_groups(), GONE_S, "untracked")
        wait_for(lambda: hub.statuses()[0].state is ServerState.FAILED, GONE_S, "seen as lost")


def run_cli(folder: Path, how: str, script: str) -> subprocess.Popen[str]:
    config = folder / ".mcp.json"
    server = {"command": sys.executable, "args": [str(SERVER)], "trust": True}
    server["env"] = stubborn_env(folder, how)
    config.write_text(json.dumps({"mcpServers": {"demo": server}}))
    answer = folder / "answer.txt"
    answer.write_text(script)
    args = ["run", "go", "--mcp-config", str(config), "--script", str(answer), "--json"]
    return subprocess.Popen(
        [sys.executable, "-m", "asynclm_tui", *args, "--no-save", "--max-tokens", "400"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
    )


def test_asynclm_run_leaves_no_server_process_when_it_exits(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "child", "Done.")
    try:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        pid, child = server_and_child(tmp_path)
        assert_group_gone(pid, pid, child)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sigterm_to_asynclm_run_mid_call_leaves_no_server_process(tmp_path: Path) -> None:
    script = "Working. [CALL] w [HEAD] demo.slow(ms=120000, steps=2) [END] [TRAP][END] Done."
    proc = run_cli(tmp_path, "hold", script)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # until the call is running on the server
            if json.loads(line).get("event") == "call":
                break
        else:
            raise AssertionError(f"no call event: {proc.stderr.read() if proc.stderr else ''}")
        pid, child = server_and_child(tmp_path)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        assert_group_gone(pid, pid, child)
    finally:
        if proc.poll() is None:
            proc.kill()
