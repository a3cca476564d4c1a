"""End to end: a bracketed paste of 200 lines with colour codes is one message
(it used to become a message per line once an escape appeared in it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_tmux import ASYNCLM, TMUX, capture, send, session, wait_for

pytestmark = [pytest.mark.tmux, pytest.mark.model]

__all__ = ["session"]


def test_a_coloured_paste_is_one_message(session: tuple[str, Path]) -> None:
    name, tmp = session
    config = tmp / "config.yaml"
    config.write_text("model:\n  n_ctx: 8192\ntools:\n  shipped: false\n")
    script = tmp / "script.txt"
    script.write_text("Got it.")
    pasted = tmp / "paste.txt"
    pasted.write_text("".join(f"\x1b[3{i % 8}mline {i}\x1b[0m\n" for i in range(200)))
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp / "xdg"),
        "XDG_STATE_HOME": str(tmp / "state"),
        "XDG_DATA_HOME": str(tmp / "data"),
        "TERM": "xterm-256color",
    }
    env.pop("ASYNCLM_CONFIG", None)
    command = f"{ASYNCLM} chat --config {config} --script {script} --no-save; sleep 30"
    subprocess.run(
        [TMUX or "tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "40", command],
        check=True,
        env=env,
    )
    wait_for(name, lambda s: "is ready" in s, 120, "the model to load")
    subprocess.run([TMUX or "tmux", "load-buffer", "-b", name, str(pasted)], check=True)
    subprocess.run(
        [TMUX or "tmux", "paste-buffer", "-p", "-b", name, "-t", name], check=True
    )  # -p: bracketed, as a terminal pastes
    screen = wait_for(name, lambda s: "line 199" in s, 30, "the whole paste in the box")
    assert "assistant" not in screen  # nothing was sent while pasting
    assert "␛[37mline 199" in screen or "line 199" in screen
    send(name, "Enter")
    screen = wait_for(name, lambda s: "Got it." in s, 240, "one answer")
    assert screen.count("Got it.") == 1 and "turn 2" not in screen
    send(name, "C-q")
    assert "Traceback" not in capture(name)
