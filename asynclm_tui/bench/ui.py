"""``asynclm bench ui``: decoding speed with the TUI attached, and key latency.

Two engines on the same model decode the same teacher-forced text (same
prompt, same token count) in one process.  One streams to a plain queue
(headless); the other drives the full Textual app (``App.run_test``: the real
widgets, layout and compositor on every refresh, without terminal I/O).  Rounds
alternate so drift on a busy machine hits both sides alike; the ratio is of
the median rates.

While the TUI side decodes, a thread posts key presses to the app the way the
terminal driver's input thread does (``post_message``).  Latency is measured
from posting a key to the refresh after the character entered the input box.
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
    n_tokens: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Median TUI rate over median headless rate."""
        if not self.headless_tok_s or not self.tui_tok_s:
            return 0.0
        return statistics.median(self.tui_tok_s) / statistics.median(self.headless_tok_s)

    def latency(self, q: float) -> float:
        """Latency quantile ``q`` (0..1) in ms."""
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))]

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object."""
        return {
            "n_tokens": self.n_tokens,
            "headless_tok_s": [round(x, 2) for x in self.headless_tok_s],
            "tui_tok_s": [round(x, 2) for x in self.tui_tok_s],
            "headless_median_tok_s": round(statistics.median(self.headless_tok_s), 2),
            "tui_median_tok_s": round(statistics.median(self.tui_tok_s), 2),
            "ratio": round(self.ratio, 4),
            "ratio_target": TOK_S_TARGET,
            "key_samples": len(self.latencies_ms),
            "key_latency_p50_ms": round(self.latency(0.5), 2),
            "key_latency_p95_ms": round(self.latency(0.95), 2),
            "key_latency_max_ms": round(self.latency(1.0), 2),
            "key_latency_target_ms": LATENCY_TARGET_MS,
            "pass": self.ratio >= TOK_S_TARGET and self.latency(0.95) <= LATENCY_TARGET_MS,
        }


def _engine(settings: Settings, text: str, turns: int, interactive: bool) -> Engine:
    from asynclm_tui.runtime import build_engine

    return build_engine(settings, script=Script([text] * turns), interactive=interactive)


def _headless_turn(engine: Engine, events: queue.Queue[Event]) -> TurnDone:
    engine.reset_session()
    engine.post(SendMessage(PROMPT))
    while True:
        event = events.get(timeout=600)
        if isinstance(event, TurnDone):
            return event


async def _run(settings: Settings, n_chars: int, rounds: int) -> UIBenchResult:
    # Imported here: `asynclm bench` must not pull Textual in for other benches.
    from textual import events as tevents
    from textual.widgets import TextArea

    from asynclm_tui.ui.app import AsyncLMApp

    text = bench_text(n_chars)
    turns = rounds + 1  # one warm-up turn each
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

    head = _engine(settings, text, turns, interactive=False)
    head_events: queue.Queue[Event] = queue.Queue()
    head.subscribe(head_events.put)
    head.start()
    tui = _engine(settings, text, turns, interactive=True)
    tui_done: asyncio.Queue[TurnDone] = asyncio.Queue()
    app = BenchApp(settings, tui)
    loop = asyncio.get_running_loop()

    def on_tui_event(event: Event) -> None:
        if isinstance(event, TurnDone):
            loop.call_soon_threadsafe(tui_done.put_nowait, event)

    tui.subscribe(on_tui_event)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            if not await asyncio.to_thread(head.wait_loaded, 120) or not await asyncio.to_thread(
                tui.wait_loaded, 120
            ):
                raise RuntimeError(head.load_error or tui.load_error or "model did not load")
            for r in range(turns):
                done = await asyncio.to_thread(_headless_turn, head, head_events)
                stop = threading.Event()
                typist = threading.Thread(
                    target=_type_keys, args=(app, sent, stop, tevents), daemon=True
                )
                await pilot.pause(0.2)
                tui.reset_session()
                tui.post(SendMessage(PROMPT))
                typist.start()
                tdone = await asyncio.wait_for(tui_done.get(), 600)
                stop.set()
                typist.join()
                await pilot.pause(0.2)
                app.chat.prompt.clear()
                sent.clear()
                # Each round is a fresh chat on both sides (the engines reset too),
                # so every round renders the same transcript.
                await app.chat.action_new_chat()
                if r == 0:
                    latencies.clear()  # warm-up: prefill of the system prompt, first render
                    continue
                result.headless_tok_s.append(done.tok_s)
                result.tui_tok_s.append(tdone.tok_s)
                result.n_tokens = tdone.n_generated
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
    settings: Settings, *, chars: int = 1500, rounds: int = 3, as_json: bool = False
) -> int:
    """Run the benchmark and print a table (or JSON); returns the exit code."""
    from asynclm_tui.ui.app import SWITCH_INTERVAL_S

    # Same process-wide setting as `asynclm chat` (it affects both sides).
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
        ("ratio TUI / headless", f"{result.ratio:.3f}", f"target >= {TOK_S_TARGET}"),
        ("key -> input latency p50", f"{data['key_latency_p50_ms']:.1f} ms",
         f"{len(result.latencies_ms)} keys typed while decoding"),
        ("key -> input latency p95", f"{data['key_latency_p95_ms']:.1f} ms",
         f"target <= {LATENCY_TARGET_MS:.0f} ms"),
        ("key -> input latency max", f"{data['key_latency_max_ms']:.1f} ms", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>10}  notes")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")
    print("PASS" if data["pass"] else "FAIL (see targets)")
    return 0
