"""End to end in tmux: Tab-queued messages run after the answer; Esc stops,
Esc again cancels the calls, and their results stay out of the next answer."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from asynclm_tui.core.settings.paths import shipped_tools_dir
from tests.e2e.test_tmux import ASYNCLM, TMUX, send, session, wait_for  # noqa: F401

pytestmark = [pytest.mark.tmux, pytest.mark.model]


def start_chat(name: str, tmp: Path, script: str) -> None:
    tools = shipped_tools_dir()
    config = tmp / "config.yaml"
    config.write_text(
        f"model:\n  n_ctx: 2048\ntools:\n  shipped: false\n  dirs: ['{tools / 'sleep.yaml'}']\n"
    )
    (tmp / "script.txt").write_text(script)
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp / "xdg"),
        "XDG_DATA_HOME": str(tmp / "data"),
        "TERM": "xterm-256color",
    }
    env.pop("ASYNCLM_CONFIG", None)
    command = f"{ASYNCLM} chat --config {config} --script {tmp / 'script.txt'}; sleep 30"
    subprocess.run(
        [TMUX or "tmux", "new-session", "-d", "-s", name, "-x", "140", "-y", "45", command],
        check=True,
        env=env,
    )
    wait_for(name, lambda s: "is ready" in s, 90, "the model to load")


def test_two_tab_queued_messages_run_in_order_after_the_answer(
    session: tuple[str, Path],  # noqa: F811
) -> None:
    name, tmp = session
    start_chat(
        name,
        tmp,
        "Working. [CALL] s [HEAD] sleep(ms=4000) [END] [TRAP][END] Done one."
        "\n=== turn ===\nAnswer two.\n=== turn ===\nAnswer three.\n",
    )
    send(name, "hello", "Enter")
    wait_for(name, lambda s: "s = sleep(ms=4000)" in s, 120, "the call chip")
    send(name, "first later", "Tab")
    send(name, "second later", "Tab")
    screen = wait_for(name, lambda s: "queued (2)" in s, 10, "the queue above the box")
    assert "1. first later" in screen and "2. second later" in screen
    screen = wait_for(name, lambda s: "Answer three." in s and "ready" in s, 120, "both turns")
    assert screen.index("first later") < screen.index("Answer two.")
    assert screen.index("second later") < screen.index("Answer three.")
    assert "queued (" not in screen and "Traceback" not in screen


def test_escape_twice_cancels_and_the_result_stays_out_of_the_next_answer(
    session: tuple[str, Path],  # noqa: F811
) -> None:
    name, tmp = session
    words = " ".join(f"Line {i} keeps the answer going." for i in range(120))
    start_chat(
        name,
        tmp,
        f"Wait. [CALL] s [HEAD] sleep(ms=60000) [END] {words}\n=== turn ===\nA fresh answer.\n",
    )
    send(name, "hello", "Enter")
    wait_for(name, lambda s: "Line 2 " in s, 120, "streaming after the call")
    send(name, "Escape")
    screen = wait_for(
        name,
        lambda s: "s still due" in s and "esc Cancel calls" in s,
        30,
        "the stop, the held notice and the footer's second Esc",
    )
    assert "ctrl+g: give s (running) to the next answer" in screen  # above the box
    send(name, "Escape")
    wait_for(name, lambda s: "s → error: cancelled · held back" in s, 20, "the cancellation")
    send(name, "next", "Enter")
    screen = wait_for(name, lambda s: "A fresh answer." in s and "ready" in s, 120, "turn two")
    assert "[INTR]" not in screen and "Traceback" not in screen
    send(name, "C-r")  # the raw view: the model's context got no result
    screen = wait_for(name, lambda s: "raw CML" in s, 10, "the raw view")
    assert "[INTR] s" not in screen
