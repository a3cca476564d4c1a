"""``asynclm mcp check/list``, ``tools list``, ``run`` and ``doctor`` with an
``mcpServers`` file, through the installed CLI against the real test server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.mcp.mcp_harness import SERVER

ROOT = Path(__file__).parents[2]


def asynclm(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asynclm_tui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
    )


def servers_file(tmp_path: Path, **extra: dict[str, object]) -> Path:
    path = tmp_path / ".mcp.json"
    servers: dict[str, object] = {
        "demo": {"command": sys.executable, "args": [str(SERVER)], "trust": True},
        **extra,
    }
    path.write_text(json.dumps({"mcpServers": servers}, indent=2))
    return path


def test_check_validates_without_starting_and_names_the_line(tmp_path: Path) -> None:
    good = servers_file(tmp_path)
    proc = asynclm("mcp", "check", str(good))
    assert proc.returncode == 0 and "1 server(s) OK (demo)" in proc.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "mcpServers": {\n    "x": {"comand": "y"}\n  }\n}\n')
    proc = asynclm("mcp", "check", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{bad}:3: mcpServers.x.comand" in proc.stderr


def test_list_starts_the_servers_says_which_failed_and_lists_tools(tmp_path: Path) -> None:
    path = servers_file(tmp_path, broken={"command": str(tmp_path / "no-such-server")})
    proc = asynclm("mcp", "list", "--mcp-config", str(path), "--json")
    assert proc.returncode == 1  # one server did not start
    listing = {entry["name"]: entry for entry in json.loads(proc.stdout)}
    assert listing["demo"]["state"] == "ready"
    assert "demo.slow" in {t["name"] for t in listing["demo"]["tools"]}
    assert (
        listing["broken"]["state"] == "failed" and "no-such-server" in listing["broken"]["reason"]
    )
    tools = asynclm("tools", "list", "--mcp-config", str(path))
    assert "demo.slow" in tools.stdout and "mcp:demo" in tools.stdout


def test_run_calls_an_mcp_tool_with_progress(tmp_path: Path) -> None:
    path = servers_file(tmp_path)
    script = tmp_path / "answer.txt"
    script.write_text(
        "Working. [CALL] w [HEAD] demo.slow(ms=1200, steps=3) [END] "
        + "word " * 30
        + "[TRAP][END] Done."
    )
    proc = asynclm(
        "run", "go", "--mcp-config", str(path), "--script", str(script), "--json", "--no-save"
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert "progress" in kinds
    results = [e for e in events if e["event"] == "result"]
    assert any(e.get("ok") for e in results), events
