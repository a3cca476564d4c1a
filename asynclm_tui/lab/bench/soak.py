"""``asynclm soak``: the real model, turn after turn, for N minutes.

Each turn is teacher-forced (so every turn does the same work): it calls two
tools, writes while they run, traps for the results, and gets a user message
mid-answer.  Every few turns a new session starts.  At the end it reports
resident memory growth, errors and decoding speed at the start against the
end.  Numbers belong in docs/, with the machine's load.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from asynclm_tui.core.api.events import (
    Event,
    ModelLoadFailed,
    NewSession,
    Prefilled,
    SendMessage,
    TurnDone,
    TurnFailed,
    TurnStarted,
    UserMessage,
)
from asynclm_tui.core.cml.script import Script
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.headless.tables import print_table

FILLER = "While the calls run I keep writing, so no time is lost waiting. "
TURN = (
    "Checking. [CALL] s [HEAD] sleep(ms=300) [END] [CALL] e [HEAD] echo(text='soak') [END] "
    + FILLER * 3
    + "[TRAP][END] Both are back. "
    + FILLER
    + "Done."
)
TYPED = "keep it short"
TURNS_PER_SESSION = 4
WINDOW = 5
"""Turns averaged for the start and end speeds."""


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; else peak RSS)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class SoakReport:
    """What a soak run found."""

    minutes: float
    turns: int = 0
    errors: list[str] = field(default_factory=list)
    user_messages_sent: int = 0
    user_messages_landed: int = 0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    tok_s: list[float] = field(default_factory=list)

    @property
    def rss_growth_mb(self) -> float:
        """Memory growth over the run."""
        return self.rss_end_mb - self.rss_start_mb

    def speeds(self) -> tuple[float, float]:
        """Median tok/s of the first and last turns."""
        if not self.tok_s:
            return 0.0, 0.0
        n = min(WINDOW, len(self.tok_s))
        return statistics.median(self.tok_s[:n]), statistics.median(self.tok_s[-n:])

    def to_json(self) -> dict[str, object]:
        """The JSON printed with ``--json``."""
        start, end = self.speeds()
        data = asdict(self)
        data.pop("tok_s")
        return {
            **data,
            "rss_growth_mb": round(self.rss_growth_mb, 1),
            "tok_s_start": round(start, 2),
            "tok_s_end": round(end, 2),
            "tok_s_change": round((end - start) / start, 3) if start else None,
        }


def run_soak(settings: Settings, minutes: float, *, as_json: bool = False) -> int:
    """Run the soak; prints a table (or JSON); exit 1 on any error."""
    from asynclm_tui.core.decode.from_settings import build_engine

    settings.tools.approval = "always"
    engine = build_engine(settings, script=Script([TURN] * 1_000_000), interactive=False)
    report = SoakReport(minutes)
    done = threading.Semaphore(0)
    prefilled = threading.Event()

    def sink(event: Event) -> None:
        match event:
            case TurnFailed() | ModelLoadFailed():
                report.errors.append(event.message)
            case UserMessage():
                report.user_messages_landed += 1
            case TurnStarted(text=text) if text == TYPED:
                report.user_messages_landed += 1  # typed after the answer ended
            case Prefilled():
                prefilled.set()
            case TurnDone():
                report.turns += 1
                report.tok_s.append(event.tok_s)
                done.release()

    engine.subscribe(sink)
    engine.start()
    try:
        if not engine.wait_loaded(300):
            report.errors.append("the model did not load")
        deadline = time.monotonic() + minutes * 60
        while not report.errors[:1] and time.monotonic() < deadline:
            if report.turns and report.turns % TURNS_PER_SESSION == 0:
                engine.post(NewSession())
            prefilled.clear()
            engine.post(SendMessage(f"Soak turn {report.turns + 1}."))
            if prefilled.wait(120):
                time.sleep(0.5)  # a message typed half a second into the answer
                engine.post(SendMessage(TYPED))
                report.user_messages_sent += 1
            if not done.acquire(timeout=600):
                report.errors.append("a turn did not finish in 10 minutes")
                break
            if not report.rss_start_mb:
                report.rss_start_mb = rss_mb()  # after the first turn: warm
            engine.wait_idle(600)
            while done.acquire(blocking=False):  # turns the typed message started
                pass
    finally:
        engine.close()
    report.rss_end_mb = rss_mb()
    if as_json:
        print(json.dumps(report.to_json()))
    else:
        _table(report)
    lost = report.user_messages_sent - report.user_messages_landed
    return 1 if report.errors or lost > 0 else 0


def _table(report: SoakReport) -> None:
    from rich.console import Console
    from rich.table import Table

    start, end = report.speeds()
    table = Table(title=f"soak: {report.minutes:g} min, real model", box=None)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("turns", str(report.turns))
    table.add_row("errors", str(len(report.errors)))
    table.add_row(
        "user messages sent / delivered",
        f"{report.user_messages_sent} / {report.user_messages_landed}",
    )
    table.add_row(
        "RSS after turn 1 → end", f"{report.rss_start_mb:.0f} → {report.rss_end_mb:.0f} MB"
    )
    table.add_row("RSS growth", f"{report.rss_growth_mb:+.1f} MB")
    table.add_row(f"tok/s, median of first / last {WINDOW} turns", f"{start:.1f} / {end:.1f}")
    print_table(table)
    for error in report.errors[:5]:
        Console(stderr=True).print(f"error: {error}", markup=False)
