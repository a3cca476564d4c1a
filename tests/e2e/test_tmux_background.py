"""End to end in tmux with the bundled model writing freely: a 20 s call
outlives its answer, a second question is answered meanwhile, and the call's
result starts an answer of its own, with nothing sent by the user.

The screen is read for what the user waits on; the saved chat says when each
thing happened (bus times), so the order is checked there, not on the screen.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from asynclm_tui.core.sessions.store import SessionStore
from asynclm_tui.core.sessions.stored import StoredSession, StoredTurn
from asynclm_tui.core.settings.paths import shipped_tools_dir
from tests.e2e.test_tmux import ASYNCLM, TMUX, capture, send, session, wait_for
from tests.faults.test_tool_processes import wait_until

pytestmark = [pytest.mark.tmux, pytest.mark.model]

__all__ = ["session"]

ASK = "Sleep for 20000 ms, then tell me it is done."
SECOND = "What is 17 * 23?"


def idle(screen: str) -> bool:
    """The status bar says no answer is being written."""
    return any(line.lstrip().startswith("ready ") for line in screen.splitlines())


def start_chat(name: str, tmp: Path) -> tuple[Path, Path]:
    """``asynclm chat`` with sleep, calc and echo and a 1 s wait at an
    answer's end; returns the sessions database and the exit-code file."""
    tools = shipped_tools_dir()
    dirs = ", ".join(f"'{tools / f}.yaml'" for f in ("sleep", "calc", "echo"))
    config = tmp / "config.yaml"
    config.write_text(
        f"model:\n  n_ctx: 2048\ntools:\n  shipped: false\n  dirs: [{dirs}]\n  wait_at_end_s: 1\n"
    )
    db = tmp / "sessions.db"
    code_file = tmp / "exit_code"
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp / "xdg"),
        "XDG_DATA_HOME": str(tmp / "data"),
        "XDG_STATE_HOME": str(tmp / "state"),
        "TERM": "xterm-256color",
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    env.pop("ASYNCLM_CONFIG", None)
    command = f"{ASYNCLM} chat --config {config} --db {db}; echo $? > {code_file}; sleep 30"
    subprocess.run(
        [TMUX or "tmux", "new-session", "-d", "-s", name, "-x", "140", "-y", "45", command],
        check=True,
        env=env,
    )
    wait_for(name, lambda s: "is ready" in s, 120, "the model to load")
    return db, code_file


def saved(db: Path) -> StoredSession | None:
    """The chat as saved so far (None before its first turn)."""
    if not db.exists():
        return None
    store = SessionStore(db, create=False)
    try:
        latest = store.latest()
        return None if latest is None else store.load(latest)
    finally:
        store.close()


def saved_turns(db: Path) -> list[tuple[str, str, float | None]]:
    """(user text, started_by as saved, ended) of each saved turn, read
    beside the chat's own writes (WAL) through a read-only connection."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT user_text, started_by, ended FROM turns ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []  # no table yet
    finally:
        conn.close()


def wait_saved(
    name: str, db: Path, check: Callable[[list[tuple[str, str, float | None]]], bool], what: str
) -> None:
    """Poll the saved turns until ``check`` holds (the chat commits every half second)."""
    turns: list[tuple[str, str, float | None]] = []

    def holds() -> bool:
        turns[:] = saved_turns(db)
        return check(turns)

    if wait_until(holds, 120):
        return
    raise AssertionError(
        f"timed out waiting for {what}; saved turns: {turns}; screen:\n{capture(name)}"
    )


def event_t(turn: StoredTurn, kind: str) -> float:
    """When the turn's first event of ``kind`` happened (engine clock)."""
    return float(next(fields["t"] for k, fields in turn.events if k == kind))


def test_a_long_call_reports_in_a_turn_of_its_own(session: tuple[str, Path]) -> None:
    name, tmp = session
    db, code_file = start_chat(name, tmp)
    send(name, ASK, "Enter")
    wait_for(
        name,
        lambda s: "sleep(ms=20000)" in s and idle(s) and "slept 2" not in s,
        120,
        "the answer to end while the 20 s call runs",
    )
    send(name, SECOND, "Enter")  # the box is free: nothing waits for the call
    wait_for(name, lambda s: "391" in s and idle(s), 120, "the second answer")
    # Nothing more is typed: the result alone brings a new answer.
    wait_saved(
        name,
        db,
        lambda turns: any(by != "[]" and ended is not None for _, by, ended in turns),
        "the turn the result starts",
    )
    screen = wait_for(name, lambda s: "slept 2" in s and idle(s), 30, "the report on screen")
    assert "Traceback" not in screen
    send(name, "C-q")
    assert wait_until(code_file.exists, 20)  # the shell writes it right after the chat exits
    assert code_file.read_text().strip() == "0"

    chat = saved(db)
    assert chat is not None
    first, second, report = chat.turns[:3]
    (call,) = first.calls
    assert (call.fn, call.args["kwargs"], call.status) == ("sleep", {"ms": 20000}, "done")
    assert call.background_t is not None and call.finished_t is not None
    # The first answer ended, and the second was asked and answered, while it ran.
    assert event_t(first, "done") < call.finished_t
    assert second.user_text == SECOND and "391" in second.visible_text
    assert event_t(second, "turn") > event_t(first, "done")
    assert event_t(second, "done") < call.finished_t
    # Then its result started a turn with no message of the user's.
    assert report.started_by == (call.call_id,) and report.user_text == ""
    assert event_t(report, "turn") >= call.finished_t
    # Its result goes in first (the model may call tools of its own after it).
    result = next(i for i in report.interrupts if i.kind == "tool")
    assert result.call_id == call.call_id and result.value.startswith("slept 2")
    assert [i.call_id for i in report.interrupts].count(call.call_id) == 1
    assert report.visible_text.strip()  # the model's own words about it
