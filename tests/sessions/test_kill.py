"""``kill -9`` mid-answer: the database stays sound and keeps the answer up
to at most a second before the kill."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asynclm_tui.core.cml.syntax import format_interrupt
from asynclm_tui.core.sessions.store import SessionStore
from tests.cli.test_cli import FILLER, small_config  # noqa: F401  (fixture)
from tests.conftest import ROOT

LOSS_LIMIT_S = 1.0
"""The most of an answer a kill may lose (issue 13)."""


@pytest.mark.model
def test_kill_9_mid_answer_keeps_the_db_sound(tmp_path: Path, small_config: Path) -> None:  # noqa: F811
    script = tmp_path / "s.txt"
    script.write_text(f"Starting. [CALL] a [HEAD] echo(text='kept') [END] {FILLER * 20}")
    db = tmp_path / "sessions.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asynclm_tui",
            "run",
            "Go",
            "--json",
            "--script",
            str(script),
            "-c",
            str(small_config),
            "--db",
            str(db),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None
    received: list[tuple[float, str]] = []  # (arrival, raw context text)
    first = None
    try:
        for line in proc.stdout:
            event = json.loads(line)
            now = time.monotonic()
            if event["event"] == "token":
                first = first or now
                received.append((now, event["text"]))
            elif event["event"] == "interrupt":
                received.append((now, format_interrupt(event["id"], event["value"])))
            elif event["event"] == "done":
                pytest.fail("the answer ended before the kill; lengthen the script")
            # Kill once a good part is written and some of it is older than the limit.
            if first is not None and now - first > 3 * LOSS_LIMIT_S and len(received) > 30:
                break
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    store = SessionStore(db)
    (info,) = store.list_sessions()
    turn = store.load(info.id).turns[0]
    assert not turn.complete
    surely_saved = "".join(text for at, text in received if at < killed_at - LOSS_LIMIT_S)
    shown = "".join(text for _, text in received)
    assert len(surely_saved) > 20
    assert turn.raw_text.startswith(surely_saved), (len(turn.raw_text), len(surely_saved))
    assert shown.startswith(turn.raw_text)
    assert [c.call_id for c in turn.calls] == ["a"]
