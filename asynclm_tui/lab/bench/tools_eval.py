"""``asynclm bench tools``: does the model use its tools as a user meets it?

Base model against one or more adapters, on requests no adapter trained on
(:mod:`asynclm_tui.lab.tasks.eval_requests`: shipped tools' held-out
phrasings, held-out tool kinds, two- and three-request messages, no-tool
prompts, messages typed mid-answer).  Each request runs on a fresh engine
headless, as ``asynclm run`` does (:mod:`asynclm_tui.lab.bench.tools_run`);
every side samples each request from the same seed.  Scoring is in
:mod:`asynclm_tui.lab.bench.tools_score`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO, cast

from rich.table import Table

from asynclm_tui.core.backends import model_path
from asynclm_tui.core.backends.adapter import choose_adapter
from asynclm_tui.core.backends.base import ModelLoadError
from asynclm_tui.core.settings.config import LORA_OFF, Settings
from asynclm_tui.headless.tables import print_table
from asynclm_tui.lab.bench.bfcl.command import Progress
from asynclm_tui.lab.bench.tools_run import offline_registry, run_request, shipped_registry
from asynclm_tui.lab.bench.tools_score import (
    LOWER_IS_BETTER,
    METRICS,
    TARGETS,
    RunRecord,
    SideSummary,
    summarize,
)
from asynclm_tui.lab.tasks.bfcl_data import BenchError
from asynclm_tui.lab.tasks.eval_requests import KINDS, EvalRequest, bench_requests

__all__ = ["offline_registry", "run_tools_bench", "shipped_registry"]

BASE, ADAPTER = "base", "adapter"
DEFAULT_MAX_TOKENS = 256
"""Tokens per answer by default: the first call comes within a few dozen and
the stand-ins answer at once, so the answer after a result is in long before;
``--max-tokens`` raises it (a small model may otherwise ramble to 1024)."""
PER_KIND = 40
"""Requests of each kind by default (the issue asks for n >= 40 per kind)."""


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
    stand-ins act on nothing), ``max_tokens`` and the sampling seed (llama.cpp
    reads seed 0 as "random", so requests use ``seed + 1``)."""
    s = settings.model_copy(deep=True)
    s.model.lora = lora
    s.tools.approval = "always"
    s.generation.max_tokens = max_tokens
    s.model.seed = seed + 1
    return s


def plan_sides(
    settings: Settings,
    *,
    max_tokens: int,
    seed: int,
    compare: Sequence[Path] = (),
    base: bool = True,
) -> tuple[list[Side], str]:
    """The base side (unless ``base`` is False), the adapter side when there
    is an adapter (``model.lora`` or the shipped one), and one side per
    ``compare`` adapter; the note says why there is no adapter side ('' when there is).

    Raises:
        BenchError: an adapter file is missing, or nothing is left to run.
    """
    off = cast(Literal["off"], LORA_OFF)
    sides: list[Side] = []
    if base:
        sides.append(
            Side(BASE, side_settings(settings, off, max_tokens=max_tokens, seed=seed), None)
        )
    note = ""
    if settings.model.backend != "llama":
        note = "no adapter side: a server applies no adapter"
    else:
        try:
            choice = choose_adapter(settings, model_path(settings))
        except ModelLoadError as exc:
            raise BenchError(str(exc)) from None
        if choice.path is None:
            note = f"no adapter side ({choice.why})"
        else:
            adapted = side_settings(settings, choice.path, max_tokens=max_tokens, seed=seed)
            sides.append(Side(ADAPTER, adapted, choice.path))
        for path in compare:
            if not path.is_file():
                raise BenchError(f"--compare: file not found: {path}")
            adapted = side_settings(settings, path, max_tokens=max_tokens, seed=seed)
            sides.append(Side(path.stem, adapted, path))
    if not sides:
        raise BenchError("nothing to run: no base side and no adapter")
    return sides, note


def interleave(requests: Sequence[EvalRequest]) -> list[EvalRequest]:
    """The requests with their kinds taken in turn, so that ``--limit N``
    keeps every kind."""
    groups = [[r for r in requests if r.kind == kind] for kind in KINDS]
    groups.append([r for r in requests if r.kind not in KINDS])
    out: list[EvalRequest] = []
    for i in range(max((len(g) for g in groups), default=0)):
        out += [g[i] for g in groups if i < len(g)]
    return out


@dataclass
class ToolsBenchResult:
    """Everything one ``bench tools`` run measured."""

    sides: list[Side]
    note: str
    runs: dict[str, list[RunRecord]] = field(default_factory=dict)
    prompts: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Side -> (prompt style, the shipped tools' system prompt)."""

    def summaries(self) -> list[SideSummary]:
        """Per side, in order."""
        return [summarize(s.name, self.runs.get(s.name, [])) for s in self.sides]


def measure(
    sides: list[Side], note: str, requests: Sequence[EvalRequest], *, err: TextIO
) -> ToolsBenchResult:
    """Run every request on every side (the side order alternates request by request).

    Raises:
        BenchError: see :func:`~asynclm_tui.lab.bench.tools_run.run_request`.
    """
    result = ToolsBenchResult(sides, note, {s.name: [] for s in sides})
    progress = Progress(len(requests) * len(sides), err)
    try:
        for i, request in enumerate(requests):
            order = sides if i % 2 == 0 else sides[::-1]
            for side in order:
                want = str(side.adapter) if side.adapter is not None else ""
                record, sink = run_request(side.name, side.settings, want, request)
                result.runs[side.name].append(record)
                if not request.toolset.offers:
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
    """Measures down, sides across: share (k/n) [95 % Wilson interval], and the target."""
    summaries = result.summaries()
    table = Table(
        title="Tools as a user meets them: held-out requests, tools and messages",
        caption="share (k/n) [95 % Wilson interval]; repeated_calls and none_calls: lower "
        "is better; targets are the issue's (adapter, default settings)",
        caption_justify="left",
    )
    table.add_column("measure")
    for s in result.sides:
        label = s.name if s.adapter is None else f"{s.name} ({s.adapter.name})"
        table.add_column(label, justify="right")
    table.add_column("target", justify="right")
    for name in METRICS:
        op, value = TARGETS.get(name, ("", 0.0))
        target = f"{op} {value:.2f}" if op else ""
        label = f"{name} (lower is better)" if name in LOWER_IS_BETTER else name
        table.add_row(label, *(sm.shares[name].cell() for sm in summaries), target)
    table.add_section()
    counts: list[tuple[str, Callable[[SideSummary], str]]] = [
        ("steering messages landed", lambda sm: sm.landed.cell()),
        ("answered by a follow-up turn", lambda sm: str(sm.follow_ups)),
        (
            "requests (" + "/".join(KINDS) + ")",
            lambda sm: "/".join(str(sm.requests.get(k, 0)) for k in KINDS),
        ),
        ("call attempts", lambda sm: str(sm.calls)),
        ("failed turns", lambda sm: str(sm.failed)),
        ("tokens written", lambda sm: str(sm.tokens)),
        ("seconds", lambda sm: f"{sm.seconds:.0f}"),
    ]
    for label, get in counts:
        table.add_row(label, *(get(sm) for sm in summaries), "")
    return table


def load_requests(
    seed: int, limit: int | None, *, per_kind: int = PER_KIND, kinds: Sequence[str] = KINDS
) -> list[EvalRequest]:
    """The benchmark's requests of ``kinds``, interleaved, cut to ``limit``.

    Raises:
        BenchError: an unknown kind.
    """
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise BenchError(f"--kind: unknown {', '.join(unknown)}; choose from {', '.join(KINDS)}")
    mixed = interleave([r for r in bench_requests(seed, per_kind=per_kind) if r.kind in kinds])
    return mixed[:limit] if limit is not None else mixed


def run_tools_bench(
    settings: Settings,
    *,
    limit: int | None,
    seed: int,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    as_json: bool = False,
    per_kind: int = PER_KIND,
    kinds: Sequence[str] = KINDS,
    compare: Sequence[Path] = (),
    base: bool = True,
    json_path: Path | None = None,
    requests: Sequence[EvalRequest] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the bench and print the table (or JSON) to ``out`` (stdout), the
    progress and notes to ``err`` (stderr); ``json_path`` also writes the JSON
    there.  Returns the exit code.

    Raises:
        BenchError: bad options, a model that does not load, an adapter not applied.
    """
    out = out or sys.stdout  # looked up now: a test runner may have replaced it
    err = err or sys.stderr
    if limit is not None and limit < 1:
        raise BenchError(f"--limit must be at least 1 (got {limit})")
    if per_kind < 1:
        raise BenchError(f"--per-kind must be at least 1 (got {per_kind})")
    chosen = (
        list(requests)
        if requests is not None
        else load_requests(seed, limit, per_kind=per_kind, kinds=kinds)
    )
    if not chosen:
        raise BenchError("no requests to run")
    sides, note = plan_sides(settings, max_tokens=max_tokens, seed=seed, compare=compare, base=base)
    result = measure(sides, note, chosen, err=err)
    if result.note:
        err.write(f"note: {result.note}\n")
    meta = {
        "benchmark": "tools",
        "seed": seed,
        "sampling_seed": seed + 1,
        "limit": limit,
        "per_kind": per_kind,
        "max_tokens": max_tokens,
        "temperature": settings.generation.temperature,
        "mode": str(settings.generation.mode),
        "model": str(model_path(settings)) if settings.model.backend == "llama" else None,
    }
    data = to_json(result, meta)
    if json_path is not None:
        try:
            json_path.write_text(json.dumps(data, ensure_ascii=False, allow_nan=False) + "\n")
        except OSError as exc:
            raise BenchError(f"cannot write {json_path}: {exc.strerror or exc}") from None
    if as_json:
        out.write(json.dumps(data, ensure_ascii=False, allow_nan=False) + "\n")
        return 0
    print_table(format_table(result), out)
    return 0
