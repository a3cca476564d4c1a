"""``asynclm bench ui``: decoding speed with the TUI attached, and key latency.

Engines on the same model decode the same teacher-forced text (same prompt,
same token count).  The headless one streams to a plain queue in a child
process (see :mod:`asynclm_tui.bench.sidecar`); the other drives the full
Textual app in this process (``App.run_test``: the real widgets, layout and
compositor on every refresh, without terminal I/O).

Each round runs three turns: headless, TUI with the user watching, and TUI
with the user typing a key every 100 ms (posted the way the terminal driver's
input thread posts them).  The order flips every round so drift on a busy
machine hits all sides alike, and each ratio is the median of per-round
ratios.  The speed target applies to the watching turn; the typing turn
gives the key latency (post to the refresh after the character entered the
input box) and its own ratio, reported alongside: typing costs CPU of its
own, which on a small machine is taken from decoding.
"""

from __future__ import annotations

import asyncio
import json
import queue
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from asynclm_tui.bench.sidecar import Sidecar
from asynclm_tui.core.config import Settings
from asynclm_tui.core.engine import Engine
from asynclm_tui.core.events import Event, SendMessage, TurnDone
from asynclm_tui.core.script import Script

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

TOK_S_TARGET = 0.95
LATENCY_TARGET_MS = 50.0


def bench_text(n_chars: int) -> str:
    """Markdown-rich text (headings, lists, code) of about ``n_chars`` characters."""
    reps = max(1, n_chars // len(PARAGRAPH) + 1)
    return (PARAGRAPH * reps)[:n_chars].rstrip()


@dataclass
class UIBenchResult:
    """Everything ``asynclm bench ui`` reports."""

    headless_tok_s: list[float] = field(default_factory=list)
    tui_tok_s: list[float] = field(default_factory=list)
    """TUI attached, the user watching."""
    typing_tok_s: list[float] = field(default_factory=list)
    """TUI attached, the user typing."""
    n_tokens: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    ui_cpu: dict[str, list[float]] = field(
        default_factory=lambda: {"watch": [], "type": []}
    )
    """Share of one core the UI thread used during each TUI turn."""

    @staticmethod
    def _paired(side: list[float], headless: list[float]) -> float:
        ratios = [a / b for a, b in zip(side, headless, strict=False) if b > 0]
        return statistics.median(ratios) if ratios else 0.0

    @property
    def ratio(self) -> float:
        """Median over rounds of TUI (watching) rate / headless rate."""
        return self._paired(self.tui_tok_s, self.headless_tok_s)

    @property
    def typing_ratio(self) -> float:
        """The same while the user types."""
        return self._paired(self.typing_tok_s, self.headless_tok_s)

    def latency(self, q: float) -> float:
        """Latency quantile ``q`` (0..1) in ms."""
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))]

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object."""

        def rates(xs: list[float]) -> list[float]:
            return [round(x, 2) for x in xs]

        def median(xs: list[float]) -> float:
            return round(statistics.median(xs), 2) if xs else 0.0

        return {
            "n_tokens": self.n_tokens,
            "headless_tok_s": rates(self.headless_tok_s),
            "tui_tok_s": rates(self.tui_tok_s),
            "typing_tok_s": rates(self.typing_tok_s),
            "headless_median_tok_s": median(self.headless_tok_s),
            "tui_median_tok_s": median(self.tui_tok_s),
            "typing_median_tok_s": median(self.typing_tok_s),
            "ratio": round(self.ratio, 4),
            "ratio_target": TOK_S_TARGET,
            "typing_ratio": round(self.typing_ratio, 4),
            "key_samples": len(self.latencies_ms),
            "key_latency_p50_ms": round(self.latency(0.5), 2),
            "key_latency_p95_ms": round(self.latency(0.95), 2),
            "key_latency_max_ms": round(self.latency(1.0), 2),
            "key_latency_target_ms": LATENCY_TARGET_MS,
            "ui_cpu_share_watching": median(self.ui_cpu["watch"]),
            "ui_cpu_share_typing": median(self.ui_cpu["type"]),
            "pass": self.ratio >= TOK_S_TARGET and self.latency(0.95) <= LATENCY_TARGET_MS,
        }


def _engine(settings: Settings, text: str, turns: int, interactive: bool) -> Engine:
    from asynclm_tui.runtime import build_engine

    return build_engine(settings, script=Script([text] * turns), interactive=interactive)


class HeadlessSide:
    """The headless engine, decoding the bench text with no UI attached."""

    def __init__(self, settings: Settings, text: str, turns: int) -> None:
        self.engine = _engine(settings, text, turns, interactive=False)
        self.events: queue.Queue[Event] = queue.Queue()
        self.engine.subscribe(self.events.put)
        self.engine.start()
        if not self.engine.wait_loaded(120):
            error = self.engine.load_error or "model did not load"
            self.engine.close()
            raise RuntimeError(error)

    def __call__(self) -> float:
        """Run one fresh-chat turn; its decode rate in tokens/s."""
        self.engine.reset_session()
        self.engine.post(SendMessage(PROMPT))
        while True:
            event = self.events.get(timeout=600)
            if isinstance(event, TurnDone):
                return event.tok_s

    def close(self) -> None:
        """Stop the engine."""
        self.engine.close()


async def _run(settings: Settings, n_chars: int, rounds: int) -> UIBenchResult:
    # Imported here: `asynclm bench` must not pull Textual in for other benches.
    from textual import events as tevents
    from textual.widgets import TextArea

    from asynclm_tui.ui.app import AsyncLMApp

    text = bench_text(n_chars)
    turns = 2 * (rounds + 1)  # the TUI engine's script: two turns a round
    result = UIBenchResult()
    latencies = result.latencies_ms
    sent: dict[str, float] = {}

    class BenchApp(AsyncLMApp):
        """The real app, plus a hook that timestamps typed characters."""

        def on_text_area_changed(self, message: TextArea.Changed) -> None:
            text_now = message.text_area.text
            if not text_now:
                return
            key = text_now[-1]
            t0 = sent.pop(key, None)
            if t0 is not None:
                self.call_after_refresh(lambda: latencies.append((time.perf_counter() - t0) * 1000))

    head: Sidecar[float] = Sidecar(HeadlessSide, settings, text, turns)
    tui = _engine(settings, text, turns, interactive=True)
    tui_done: asyncio.Queue[TurnDone] = asyncio.Queue()
    app = BenchApp(settings, tui)
    loop = asyncio.get_running_loop()

    def on_tui_event(event: Event) -> None:
        if isinstance(event, TurnDone):
            loop.call_soon_threadsafe(tui_done.put_nowait, event)

    tui.subscribe(on_tui_event)

    async def tui_turn(typing: bool) -> tuple[TurnDone, float]:
        stop = threading.Event()
        typist = threading.Thread(target=_type_keys, args=(app, sent, stop, tevents), daemon=True)
        await pilot.pause(0.2)
        tui.reset_session()
        wall, cpu = time.perf_counter(), time.thread_time()  # this thread runs the UI
        tui.post(SendMessage(PROMPT))
        if typing:
            typist.start()
        done = await asyncio.wait_for(tui_done.get(), 600)
        share = (time.thread_time() - cpu) / (time.perf_counter() - wall)
        stop.set()
        if typist.is_alive():
            typist.join()
        await pilot.pause(0.2)
        app.chat.prompt.clear()
        sent.clear()
        # Each turn is a fresh chat on both sides (the engines reset too), so
        # every turn renders the same transcript.
        await app.chat.action_new_chat()
        return done, share

    try:
        async with app.run_test(size=(120, 40)) as pilot:
            if not await asyncio.to_thread(tui.wait_loaded, 120):
                raise RuntimeError(tui.load_error or "model did not load")
            for r in range(rounds + 1):  # round 0 warms up (first prefill and render)
                order = ["headless", "watch", "type"]
                rates: dict[str, float] = {}
                shares: dict[str, float] = {}
                for side in order if r % 2 == 0 else order[::-1]:
                    if side == "headless":
                        rates[side] = await asyncio.to_thread(head)
                    else:
                        done, shares[side] = await tui_turn(typing=side == "type")
                        rates[side] = done.tok_s
                        result.n_tokens = done.n_generated
                if r == 0:
                    latencies.clear()
                    continue
                for side, share in shares.items():
                    result.ui_cpu[side].append(share)
                result.headless_tok_s.append(rates["headless"])
                result.tui_tok_s.append(rates["watch"])
                result.typing_tok_s.append(rates["type"])
    finally:
        head.close()
        tui.close()
    return result


def _type_keys(app: Any, sent: dict[str, float], stop: threading.Event, tevents: Any) -> None:
    """Type a letter every 100 ms (a fast typist), as the terminal driver's input thread would."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = 0
    while not stop.wait(0.1):
        ch = letters[i % len(letters)]
        i += 1
        sent[ch] = time.perf_counter()
        app.post_message(tevents.Key(ch, ch))


def run_ui_bench(
    settings: Settings, *, chars: int = 1500, rounds: int = 5, as_json: bool = False
) -> int:
    """Run the benchmark and print a table (or JSON); returns the exit code."""
    from asynclm_tui.ui.app import SWITCH_INTERVAL_S

    # Same process-wide setting as `asynclm chat`.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        result = asyncio.run(_run(settings, chars, rounds))
    except RuntimeError as exc:
        print(f"asynclm: bench ui: {exc}")
        return 1
    data = result.to_json()
    if as_json:
        print(json.dumps(data, indent=2))
        return 0
    rows = [
        ("tokens per turn", f"{result.n_tokens}", ""),
        ("headless tok/s (median)", f"{data['headless_median_tok_s']:.1f}",
         " ".join(f"{x:.1f}" for x in result.headless_tok_s)),
        ("TUI attached tok/s (median)", f"{data['tui_median_tok_s']:.1f}",
         " ".join(f"{x:.1f}" for x in result.tui_tok_s)),
        ("ratio TUI / headless", f"{result.ratio:.3f}",
         f"target >= {TOK_S_TARGET} (median of per-round ratios)"),
        ("TUI + typing tok/s (median)", f"{data['typing_median_tok_s']:.1f}",
         " ".join(f"{x:.1f}" for x in result.typing_tok_s)),
        ("ratio TUI typing / headless", f"{result.typing_ratio:.3f}",
         "no target: typed keys cost CPU of their own"),
        ("key -> input latency p50", f"{data['key_latency_p50_ms']:.1f} ms",
         f"{len(result.latencies_ms)} keys typed while decoding"),
        ("key -> input latency p95", f"{data['key_latency_p95_ms']:.1f} ms",
         f"target <= {LATENCY_TARGET_MS:.0f} ms"),
        ("key -> input latency max", f"{data['key_latency_max_ms']:.1f} ms", ""),
        ("UI thread CPU, watching", f"{data['ui_cpu_share_watching']:.1%}",
         "share of one core (median); llama.cpp's threads lose what it takes"),
        ("UI thread CPU, typing", f"{data['ui_cpu_share_typing']:.1%}", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>10}  notes")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")
    print("PASS" if data["pass"] else "FAIL (see targets)")
    return 0
