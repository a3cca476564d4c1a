"""``asynclm bench screen``: a streamed answer as a terminal shows it.

Runs ``asynclm chat`` in tmux (150x42 by default) on a teacher-forced
Markdown answer, sends a message, and captures the pane every 100 ms until
the answer is done.  Consecutive captures of the transcript that differ are
updates the user saw; the gaps between them are what reads as jumpy.  This is
the check the issue describes, from outside the process: nothing in the app
is instrumented.  With 100 ms captures the highest rate it can show is 10
updates/s (every capture differs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asynclm_tui.headless.tables import print_table
from asynclm_tui.lab.bench.ui_latency import PROMPT, bench_text
from asynclm_tui.lab.bench.ui_latency_stats import summary

CHROME_ROWS = 6
"""Bottom rows that are not the transcript: message box, status bar, footer."""
ANSWER_TIMEOUT_S = 600.0
"""Longest wait for the answer to finish."""


@dataclass
class ScreenRun:
    """Captures of one streamed answer."""

    threads: int
    interval_s: float
    sent_at: float = 0.0
    captures: list[tuple[float, str, bool]] = field(default_factory=list)
    """Time, transcript text, and whether the status bar said generating."""

    def changes(self) -> list[float]:
        """Times of captures, while generating, whose transcript differs from
        the one before (the prompt's prefill and the user's entry left out)."""
        out = []
        for (_, before, _), (t, after, generating) in zip(
            self.captures, self.captures[1:], strict=False
        ):
            if generating and after != before:
                out.append(t)
        return out

    def to_json(self) -> dict[str, Any]:
        """Rates and gaps while the answer streamed (first to last change)."""
        changes = self.changes()
        streaming = changes[-1] - changes[0] if len(changes) > 1 else 0.0
        in_stream = [t for t, _, _ in self.captures if changes and changes[0] <= t <= changes[-1]]
        gaps = [(b - a) * 1000 for a, b in zip(changes, changes[1:], strict=False)]
        return {
            "threads": self.threads,
            "capture_interval_s": self.interval_s,
            "captures_while_streaming": len(in_stream),
            "changed_captures": len(changes),
            "changed_share": round(len(changes) / len(in_stream), 3) if in_stream else None,
            "updates_per_s": round((len(changes) - 1) / streaming, 2) if streaming else None,
            "streaming_s": round(streaming, 2),
            "gap_ms": summary(gaps),
            "first_answer_text_after_send_ms": (
                round((changes[0] - self.sent_at) * 1000) if changes else None
            ),
        }


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def _capture(session: str) -> tuple[str, str]:
    """The transcript part of the pane, and the status bar's line."""
    lines = _tmux("capture-pane", "-p", "-t", session).splitlines()
    return "\n".join(lines[:-CHROME_ROWS]), lines[-2] if len(lines) > 1 else ""


def _wait(session: str, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in _tmux("capture-pane", "-p", "-t", session):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the chat never showed {text!r}")
        time.sleep(0.2)


def measure(threads: int, size: tuple[int, int], interval_s: float, chars: int) -> ScreenRun:
    """One streamed answer in tmux with llama.cpp on ``threads`` threads."""
    run = ScreenRun(threads, interval_s)
    with tempfile.TemporaryDirectory(prefix="asynclm-screen-") as tmp:
        folder = Path(tmp)
        (folder / "config.yaml").write_text(f"model:\n  n_threads: {threads}\n")
        (folder / "answer.txt").write_text(bench_text(chars) + "\n")
        session = f"asynclm-screen-{uuid.uuid4().hex[:8]}"
        env = {
            "XDG_CONFIG_HOME": str(folder / "config"),
            "XDG_DATA_HOME": str(folder / "data"),
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            "TERM": "xterm-256color",
        }
        command = (
            f"{sys.executable} -m asynclm_tui chat --config {folder / 'config.yaml'} "
            f"--script {folder / 'answer.txt'}"
        )
        env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        _tmux(
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            str(size[0]),
            "-y",
            str(size[1]),
            *env_args,
            command,
        )
        try:
            _wait(session, "is ready", 300)
            _tmux("send-keys", "-t", session, "-l", PROMPT)
            _tmux("send-keys", "-t", session, "Enter")
            run.sent_at = time.perf_counter()
            busy = False
            tick = 0
            while time.perf_counter() - run.sent_at < ANSWER_TIMEOUT_S:
                tick += 1  # captures on a fixed grid, whatever a capture costs
                time.sleep(max(0.0, run.sent_at + tick * interval_s - time.perf_counter()))
                now = time.perf_counter()
                screen, status = _capture(session)
                run.captures.append((now, screen, "generating" in status))
                if "ready" not in status:
                    busy = True
                elif busy:
                    break  # the answer is done
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    return run


def run_screen_bench(
    threads: list[int],
    *,
    size: tuple[int, int] = (150, 42),
    interval_s: float = 0.1,
    chars: int = 6000,
    as_json: bool = False,
) -> int:
    """Measure each thread setting; print a table or JSON; returns the exit code."""
    if shutil.which("tmux") is None:
        print("asynclm: bench screen: needs tmux on PATH", file=sys.stderr)
        return 1
    try:
        results = [measure(n, size, interval_s, chars).to_json() for n in threads]
    except RuntimeError as exc:
        print(f"asynclm: bench screen: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(
            json.dumps(
                {"size": list(size), "cpus": os.cpu_count(), "runs": results},
                indent=2,
                allow_nan=False,
            )
        )
        return 0
    from rich.table import Table

    table = Table(
        title=f"asynclm bench screen ({size[0]}x{size[1]}, a capture every "
        f"{interval_s * 1000:.0f} ms)"
    )
    for column in (
        "threads",
        "changed captures",
        "updates/s",
        "gap p50 / p95 / max ms",
        "first answer text after Enter",
    ):
        table.add_column(column, justify="right")
    for r in results:
        gap = r["gap_ms"]
        table.add_row(
            f"{r['threads']} of {os.cpu_count()}",
            f"{r['changed_captures']}/{r['captures_while_streaming']} ({r['changed_share']})",
            str(r["updates_per_s"]),
            f"{gap['p50']} / {gap['p95']} / {gap['max']}",
            f"{r['first_answer_text_after_send_ms']} ms",
        )
    print_table(table)
    return 0
