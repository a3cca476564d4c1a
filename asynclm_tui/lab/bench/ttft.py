"""``asynclm bench ttft``: time to the first answer token after launch, cold and warm.

Each round launches a fresh engine (model load included, as a user's launch
would), posts a one-line message as soon as the model is ready, and times the
first streamed token.  A cold launch finds no saved system-prompt state (a new
empty cache dir) and evaluates the whole system prompt; a warm launch restores
the state the cold one saved.  Cold and warm alternate so machine drift hits
both.  :func:`measure_ttft` is what other benchmarks call.
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from rich.table import Table

from asynclm_tui.core.api.events import (
    Event,
    ModelLoaded,
    ModelLoadFailed,
    Prefilled,
    SendMessage,
    Token,
    TurnFailed,
)
from asynclm_tui.core.decode.from_settings import build_engine
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.headless.tables import print_table

MESSAGE = "Hi! In one sentence, what can you do?"


@dataclass(frozen=True)
class Launch:
    """One launch: seconds from posting the message to its first token."""

    warm: bool
    ttft_s: float
    load_s: float
    n_evaluated: int
    """Prompt tokens the first turn evaluated (the user's message when warm)."""


@contextmanager
def _cache_dir(path: str) -> Iterator[None]:
    """Point the XDG cache dir (where states are saved) at ``path``."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = path
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = old


def launch(settings: Settings, *, warm: bool, timeout: float = 600) -> Launch:
    """Launch an engine, send :data:`MESSAGE`, time its first token.

    Raises:
        RuntimeError: the model failed to load or no token came.
    """
    events: queue.Queue[Event] = queue.Queue()
    t_launch = time.perf_counter()
    engine = build_engine(settings)
    engine.subscribe(events.put)
    engine.start()
    try:
        t_sent = load_s = 0.0
        n_eval = -1
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            match events.get(timeout=timeout):
                case ModelLoadFailed(message=message) | TurnFailed(message=message):
                    raise RuntimeError(message)
                case ModelLoaded():
                    t_sent = time.perf_counter()
                    load_s = t_sent - t_launch
                    engine.post(SendMessage(MESSAGE))
                case Prefilled(n_evaluated=n_evaluated):
                    n_eval = n_evaluated
                case Token(text=text) if text and t_sent:
                    return Launch(warm, time.perf_counter() - t_sent, load_s, n_eval)
        raise RuntimeError("no token before the timeout")
    finally:
        engine.close()


def measure_ttft(settings: Settings, rounds: int) -> list[Launch]:
    """``rounds`` cold/warm pairs, each in its own empty cache dir."""
    settings = settings.model_copy(deep=True)
    settings.generation.max_tokens = 4
    out: list[Launch] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="asynclm-ttft-") as tmp, _cache_dir(tmp):
            out.append(launch(settings, warm=False))
            out.append(launch(settings, warm=True))
    return out


def summary(launches: list[Launch]) -> dict[str, object]:
    """Medians per kind plus every launch (JSON-ready, no NaN)."""

    def median(warm: bool) -> float | None:
        values = [x.ttft_s for x in launches if x.warm is warm]
        return round(statistics.median(values), 3) if values else None

    return {
        "message": MESSAGE,
        "cold_ttft_s": median(False),
        "warm_ttft_s": median(True),
        "launches": [asdict(x) for x in launches],
    }


def run_ttft_bench(settings: Settings, *, rounds: int, as_json: bool) -> int:
    """Print the table (or JSON); exit code 1 if a launch fails."""
    try:
        launches = measure_ttft(settings, rounds)
    except RuntimeError as exc:
        print(f"asynclm: {exc}")
        return 1
    data = summary(launches)
    if as_json:
        print(json.dumps(data))
        return 0
    table = Table(title=f"time to first token after launch ({MESSAGE!r})")
    for col in ("launch", "state", "model load s", "prompt tokens evaluated", "first token s"):
        table.add_column(col, justify="right")
    for i, x in enumerate(launches, 1):
        state = "restored" if x.warm else "evaluated + saved"
        table.add_row(str(i), state, f"{x.load_s:.2f}", str(x.n_evaluated), f"{x.ttft_s:.3f}")
    table.add_row("median", "cold", "", "", str(data["cold_ttft_s"]))
    table.add_row("median", "warm", "", "", str(data["warm_ttft_s"]))
    print_table(table)
    return 0
