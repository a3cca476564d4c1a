"""``asynclm bench ui``: what the user sees while the model streams.

For each llama.cpp thread setting (the default, and every core; with a spare
core too when those are the same), one engine decodes teacher-forced
Markdown (headings, lists, code) under the full Textual app at 150x42, every
screen update encoded for a terminal and written to /dev/null
(:mod:`asynclm_tui.lab.bench.probed_app`).  It reports:

- **visible updates**: screen updates that showed more of the answer, per
  second, and the p95 and max gap between two of them;
- **key to screen**: a key posted every 100 ms as the terminal driver's input
  thread would, timed to the screen update that shows it: while decoding,
  while 20 tool results land within a few milliseconds (a flood), and while
  the model loads;
- **TUI / headless tok/s** with its 95 % interval.  During each turn the bench
  switches the UI every 1-2 s between attached (events rendered as in a chat)
  and detached (events held; the UI thread sleeps): neighbouring windows of
  one turn share the process, the llama.cpp context and the text, so drift
  and other tenants' bursts hit both sides alike (two identical headless
  processes on a shared 2-core VM differed by 0.92-1.10).  Switching weighs on
  neither side: an attached window ends after the render it scheduled, and
  the backlog held in a detached window is drawn between windows;
- **time to first token**: from sending the message to its first token, for
  the first turn after launch and for later ones;
- **with background calls**: key to screen while composing and while the
  answer streams, and time to first token, with five calls running in the
  background against none, as ratios with their 95 % intervals
  (:mod:`asynclm_tui.lab.bench.ui_background`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from asynclm_tui.core.api.events import (
    CallIssued,
    Event,
    NewSession,
    Prefilled,
    SendMessage,
    Token,
    TurnDone,
)
from asynclm_tui.core.cml.script import Script
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.headless.tables import print_table
from asynclm_tui.lab.bench import flood, ui_background
from asynclm_tui.lab.bench.ui_latency_stats import ThreadsResult, Window, summary

if TYPE_CHECKING:
    from asynclm_tui.lab.bench.probed_app import BenchApp

PROMPT = "Explain how a lighthouse works, with a list and a code example."
PARAGRAPH = """\
## The lamp

A lighthouse keeps a **bright lamp** turning so ships can *see* the coast at night.
The lens gathers the light into a narrow beam:

- a Fresnel lens bends the light with rings of glass,
- a clockwork or motor turns the lens at a fixed speed,
- each light has its own pattern of flashes (its *character*).

```python
def flashes(period_s: float, seconds: float) -> int:
    return int(seconds // period_s)
```

"""
FLOOD_CALLS = 20
SIZE = (150, 42)
"""The terminal size the issue's check uses."""
WINDOW_S = 2.0
"""Longest attached/detached window."""
MIN_WINDOWS = 6
"""Windows are shortened so that a turn has at least this many..."""
MIN_WINDOW_S = 1.0
"""...but not below this."""


def bench_text(n_chars: int) -> str:
    """Markdown-rich text (headings, lists, code) of about ``n_chars`` characters."""
    reps = max(1, n_chars // len(PARAGRAPH) + 1)
    return (PARAGRAPH * reps)[:n_chars].rstrip()


def flood_text() -> str:
    """A turn that starts FLOOD_CALLS calls, waits, and writes on as they land."""
    calls = " ".join(f"[CALL] h{i} [HEAD] held(n={i}) [END]" for i in range(FLOOD_CALLS))
    return f"Checking twenty sources at once. {calls} [TRAP][END] {bench_text(800)}"


class _Turns:
    """Engine events the bench waits on, handed to the UI loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.token_times: list[float] = []
        self.sent_at = 0.0
        self.first_token: float | None = None
        self.calls = 0
        self.started: asyncio.Queue[None] = asyncio.Queue()
        self.finished: asyncio.Queue[TurnDone] = asyncio.Queue()
        self.flooded = asyncio.Event()

    def __call__(self, event: Event) -> None:  # engine thread
        match event:
            case Token():
                now = time.perf_counter()
                self.token_times.append(now)
                if self.first_token is None:
                    self.first_token = now
            case Prefilled():
                self.loop.call_soon_threadsafe(self.started.put_nowait, None)
            case CallIssued():
                self.calls += 1
                if self.calls == FLOOD_CALLS:
                    self.loop.call_soon_threadsafe(self.flooded.set)
            case TurnDone():
                self.loop.call_soon_threadsafe(self.finished.put_nowait, event)
            case _:
                pass

    def new_turn(self) -> None:
        self.token_times.clear()
        self.first_token = None
        self.calls = 0
        self.flooded.clear()
        self.sent_at = time.perf_counter()


async def _windows(
    app: BenchApp,
    turns: _Turns,
    window_s: float,
    attached_first: bool,
    keys: list[float] | None = None,
) -> tuple[list[Window], TurnDone]:
    """Run one turn, switching the UI every ``window_s``; with ``keys``, the
    user types in the attached windows and the latencies go there."""
    await turns.started.get()
    windows: list[Window] = []
    attached = attached_first
    done: TurnDone | None = None
    cpu_at_start = 0.0  # the UI thread's CPU clock when the open window began

    def close(window: Window) -> None:
        window.end = time.perf_counter()
        window.ui_cpu_s = time.thread_time() - cpu_at_start  # this thread runs the UI
        app.frames = app.keys = None

    while done is None:
        if windows and attached:
            close(windows[-1])  # a detached window ends before its backlog is drawn
        await (app.attach() if attached else app.detach())
        await asyncio.sleep(0.05)  # let that render reach the screen
        if windows and not attached:
            close(windows[-1])  # an attached window ends after its last render
        window = Window(attached, time.perf_counter())
        windows.append(window)
        cpu_at_start = time.thread_time()
        if attached and keys is not None:
            app.keys = keys
        elif attached:
            app.frames = window.frames
        with contextlib.suppress(TimeoutError):
            done = await asyncio.wait_for(turns.finished.get(), window_s)
        attached = not attached
    close(windows[-1])
    await app.attach()
    last = windows[-1]
    last.end = turns.token_times[-1] if turns.token_times else last.start
    for w in windows:
        w.tokens = sum(1 for t in turns.token_times if w.start <= t < w.end)
    last.tokens += 1  # the last token, at its window's end
    return windows, done


async def _measure(settings: Settings, threads: int, chars: int, rounds: int) -> ThreadsResult:
    from asynclm_tui.core.decode.from_settings import build_engine
    from asynclm_tui.lab.bench.probed_app import BenchApp, typist

    result = ThreadsResult(threads=threads, cpus=os.cpu_count() or 1)
    settings = settings.model_copy(deep=True)
    settings.model.n_threads = threads
    tool_dir = flood.write_tool(Path(tempfile.mkdtemp(prefix="asynclm-bench-")))
    settings.tools.dirs = [*settings.tools.dirs, tool_dir, ui_background.tool_file()]
    settings.tools.max_concurrency = max(settings.tools.max_concurrency, FLOOD_CALLS)
    settings.tools.wait_at_end_s = ui_background.WAIT_AT_END_S
    pairs = 2 * rounds
    background_texts = ui_background.script_turns(pairs, bench_text(max(400, chars // 4)))
    texts = [bench_text(chars)] * (2 * rounds + 1) + [flood_text(), *background_texts]
    engine = build_engine(settings, script=Script(texts), interactive=True)
    app = BenchApp(settings, engine, start_engine=False)
    turns = _Turns(asyncio.get_running_loop())
    engine.subscribe(turns)
    watch = ui_background.Watch(asyncio.get_running_loop())
    engine.subscribe(watch)
    background = ui_background.BackgroundResult()
    result.background = background
    stop = threading.Event()
    keys = threading.Thread(target=typist, args=(app, stop), daemon=True)

    async def send() -> None:
        await asyncio.to_thread(engine.wait_idle, 60)
        engine.post(NewSession())
        app.clear_input()
        turns.new_turn()
        engine.post(SendMessage(PROMPT))

    def progress(what: str) -> None:
        # The app captures sys.stderr while it runs.
        print(f"bench ui: {threads} threads: {what}", file=sys.__stderr__, flush=True)

    def ttft() -> None:
        if turns.first_token is not None:
            result.ttft_ms.append((turns.first_token - turns.sent_at) * 1000)

    try:
        async with app.run_test(headless=False, size=SIZE) as pilot:
            keys.start()
            app.keys = result.keys_load_ms  # typing while the model loads
            progress("loading the model")
            engine.start()
            loaded = await asyncio.to_thread(engine.wait_loaded, 300)
            await pilot.pause(0.2)
            app.keys = None
            if not loaded:
                raise RuntimeError(engine.snapshot().load_error or "model did not load")
            # A warm-up turn (first prefill and renders) sizes the windows.
            progress("warm-up turn")
            await send()
            _, done = await _windows(app, turns, 3600.0, True)
            ttft()
            decode_s = done.n_generated / done.tok_s if done.tok_s else 0.0
            result.window_s = max(MIN_WINDOW_S, min(WINDOW_S, decode_s / MIN_WINDOWS))
            for r in range(rounds):
                for typing in (False, True):
                    progress(f"round {r + 1}/{rounds}, {'typing' if typing else 'watching'}")
                    await send()
                    windows, done = await _windows(
                        app,
                        turns,
                        result.window_s,
                        (r + typing) % 2 == 0,
                        result.keys_decoding_ms if typing else None,
                    )
                    ttft()
                    result.add_turn(windows, typing)
                    result.n_tokens = done.n_generated
                    await new_chat(app)  # every turn renders the same transcript
            progress("tool flood")
            await _flood(app, turns, send, result)
            await new_chat(app)
            await ui_background.measure_background(
                app,
                engine,
                watch,
                background,
                pairs=pairs,
                prompt=PROMPT,
                new_chat=lambda: new_chat(app),
                progress=progress,
            )
            stop.set()
            await asyncio.to_thread(engine.close)  # no events while the app closes
    finally:
        if not stop.is_set():  # failed before the end
            stop.set()
            engine.close()
        flood.rearm()
    return result


async def new_chat(app: BenchApp) -> None:
    """Clear the chat as Ctrl+N does: pressed again when the first press only
    asked (a chat with turns)."""
    await app.chat.action_new_chat()
    if app.chat.state.turns:
        await app.chat.action_new_chat()


async def _flood(
    app: BenchApp, turns: _Turns, send: Callable[[], Awaitable[None]], result: ThreadsResult
) -> None:
    """Type while FLOOD_CALLS results land within a few milliseconds."""
    await send()
    await turns.flooded.wait()
    app.keys = result.keys_flood_ms
    await asyncio.sleep(0.3)  # a few keys before the flood as well
    flood.release()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(turns.finished.get(), 60)
    app.keys = None


def default_threads(settings: Settings) -> list[int]:
    """The configured or default thread count, every core, and (when those
    are the same) one core fewer: what the issue's targets name."""
    from asynclm_tui.core.backends import model_path
    from asynclm_tui.core.backends.load_plan import default_threads as chosen

    cpus = os.cpu_count() or 1
    settings_threads = settings.model.n_threads or chosen(model_path(settings), settings.model)
    wanted = [settings_threads, cpus]
    if settings_threads == cpus and cpus > 1:
        wanted.append(cpus - 1)
    return list(dict.fromkeys(wanted))


def run_ui_bench(
    settings: Settings,
    *,
    threads: list[int] | None = None,
    chars: int = 4000,
    rounds: int = 3,
    as_json: bool = False,
) -> int:
    """Run the benchmark and print a table (or JSON); returns the exit code."""
    from asynclm_tui.ui.app import SWITCH_INTERVAL_S

    sys.setswitchinterval(SWITCH_INTERVAL_S)  # as `asynclm chat` does
    results: list[ThreadsResult] = []
    try:
        for n in threads or default_threads(settings):
            results.append(asyncio.run(_measure(settings, n, chars, rounds)))
    except RuntimeError as exc:
        print(f"asynclm: bench ui: {exc}", file=sys.stderr)
        return 1
    data = {"size": list(SIZE), "cpus": os.cpu_count(), "runs": [r.to_json() for r in results]}
    if as_json:
        print(json.dumps(data, indent=2, allow_nan=False))
    else:
        print_table(_table(results))
    return 0


def _ms(stats: dict[str, float | int | None], key: str) -> str:
    value = stats[key]
    return "-" if value is None else f"{value:.0f}"


def _table(results: list[ThreadsResult]) -> Table:
    table = Table(title=f"asynclm bench ui ({SIZE[0]}x{SIZE[1]})")
    table.add_column("measure")
    for r in results:
        spare = "a core spare" if r.spare_core else "every core decodes"
        table.add_column(f"{r.threads} threads of {r.cpus} ({spare})", justify="right")
    table.add_column("target")
    rows: list[tuple[str, list[str], str]] = []

    def row(name: str, cells: list[str], target: str = "") -> None:
        rows.append((name, cells, target))

    data = [r.to_json() for r in results]
    row(
        "visible updates/s",
        [f"{d['visible_updates_per_s'] or 0:.1f}" for d in data],
        ">= 15 spare core, >= 4 otherwise",
    )
    row(
        "gap p95 / max ms",
        [f"{_ms(d['visible_gap_ms'], 'p95')} / {_ms(d['visible_gap_ms'], 'max')}" for d in data],
        "p95 <= 80 spare core, <= 250 otherwise",
    )
    row("headless tok/s (detached)", [f"{d['detached_tok_s'] or 0:.1f}" for d in data])
    row("TUI tok/s (attached)", [f"{d['tui_tok_s'] or 0:.1f}" for d in data])
    row(
        "TUI / headless",
        [
            "-" if d["ratio"] is None else _ratio_cell(d["ratio"], d["ratio_ci95"], d["pairs"])
            for d in data
        ],
        ">= 0.97 spare core, >= 0.93 otherwise (95 % interval, pairs)",
    )
    for name, key in (
        ("key ms decoding", "key_ms_decoding"),
        ("key ms tool flood", "key_ms_tool_flood"),
        ("key ms model load", "key_ms_model_load"),
    ):
        row(
            f"{name} p50/p95/max",
            [
                f"{_ms(d[key], 'p50')} / {_ms(d[key], 'p95')} / {_ms(d[key], 'max')} "
                f"({d[key]['n']})"
                for d in data
            ],
            "p95 <= 30, max <= 100",
        )
    row(
        "first token ms, first turn",
        [
            "-" if d["ttft_ms_first_turn"] is None else f"{d['ttft_ms_first_turn']:.0f}"
            for d in data
        ],
    )
    row("first token ms, later (p50)", [_ms(summary(r.ttft_ms[1:]), "p50") for r in results])
    row("UI thread, share of a core", [f"{(d['ui_cpu_share_watching'] or 0):.1%}" for d in data])
    for measure in ui_background.MEASURES:
        row(
            f"{ui_background.LABELS[measure]} p50, none -> {ui_background.CALLS} in background",
            [
                ui_background.table_cells(r.background, measure)
                if isinstance(r.background, ui_background.BackgroundResult)
                else "-"
                for r in results
            ],
            "unchanged: low end of the busy/none 95 % interval <= 1",
        )
    for name, cells, target in rows:
        table.add_row(name, *cells, target)
    missed = [[name for name, ok in r.checks().items() if ok is False] for r in results]
    table.add_row("targets missed", *[", ".join(m) or "none" for m in missed], "")
    return table


def _ratio_cell(ratio: float, ci95: tuple[float, float], pairs: int) -> str:
    """``ratio (low-high, pairs)`` for the TUI / headless row."""
    return f"{ratio:.3f} ({ci95[0]:.3f}-{ci95[1]:.3f}, {pairs})"
