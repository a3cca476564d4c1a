"""``asynclm bench open``: how fast a long saved chat opens.

Each round writes a chat of N turns (text, a call, a trap, its result, a
message typed mid-answer) through the real recorder into a fresh database,
then opens it as ``asynclm --continue`` does and, headless at 150x42, times
loading it from SQLite, the first paint with its newest turn on screen, and
the moment every older turn is drawn above.  While the older turns are drawn
it types a key every 50 ms and times how long each took to reach the message
box: what a user typing right away feels.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from asynclm_tui.core.api.enums import CallStatus, InterruptKind, Mode, PauseReason, StopReason
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    Event,
    Interrupt,
    ModelLoaded,
    Prefilled,
    Resumed,
    Token,
    Trapped,
    TurnDone,
    TurnStarted,
    UserMessage,
)
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.cml.syntax import format_interrupt
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.sessions.recorder import Recorder
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.headless.tables import print_table
from asynclm_tui.lab.bench.ui_latency_stats import summary

SYSTEM = "You are a test."
SIZE = (150, 42)
TIMEOUT_S = 600.0
"""Longest wait for a chat to be drawn."""


def chat_turn(number: int, *, t0: float = 0.0, done: bool = True) -> list[Event]:
    """One turn's events: text, a call, a trap, its result, a user interrupt, more text."""
    call = f"c{number}"
    call_text = f" [CALL] {call} [HEAD] sleep(ms={number}) [END]"
    raw = [f"Turn {number} starts.", call_text, " Waiting", " [TRAP][END]"]
    visible = [f"Turn {number} starts.", "", " Waiting", ""]
    result = f"slept {number} ms"
    out: list[Event] = [
        TurnStarted(t0, number, Mode.ASYNC, f"question {number} about parsers"),
        Prefilled(t0 + 0.1, 40 * number, 40, 5.0),
    ]
    for r, v in zip(raw[:2], visible[:2], strict=True):
        out.append(Token(t0 + 0.2, r, v))
    out += [
        CallIssued(t0 + 0.21, call, "sleep", (), {"ms": number}, True, 1000.0),
        CallUpdated(t0 + 0.22, call, CallStatus.RUNNING),
    ]
    for r, v in zip(raw[2:], visible[2:], strict=True):
        out.append(Token(t0 + 0.3, r, v))
    out.append(Trapped(t0 + 0.31, PauseReason.TRAP, (call,)))
    if not done:
        return out
    out += [
        CallFinished(t0 + 0.5, call, True, 280.0, CallStatus.DONE, result),
        Resumed(t0 + 0.51, 200.0),
        Interrupt(t0 + 0.51, call, result, 9, 190.0, 3.0, InterruptKind.TOOL),
        UserMessage(t0 + 0.6, "be brief"),
        Interrupt(t0 + 0.6, "user", "be brief", 8, 0.0, 2.0, InterruptKind.USER),
        Token(t0 + 0.7, " Done.", " Done."),
    ]
    text = (
        "".join(raw)
        + format_interrupt(call, result)
        + format_interrupt("user", "be brief")
        + " Done."
    )
    out.append(
        TurnDone(t0 + 0.8, StopReason.EOS, 40 * number, 5, 17, 0, 2048, 800.0, 300.0, 16.0, text)
    )
    return out


def record_chat(db: Path, turns: int, *, last_done: bool = True) -> int:
    """Write a chat of ``turns`` turns through a recorder; returns its id."""
    rec = Recorder(db, system=lambda: SYSTEM, interval=0.05)
    rec(ModelLoaded(0.0, "test.gguf", 2048, 0, False, 1.0))
    for n in range(1, turns + 1):
        for event in chat_turn(n, t0=float(n), done=last_done or n < turns):
            rec(event)
    rec.close()
    assert rec.session_id is not None
    return rec.session_id


@dataclass
class Opening:
    """One chat opened."""

    turns: int
    load_s: float
    """Reading the chat from SQLite."""
    first_paint_s: float
    """App start to the newest turn laid out on screen."""
    all_drawn_s: float
    """App start to every turn drawn."""
    key_ms: list[float] = field(default_factory=list)
    """Time each key pressed while older turns were drawn took to be handled."""


async def _open(settings: Settings, db: Path, turns: int) -> Opening:
    from asynclm_tui.core.sessions.saving import open_chat_sessions
    from asynclm_tui.ui.app import create_app
    from asynclm_tui.ui.widgets.transcript import AssistantEntry

    engine = Engine(settings, ToolRegistry(), ScriptedBackend(["ok"]).factory())
    try:
        started = time.perf_counter()
        sessions = open_chat_sessions(engine, db, session_id=None, latest=True, save=False)
        load_s = time.perf_counter() - started
        app = create_app(settings, engine, start_engine=False, sessions=sessions)
        started = time.perf_counter()
        deadline = started + TIMEOUT_S
        async with app.run_test(size=SIZE):

            def entries() -> list[AssistantEntry]:
                return list(app.chat.query(AssistantEntry))

            def painted() -> bool:
                shown = entries()
                return bool(shown) and shown[-1].turn == turns and shown[-1].region.height > 0

            while not painted():
                if time.perf_counter() > deadline:
                    raise RuntimeError("the chat was not drawn in time")
                await asyncio.sleep(0.005)
            opening = Opening(turns, load_s, time.perf_counter() - started, 0.0)
            while len(entries()) < turns:
                if time.perf_counter() > deadline:
                    raise RuntimeError("the older turns were not drawn in time")
                typed = len(app.chat.prompt.text)
                pressed = time.perf_counter()
                app.simulate_key("x")
                while len(app.chat.prompt.text) == typed:
                    await asyncio.sleep(0.002)
                opening.key_ms.append((time.perf_counter() - pressed) * 1000)
                await asyncio.sleep(0.05)
            opening.all_drawn_s = time.perf_counter() - started
        return opening
    finally:
        engine.close()


def measure_openings(settings: Settings, turns: list[int], rounds: int) -> list[Opening]:
    """``rounds`` openings of a chat of each size, each from a fresh database."""
    out: list[Opening] = []
    for _ in range(rounds):
        for n in turns:
            with tempfile.TemporaryDirectory(prefix="asynclm-open-") as tmp:
                db = Path(tmp) / "chats.db"
                record_chat(db, n)
                out.append(asyncio.run(_open(settings, db, n)))
    return out


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def summarise(openings: list[Opening]) -> dict[str, Any]:
    """Medians per chat size plus every opening (JSON-ready, no NaN)."""
    sizes = sorted({o.turns for o in openings})
    rows = []
    for n in sizes:
        some = [o for o in openings if o.turns == n]
        rows.append(
            {
                "turns": n,
                "rounds": len(some),
                "load_s": _median([o.load_s for o in some]),
                "first_paint_s": _median([o.first_paint_s for o in some]),
                "all_drawn_s": _median([o.all_drawn_s for o in some]),
                "key_ms": summary([k for o in some for k in o.key_ms]),
            }
        )
    return {"size": list(SIZE), "sizes": rows, "openings": [asdict(o) for o in openings]}


def run_open_bench(settings: Settings, *, turns: list[int], rounds: int, as_json: bool) -> int:
    """Print the table (or JSON); exit code 1 if a chat did not open."""
    try:
        data = summarise(measure_openings(settings, turns, rounds))
    except RuntimeError as exc:
        print(f"asynclm: {exc}")
        return 1
    if as_json:
        print(json.dumps(data))
        return 0
    table = Table(title=f"opening a saved chat ({SIZE[0]}x{SIZE[1]}, headless; medians)")
    for col in (
        "turns",
        "rounds",
        "SQLite load s",
        "first paint s",
        "all turns drawn s",
        "key while drawing p50 / p95 / max ms",
    ):
        table.add_column(col, justify="right")
    for row in data["sizes"]:
        keys = row["key_ms"]
        key_text = (
            "no key pressed"
            if not keys["n"]
            else f"{keys['p50']} / {keys['p95']} / {keys['max']} (n={keys['n']})"
        )
        table.add_row(
            str(row["turns"]),
            str(row["rounds"]),
            str(row["load_s"]),
            str(row["first_paint_s"]),
            str(row["all_drawn_s"]),
            key_text,
        )
    print_table(table)
    return 0
