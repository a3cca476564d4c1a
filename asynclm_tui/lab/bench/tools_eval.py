"""``asynclm bench tools``: does the model call the right tools? Base against adapter.

Held-out natural requests (``asynclm_tui.lab.tasks.requests.heldout_requests``:
templates that never enter the adapter's training set) go through the real
engine headless, the path ``asynclm run`` takes (:func:`run_headless` on an
:class:`Engine` over the configured backend), once on the base model (no
adapter) and once with the adapter (``--lora FILE``, else the shipped one on
the bundled model; without one the adapter side is skipped with a note).

Each run is a fresh engine, as each ``asynclm run`` is: the system prompt is
then the one a user gets at launch (the shipped tool specs with their declared
``estimated_ms``; an engine reused across requests would drift to the measured
run times), and every request is sampled from the same seed on both sides.
The tools keep their shipped specs exactly (checked: the prompt the engine
writes must equal the one the unmodified specs give), but run offline:
``weather`` answers a plausible one-line report, ``save_note`` says
``saved``, ``list_dir`` lists a small fixed folder, ``sleep`` waits at most
200 ms; ``clock``, ``calc`` and ``echo`` run for real.  Scoring is in
:mod:`asynclm_tui.lab.bench.tools_score`.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import sys
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO, cast

from rich.table import Table

from asynclm_tui.core.api.enums import InterruptKind
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    Event,
    Interrupt,
    ModelLoaded,
    ModelLoadFailed,
    StopGeneration,
    Token,
    TurnDone,
    TurnFailed,
)
from asynclm_tui.core.backends import backend_factory, model_path
from asynclm_tui.core.backends.adapter import applied_adapter, choose_adapter
from asynclm_tui.core.backends.base import ModelLoadError
from asynclm_tui.core.cml.prompt import launch_system_prompt
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.settings import paths
from asynclm_tui.core.settings.config import LORA_OFF, Settings
from asynclm_tui.core.tools.registry import ArgumentError, ToolRegistry
from asynclm_tui.headless.run import run_headless
from asynclm_tui.headless.tables import print_table
from asynclm_tui.lab.bench.bfcl.command import Progress
from asynclm_tui.lab.bench.tools_score import (
    METRICS,
    NO_CALL_TARGET,
    Attempt,
    RequestLike,
    ResultSeen,
    RunRecord,
    SideSummary,
    summarize,
)
from asynclm_tui.lab.tasks.bfcl_data import BenchError

BASE, ADAPTER = "base", "adapter"
DEFAULT_MAX_TOKENS = 256
"""Tokens per answer by default: the first call comes within a few dozen and
the stand-ins answer at once, so the answer after a result is in long before;
``--max-tokens`` raises it (a small model may otherwise ramble to 1024)."""
RUN_TIMEOUT_S = 300.0
"""A run still going after this is stopped (and reported as an error)."""
SLEEP_CAP_MS = 200
KINDS = ("single", "pair", "none")

# ------------------------------------------------------------------ offline tools

_SKIES = ("☀️", "⛅️", "☁️", "🌧", "🌦", "🌫")


def offline_weather(city: str) -> str:
    """wttr.in's one-line format (``Paris: ⛅️  +14°C``), drawn from the city's name."""
    h = zlib.crc32(city.strip().lower().encode())
    return f"{city}: {_SKIES[h % len(_SKIES)]}  {(h >> 8) % 40 - 8:+d}°C"


def offline_save_note(text: str) -> str:
    """Pretend the note was saved."""
    return "saved"


LISTING = """\
total 40K
drwxr-xr-x 2 user user 4.0K Nov 30 09:12 docs
-rw-r--r-- 1 user user 1.2K Nov 30 09:12 notes.md
-rw-r--r-- 1 user user  18K Nov 29 17:40 report.pdf
-rw-r--r-- 1 user user  640 Nov 28 11:03 todo.txt"""


def offline_list_dir(path: str = ".") -> str:
    """The same small listing for every folder."""
    return LISTING


async def offline_sleep(ms: int) -> str:
    """Wait ``ms`` but at most :data:`SLEEP_CAP_MS`, and say it slept ``ms``."""
    await asyncio.sleep(min(ms, SLEEP_CAP_MS) / 1000)
    return f"slept {ms} ms"


STAND_INS: dict[str, Callable[..., Any]] = {
    "weather": offline_weather,
    "save_note": offline_save_note,
    "list_dir": offline_list_dir,
    "sleep": offline_sleep,
}
"""Shipped tools that reach the network, the user's files or take long."""


def shipped_registry() -> ToolRegistry:
    """The shipped tools as a user without tools of their own gets them."""
    return ToolRegistry.load([paths.shipped_tools_dir()])


def offline_registry() -> ToolRegistry:
    """The shipped tools with :data:`STAND_INS` as runners (specs unchanged)."""
    registry = shipped_registry()
    for name, fn in STAND_INS.items():
        if name in registry:
            registry.swap_runner(name, fn)
    return registry


def expected_prompt(settings: Settings, style: str) -> str:
    """The system prompt the unmodified shipped specs give at launch."""
    return launch_system_prompt(shipped_registry().tools, settings.generation.system_prompt, style)


# ------------------------------------------------------------------ sides


@dataclass(frozen=True)
class Side:
    """One way of running the model: base (no adapter) or with an adapter."""

    name: str
    settings: Settings
    adapter: Path | None


def side_settings(
    settings: Settings, lora: Path | Literal["off"], *, max_tokens: int, seed: int
) -> Settings:
    """``settings`` with this side's adapter, every approval given (the
    stand-in ``save_note`` writes nothing), ``max_tokens`` and the sampling
    seed (llama.cpp reads seed 0 as "random", so requests use ``seed + 1``)."""
    s = settings.model_copy(deep=True)
    s.model.lora = lora
    s.tools.approval = "always"
    s.generation.max_tokens = max_tokens
    s.model.seed = seed + 1
    return s


def plan_sides(settings: Settings, *, max_tokens: int, seed: int) -> tuple[list[Side], str]:
    """The base side and, when there is an adapter, the adapter side; the note
    says why there is no adapter side ('' when there is one)."""
    off = cast(Literal["off"], LORA_OFF)
    base = Side(BASE, side_settings(settings, off, max_tokens=max_tokens, seed=seed), None)
    if settings.model.backend != "llama":
        return [base], "no adapter side: a server applies no adapter"
    try:
        choice = choose_adapter(settings, model_path(settings))
    except ModelLoadError as exc:
        raise BenchError(str(exc)) from None
    if choice.path is None:
        return [base], f"no adapter side ({choice.why}); base model only"
    adapted = side_settings(settings, choice.path, max_tokens=max_tokens, seed=seed)
    return [base, Side(ADAPTER, adapted, choice.path)], ""


# ------------------------------------------------------------------ one run


class _RunSink:
    """Collects what one run did (called on engine threads)."""

    def __init__(self, engine: Engine, registry: ToolRegistry) -> None:
        self.engine = engine
        self.registry = registry
        self.attempts: list[Attempt] = []
        self.names: dict[str, str] = {}
        self.finished: dict[str, CallFinished] = {}
        self.results: list[tuple[str, str, bool, list[str]]] = []
        self.answer: list[str] = []
        self.n_generated = 0
        self.stop = ""
        self.error: str | None = None
        self.load_error: str | None = None
        self.prompt = ""
        self.style = ""
        self.adapter = ""

    def __call__(self, event: Event) -> None:
        match event:
            case Token(visible=visible) if visible:
                self.answer.append(visible)
                for *_, after in self.results:
                    after.append(visible)
            case CallIssued():
                self.names[event.id] = event.fn
                self.attempts.append(Attempt(event.fn, self._fits(event)))
            case CallFinished():
                self.finished[event.id] = event
            case Interrupt(kind=InterruptKind.ERROR):
                self.attempts.append(Attempt(None, False))  # a block that did not parse
            case Interrupt(kind=InterruptKind.TOOL):
                done = self.finished.get(event.id)
                value = done.value if done is not None else event.value
                ok = done.ok if done is not None else not value.startswith("error:")
                self.results.append((self.names.get(event.id, ""), value, ok, []))
            case ModelLoaded():
                snap = self.engine.snapshot()
                self.prompt, self.style = snap.system_prompt, snap.prompt_style
                self.adapter = applied_adapter(snap.model)
            case ModelLoadFailed():
                self.load_error = event.message
            case TurnFailed():
                self.error = event.message
            case TurnDone():
                self.n_generated, self.stop = event.n_generated, str(event.reason)

    def _fits(self, call: CallIssued) -> bool:
        try:
            self.registry.bind(call.fn, call.args, call.kwargs)
        except (KeyError, ArgumentError):
            return False
        return True

    def record(self, request: RequestLike, side: str, ms: float) -> RunRecord:
        return RunRecord(
            text=request.text,
            kind=request.kind,
            expected=tuple(request.tools),
            side=side,
            attempts=list(self.attempts),
            results=[ResultSeen(t, v, ok, "".join(a)) for t, v, ok, a in self.results],
            answer="".join(self.answer),
            n_generated=self.n_generated,
            stop=self.stop,
            error=self.error,
            ms=ms,
        )


def run_request(side: Side, request: RequestLike) -> tuple[RunRecord, _RunSink]:
    """Answer ``request`` once on a fresh engine, as ``asynclm run`` does.

    Raises:
        BenchError: the model did not load, the adapter was not applied as
            asked, or the prompt is not the shipped tools' own.
    """
    registry = offline_registry()
    engine = Engine(side.settings, registry, backend_factory(side.settings))
    sink = _RunSink(engine, registry)
    engine.subscribe(sink)
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        engine.post(StopGeneration())

    watchdog = threading.Timer(RUN_TIMEOUT_S, stop)
    watchdog.daemon = True
    start = time.perf_counter()
    watchdog.start()
    try:
        run_headless(engine, request.text, as_json=True, out=io.StringIO(), err=io.StringIO())
    finally:
        watchdog.cancel()
    ms = (time.perf_counter() - start) * 1000
    if sink.load_error is not None:
        raise BenchError(sink.load_error)
    want = str(side.adapter) if side.adapter is not None else ""
    if sink.adapter != want:
        shown, asked = sink.adapter or "none", want or "none"
        raise BenchError(f"{side.name} side: the model ran with adapter {shown}, not {asked}")
    if sink.prompt != expected_prompt(side.settings, sink.style):
        raise BenchError(f"{side.name} side: the system prompt differs from the shipped tools' own")
    record = sink.record(request, side.name, ms)
    if fired.is_set() and record.error is None:
        record.error = f"stopped after {RUN_TIMEOUT_S:.0f} s"
    return record, sink


def interleave(requests: Sequence[RequestLike]) -> list[RequestLike]:
    """The requests with their kinds taken in turn (single, pair, none, ...),
    so that ``--limit N`` keeps every kind."""
    groups = [[r for r in requests if r.kind == kind] for kind in KINDS]
    groups.append([r for r in requests if r.kind not in KINDS])
    out: list[RequestLike] = []
    for i in range(max((len(g) for g in groups), default=0)):
        out += [g[i] for g in groups if i < len(g)]
    return out


# ------------------------------------------------------------------ the bench


@dataclass
class ToolsBenchResult:
    """Everything one ``bench tools`` run measured."""

    sides: list[Side]
    note: str
    runs: dict[str, list[RunRecord]] = field(default_factory=dict)
    prompts: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Side -> (prompt style, system prompt)."""

    def summaries(self) -> list[SideSummary]:
        """Per side, in order."""
        return [summarize(s.name, self.runs.get(s.name, [])) for s in self.sides]


def measure(
    settings: Settings,
    requests: Sequence[RequestLike],
    *,
    max_tokens: int,
    seed: int,
    err: TextIO,
) -> ToolsBenchResult:
    """Run every request on every side (sides alternate first, request by request).

    Raises:
        BenchError: see :func:`run_request`.
    """
    sides, note = plan_sides(settings, max_tokens=max_tokens, seed=seed)
    result = ToolsBenchResult(sides, note, {s.name: [] for s in sides})
    progress = Progress(len(requests) * len(sides), err)
    try:
        for i, request in enumerate(requests):
            order = sides if i % 2 == 0 else sides[::-1]
            for side in order:
                record, sink = run_request(side, request)
                result.runs[side.name].append(record)
                result.prompts.setdefault(side.name, (sink.style, sink.prompt))
                progress.step(f"{side.name} {request.text}")
    finally:
        progress.close()
    return result


def to_json(result: ToolsBenchResult, meta: dict[str, Any]) -> dict[str, Any]:
    """The ``--json`` object: meta, one entry per side, every run."""
    sides = []
    for side, summary in zip(result.sides, result.summaries(), strict=True):
        style, prompt = result.prompts.get(side.name, ("", ""))
        sides.append(
            {
                **summary.to_json(),
                "adapter": None if side.adapter is None else str(side.adapter),
                "prompt_style": style or None,
                "system_prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest()
                if prompt
                else None,
            }
        )
    return {
        **meta,
        "note": result.note or None,
        "sides": sides,
        "runs": [r.to_json() for s in result.sides for r in result.runs.get(s.name, [])],
    }


def format_table(result: ToolsBenchResult) -> Table:
    """Measures down, sides across: share (k/n) [95 % Wilson interval]."""
    summaries = result.summaries()
    table = Table(
        title="Tool choice on held-out requests",
        caption="share (k/n) [95 % Wilson interval]; no_call_ok target >= "
        f"{NO_CALL_TARGET:.2f} (a call on at most {1 - NO_CALL_TARGET:.0%} of no-tool prompts)",
        caption_justify="left",
    )
    table.add_column("measure")
    for s in result.sides:
        label = s.name if s.adapter is None else f"{s.name} ({s.adapter.name})"
        table.add_column(label, justify="right")
    for name in METRICS:
        table.add_row(name, *(sm.shares[name].cell() for sm in summaries))
    table.add_section()
    counts: list[tuple[str, Callable[[SideSummary], str]]] = [
        (
            "requests (single/pair/none)",
            lambda sm: "/".join(str(sm.requests.get(k, 0)) for k in KINDS),
        ),
        ("call attempts", lambda sm: str(sm.calls)),
        ("failed turns", lambda sm: str(sm.failed)),
        ("tokens written", lambda sm: str(sm.tokens)),
        ("seconds", lambda sm: f"{sm.seconds:.0f}"),
    ]
    for label, get in counts:
        table.add_row(label, *(get(sm) for sm in summaries))
    return table


def load_requests(seed: int, limit: int | None) -> list[RequestLike]:
    """The held-out requests, kinds interleaved, cut to ``limit``."""
    from asynclm_tui.lab.tasks.requests import heldout_requests

    mixed = interleave(heldout_requests(seed))
    return mixed[:limit] if limit is not None else mixed


def run_tools_bench(
    settings: Settings,
    *,
    limit: int | None,
    seed: int,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    as_json: bool = False,
    requests: Sequence[RequestLike] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the bench and print the table (or JSON) to ``out`` (stdout), the
    progress and notes to ``err`` (stderr); the exit code.

    Raises:
        BenchError: bad options, a model that does not load, an adapter not applied.
    """
    out = out or sys.stdout  # looked up now: a test runner may have replaced it
    err = err or sys.stderr
    if limit is not None and limit < 1:
        raise BenchError(f"--limit must be at least 1 (got {limit})")
    chosen = list(requests) if requests is not None else load_requests(seed, limit)
    if not chosen:
        raise BenchError("no held-out requests to run")
    result = measure(settings, chosen, max_tokens=max_tokens, seed=seed, err=err)
    if result.note:
        err.write(f"note: {result.note}\n")
    if as_json:
        meta = {
            "benchmark": "tools",
            "seed": seed,
            "sampling_seed": seed + 1,
            "limit": limit,
            "max_tokens": max_tokens,
            "temperature": settings.generation.temperature,
            "mode": str(settings.generation.mode),
            "model": str(model_path(settings)) if settings.model.backend == "llama" else None,
        }
        out.write(json.dumps(to_json(result, meta), ensure_ascii=False, allow_nan=False) + "\n")
        return 0
    print_table(format_table(result), out)
    return 0
