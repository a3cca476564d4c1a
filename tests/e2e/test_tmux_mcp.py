"""End to end: the chat in a real terminal with a stdio MCP server declared in an
``mcpServers`` file: the server comes up in the status bar after the first frame,
and its tool's call shows in the calls panel with its progress while the answer
goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_tmux import ASYNCLM, TMUX, capture, send, session, wait_for
from tests.mcp.mcp_harness import SERVER

pytestmark = [pytest.mark.tmux, pytest.mark.model]

__all__ = ["session"]  # the fixture, imported for this module's test

LONG = " ".join(f"Line {i} of the answer goes on." for i in range(120))


def test_chat_shows_an_mcp_servers_call_and_its_progress(session: tuple[str, Path]) -> None:
    name, tmp = session
    servers = tmp / "claude_desktop_config.json"
    servers.write_text(
        json.dumps(
            {"mcpServers": {"demo": {"command": sys.executable, "args": [str(SERVER)]}}},
            indent=2,
        )
    )
    config = tmp / "config.yaml"
    config.write_text("model:\n  n_ctx: 2048\ntools:\n  shipped: false\n")
    script = tmp / "script.txt"
    script.write_text(
        f"Checking. [CALL] w [HEAD] demo.slow(ms=20000, steps=20) [END] {LONG} [TRAP][END] Done."
    )
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp / "xdg"),
        "XDG_STATE_HOME": str(tmp / "state"),
        "XDG_DATA_HOME": str(tmp / "data"),
        "TERM": "xterm-256color",
    }
    env.pop("ASYNCLM_CONFIG", None)
    command = (
        f"{ASYNCLM} chat --config {config} --mcp-config {servers} --script {script} --yes; sleep 30"
    )
    subprocess.run(
        [TMUX or "tmux", "new-session", "-d", "-s", name, "-x", "150", "-y", "42", command],
        check=True,
        env=env,
    )
    wait_for(name, lambda s: "MCP 1/1" in s, 120, "the MCP server to be ready")
    wait_for(name, lambda s: "is ready" in s, 120, "the model to load")
    send(name, "go", "Enter")
    screen = wait_for(
        name, lambda s: "demo.slow" in s and "running" in s, 120, "the MCP call in the panel"
    )
    wait_for(name, lambda s: "Line 5 " in s, 60, "tokens while the call runs")
    screen = wait_for(name, lambda s: "step" in s and "demo.slow" in s, 60, "its progress")
    assert "running" in screen
    send(name, "C-q")
    assert "Traceback" not in capture(name)
