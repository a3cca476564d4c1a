"""``asynclm bench ui`` with calls running in the background.

The target: the user's next message is never delayed by a background call.
Each pair opens two chats the same way, with a first answer that starts
five ``sleep`` calls, then the user types the next message (key to screen,
composing), sends it (message to first token) and types on while it streams
(key to screen, streaming).  In one chat of the pair the calls take a
millisecond, so their results are in before that first answer ends; in the
other they take two minutes and run on in the background through the whole
measurement (they are cancelled before the next chat).  The order alternates
(quiet first, then busy first) so drift on a shared machine hits both alike.
Each measure is reported as busy / quiet with a 95 % interval over the pairs.

No Textual here (the app is passed in): the arithmetic is tested alone
(tests/bench/test_bench_ui_background.py).
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asynclm_tui.core.api.events import (
    CallFinished,
    CancelCall,
    Event,
    Prefilled,
    SendMessage,
    Token,
    TurnDone,
)
from asynclm_tui.core.settings.paths import shipped_tools_dir
from asynclm_tui.lab.bench.bootstrap import ratio_ci95
from asynclm_tui.lab.bench.ui_latency_stats import summary

if TYPE_CHECKING:
    from asynclm_tui.core.decode.engine import Engine
    from asynclm_tui.lab.bench.probed_app import BenchApp

CALLS = 5
"""Background calls running while the next message is typed and answered."""
LONG_MS = 120_000
"""A busy chat's calls: the shipped tool's longest, far longer than a chat."""
SHORT_MS = 1
"""A quiet chat's calls: done before the first answer ends."""
WAIT_AT_END_S = 2.0
"""``tools.wait_at_end_s`` for the whole bench: a quiet chat's calls finish
well within it, a busy chat's go on in the background after it."""
COMPOSING_S = 1.5
"""How long the user types the next message before sending it."""
SETUP_PROMPT = "Start five long jobs and tell me when they are done."
MEASURES = ("key_ms_composing", "key_ms_streaming", "ttft_ms")
LABELS = {
    "key_ms_composing": "key ms composing",
    "key_ms_streaming": "key ms streaming",
    "ttft_ms": "first token ms",
}


def tool_file() -> Path:
    """The shipped ``sleep`` tool, which the chats call (whatever the config's tools)."""
    return shipped_tools_dir() / "sleep.yaml"


def setup_text(ms: int) -> str:
    """The first answer of a chat: five calls of ``ms`` each."""
    calls = " ".join(f"[CALL] b{i} [HEAD] sleep(ms={ms}) [END]" for i in range(CALLS))
    return f"Starting five jobs. {calls} I will tell you when they are done."


def busy_first(pair: int) -> bool:
    """Whether pair ``pair`` opens the busy chat first (they alternate)."""
    return pair % 2 == 1


def script_turns(pairs: int, measured: str) -> list[str]:
    """The assistant's turns of the phase, in the order the phase asks for them."""
    turns: list[str] = []
    for pair in range(pairs):
        for busy in (True, False) if busy_first(pair) else (False, True):
            turns += [setup_text(LONG_MS if busy else SHORT_MS), measured]
    return turns


@dataclass
class Case:
    """One condition (quiet or busy): its measurements, pair by pair."""

    keys_composing: list[list[float]] = field(default_factory=list)
    keys_streaming: list[list[float]] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    prompt_evaluated: list[int] = field(default_factory=list)
    """Tokens the next message's prompt evaluated (the same in both cases
    unless the background changed what the model reads)."""

    def per_pair(self, measure: str) -> list[float]:
        """One value per pair: the median key latency, or the first token."""
        if measure == "ttft_ms":
            return list(self.ttft_ms)
        keys = self.keys_composing if measure == "key_ms_composing" else self.keys_streaming
        return [statistics.median(k) if k else 0.0 for k in keys]

    def pooled(self, measure: str) -> list[float]:
        """Every value of ``measure`` (all keys of all pairs)."""
        if measure == "ttft_ms":
            return list(self.ttft_ms)
        keys = self.keys_composing if measure == "key_ms_composing" else self.keys_streaming
        return [v for k in keys for v in k]


@dataclass
class BackgroundResult:
    """Quiet and busy chats, measured in pairs."""

    quiet: Case = field(default_factory=Case)
    busy: Case = field(default_factory=Case)

    @property
    def pairs(self) -> int:
        """Pairs measured in full."""
        return min(len(self.quiet.ttft_ms), len(self.busy.ttft_ms))

    def ratio(self, measure: str) -> tuple[float | None, tuple[float, float] | None]:
        """busy / quiet for ``measure`` (mean of the per-pair values), with
        its 95 % interval resampling the pairs; None without a pair."""
        n = self.pairs
        busy, quiet = self.busy.per_pair(measure)[:n], self.quiet.per_pair(measure)[:n]
        if not n or min(quiet) <= 0:
            return None, None
        return sum(busy) / sum(quiet), ratio_ci95(busy, quiet)

    def checks(self, key_p95_ms: float, key_max_ms: float) -> dict[str, bool | None]:
        """Unchanged: no slowdown the interval can show (its low end at or
        under 1); and the busy chat's keys within the key targets."""
        out: dict[str, bool | None] = {}
        for measure in MEASURES:
            _, ci = self.ratio(measure)
            out[f"background_{measure}"] = None if ci is None else ci[0] <= 1.0
        keys = summary(self.busy.pooled("key_ms_composing") + self.busy.pooled("key_ms_streaming"))
        p95, top = keys["p95"], keys["max"]
        out["background_keys"] = (
            None if p95 is None or top is None else p95 <= key_p95_ms and top <= key_max_ms
        )
        return out

    def to_json(self, key_p95_ms: float, key_max_ms: float) -> dict[str, Any]:
        """The ``background`` part of a thread setting's JSON (no NaN: null)."""

        def case(c: Case) -> dict[str, Any]:
            return {
                **{m: summary(c.pooled(m)) for m in MEASURES},
                "prompt_evaluated": list(c.prompt_evaluated),
            }

        ratios: dict[str, Any] = {}
        for measure in MEASURES:
            value, ci = self.ratio(measure)
            ratios[measure] = {
                "ratio": None if value is None else round(value, 4),
                "ci95": None if ci is None else [round(x, 4) for x in ci],
            }
        return {
            "calls": CALLS,
            "pairs": self.pairs,
            "quiet": case(self.quiet),
            "busy": case(self.busy),
            "busy_over_quiet": ratios,
            "met": self.checks(key_p95_ms, key_max_ms),
        }


def table_cells(result: BackgroundResult, measure: str) -> str:
    """``none -> busy p50: ratio (low-high, pairs)`` for the table."""
    quiet = summary(result.quiet.pooled(measure))["p50"]
    busy = summary(result.busy.pooled(measure))["p50"]
    value, ci = result.ratio(measure)
    if quiet is None or busy is None or value is None or ci is None:
        return "-"
    low, high = ci
    return f"{quiet:.0f} -> {busy:.0f}: x{value:.2f} ({low:.2f}-{high:.2f}, {result.pairs} pairs)"


class Watch:
    """The engine events the phase waits on (any thread in, the UI loop out)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._lock = threading.Lock()
        self.first_token: float | None = None
        self.evaluated = 0
        self.finished_ok = 0
        """Calls that succeeded since the last message."""
        self.done: asyncio.Queue[TurnDone] = asyncio.Queue()

    def __call__(self, event: Event) -> None:  # engine threads
        match event:
            case Token(text=text) if text:
                with self._lock:
                    if self.first_token is None:
                        self.first_token = time.perf_counter()
            case Prefilled():
                self.evaluated = event.n_evaluated
            case CallFinished(ok=True):
                with self._lock:
                    self.finished_ok += 1
            case TurnDone():
                self.loop.call_soon_threadsafe(self.done.put_nowait, event)
            case _:
                pass

    def expect(self) -> None:
        """A message is about to go: forget the last turn's."""
        with self._lock:
            self.first_token = None
            self.finished_ok = 0
        while not self.done.empty():
            self.done.get_nowait()


async def measure_background(
    app: BenchApp,
    engine: Engine,
    watch: Watch,
    result: BackgroundResult,
    *,
    pairs: int,
    prompt: str,
    new_chat: Callable[[], Any],
    progress: Callable[[str], None],
) -> None:
    """Run ``pairs`` pairs of chats (the turns of :func:`script_turns`).

    Raises:
        RuntimeError: a chat's calls were not where the phase needs them.
    """
    for pair in range(pairs):
        for busy in (True, False) if busy_first(pair) else (False, True):
            progress(f"background calls: pair {pair + 1}/{pairs}, {'busy' if busy else 'quiet'}")
            await _one_chat(app, engine, watch, result.busy if busy else result.quiet, busy, prompt)
            await new_chat()


async def _one_chat(
    app: BenchApp, engine: Engine, watch: Watch, case: Case, busy: bool, prompt: str
) -> None:
    await _turn(engine, watch, SETUP_PROMPT)
    running = engine.snapshot().background
    if len(running) != (CALLS if busy else 0) or (not busy and watch.finished_ok != CALLS):
        raise RuntimeError(
            f"the first answer left {len(running)} calls in the background and "
            f"{watch.finished_ok} done, not {CALLS if busy else 0} and {0 if busy else CALLS} "
            f"(sleep calls of {LONG_MS if busy else SHORT_MS} ms, "
            f"tools.wait_at_end_s {WAIT_AT_END_S:g} s)"
        )
    app.clear_input()
    composing: list[float] = []
    app.keys = composing
    await asyncio.sleep(COMPOSING_S)
    app.keys = None
    app.clear_input()
    streaming: list[float] = []
    app.keys = streaming
    sent = await _turn(engine, watch, prompt)
    app.keys = None
    first = watch.first_token
    if busy and len(engine.snapshot().background) != CALLS:
        raise RuntimeError("a background call ended during the measurement")
    case.keys_composing.append(composing)
    case.keys_streaming.append(streaming)
    case.ttft_ms.append(((first or sent) - sent) * 1000)
    case.prompt_evaluated.append(watch.evaluated)
    for call_id in running:
        engine.post(CancelCall(call_id))
    await asyncio.to_thread(engine.wait_idle, 60)


async def _turn(engine: Engine, watch: Watch, text: str) -> float:
    """Send ``text`` and wait for its answer; returns when it was sent."""
    await asyncio.to_thread(engine.wait_idle, 60)
    watch.expect()
    sent = time.perf_counter()
    engine.post(SendMessage(text))
    try:
        await asyncio.wait_for(watch.done.get(), 300)
    except TimeoutError:
        raise RuntimeError(f"no answer to {text!r} within 300 s") from None
    await asyncio.to_thread(engine.wait_idle, 60)
    return sent
