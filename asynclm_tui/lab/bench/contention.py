"""``asynclm bench contention``: decoding when other work wants the CPU.

Four scenarios, each for every option (a way of running llama.cpp's threads):

- ``solo``: one process decodes alone;
- ``pair``: two processes (two sessions, as two terminals) decode at once;
- ``tool``: the model calls a CPU-bound ``command:`` tool of its own and
  decoding goes on while it computes (the rate over the tool's run);
- ``busy``: a compile-like load (short CPU-bound processes, ``load_jobs`` at a
  time, in a session of their own) runs beside the decode.

Every rate is also given as a ratio to the same option's ``solo`` rate of the
same round, and each option's solo rate as a ratio to ``fixed`` (the planned
threads, never changed: asynclm before adaptive threads).  Rounds rotate the
order of the options, so a machine that gets busier or quieter during the run
shifts every option alike.  Each decoding process is a child started once per
option; see :mod:`~asynclm_tui.lab.bench.contention_side`.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from asynclm_tui.core.backends.base import ModelLoadError
from asynclm_tui.core.backends.cpu_meter import CpuMeter
from asynclm_tui.core.backends.load_plan import physical_cores
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.headless.tables import print_table
from asynclm_tui.lab.bench.contention_side import (
    Decoded,
    DecodeSide,
    Option,
    parse_option,
    start_load,
    stop_load,
)
from asynclm_tui.lab.bench.sidecar import Sidecar, SidecarError

DEFAULT_OPTIONS = ("default", "fixed", "passive", "spin:10000", "threads:1")
SCENARIOS = ("solo", "pair", "tool", "busy")
LEAD_S = 1.0
"""Time given to the children to set up before a measured window starts."""
BACKGROUND_S = 2.0
"""How long the machine's own background load is measured before and after."""

TARGETS = {"pair": 0.35, "tool": 0.5, "solo_vs_fixed": 0.95}
"""Issue 35's targets for the default: each of two processes keeps 35 % of its
solo rate, decoding beside a CPU-bound tool keeps 50 %, solo keeps 95 % of the
fixed threads' rate."""


@dataclass(frozen=True)
class Cell:
    """One scenario of one option in one round: a result per decoding process."""

    round: int
    option: str
    scenario: str
    runs: tuple[Decoded, ...]

    @property
    def tok_s(self) -> float:
        """The slowest process's rate (what the worse-off user sees)."""
        return min(r.tok_s for r in self.runs)


def background_cpus(seconds: float = BACKGROUND_S) -> float | None:
    """CPUs the rest of the machine keeps busy, measured over ``seconds``."""
    meter = CpuMeter()
    if not meter.available:
        return None
    time.sleep(seconds)
    return meter.others()


def _scenario(
    sides: Sequence[Sidecar[Decoded]], scenario: str, seconds: float, tool_s: float, jobs: int
) -> tuple[Decoded, ...]:
    start_at = time.time() + LEAD_S
    if scenario == "pair":
        results: list[Decoded | BaseException] = [RuntimeError("no result")] * 2

        def one(i: int) -> None:
            try:
                results[i] = sides[i](start_at, seconds, 0.0)
            except BaseException as exc:  # re-raised on the calling thread
                results[i] = exc

        threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return tuple(r for r in results if isinstance(r, Decoded))
    if scenario == "busy":
        load = start_load(jobs, start_at + seconds + 0.5)
        try:
            return (sides[0](start_at, seconds, 0.0),)
        finally:
            stop_load(load)
    return (sides[0](start_at, seconds, tool_s if scenario == "tool" else 0.0),)


def measure(
    settings: Settings,
    options: Sequence[Option],
    *,
    seconds: float,
    rounds: int,
    tool_s: float,
    load_jobs: int,
    progress: Callable[[str], None] = lambda line: None,
) -> list[Cell]:
    """Every scenario of every option, ``rounds`` times (the options' order
    rotating from round to round)."""
    sides: dict[str, list[Sidecar[Decoded]]] = {}
    try:
        for option in options:
            progress(f"loading two processes for {option.name}")
            sides[option.name] = [Sidecar(DecodeSide, settings, option) for _ in range(2)]
        cells: list[Cell] = []
        for r in range(rounds):
            shift = r % len(options)
            for option in [*options[shift:], *options[:shift]]:
                for scenario in SCENARIOS:
                    runs = _scenario(sides[option.name], scenario, seconds, tool_s, load_jobs)
                    cell = Cell(r + 1, option.name, scenario, runs)
                    progress(
                        f"round {r + 1} {option.name} {scenario}: "
                        + ", ".join(f"{d.tok_s:.1f}" for d in runs)
                        + " tok/s"
                    )
                    cells.append(cell)
        return cells
    finally:
        for pair in sides.values():
            for side in pair:
                side.close()


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def summarise(cells: Sequence[Cell], options: Sequence[Option]) -> dict[str, dict[str, Any]]:
    """Per option: median rates and median per-round ratios to solo."""
    by = {(c.round, c.option, c.scenario): c for c in cells}
    rounds = sorted({c.round for c in cells})
    out: dict[str, dict[str, Any]] = {}
    for option in options:
        name = option.name
        row: dict[str, Any] = {}
        solos = {r: by[(r, name, "solo")].tok_s for r in rounds if (r, name, "solo") in by}
        for scenario in SCENARIOS:
            got = [by[(r, name, scenario)] for r in rounds if (r, name, scenario) in by]
            row[f"{scenario}_tok_s"] = _median([c.tok_s for c in got])
            if scenario != "solo":
                ratios = [c.tok_s / solos[c.round] for c in got if solos.get(c.round)]
                row[f"{scenario}_ratio"] = _median(ratios)
            row[f"{scenario}_threads"] = min(
                (d.threads for c in got for d in c.runs if d.threads), default=0
            )
            row[f"{scenario}_cpu_busy"] = sum(d.cpu_busy for c in got for d in c.runs)
        fixed = {r: by[(r, "fixed", "solo")].tok_s for r in rounds if (r, "fixed", "solo") in by}
        vs = [s / fixed[r] for r, s in solos.items() if fixed.get(r)]
        row["solo_vs_fixed"] = _median(vs)
        out[name] = row
    return out


def verdicts(summary: dict[str, dict[str, Any]]) -> dict[str, bool | None]:
    """The default option against :data:`TARGETS` (None: not measured)."""
    row = summary.get("default", {})
    got = {
        "pair": row.get("pair_ratio"),
        "tool": row.get("tool_ratio"),
        "solo_vs_fixed": row.get("solo_vs_fixed"),
    }
    return {k: None if v is None else v >= TARGETS[k] for k, v in got.items()}


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8", errors="replace"):  # noqa: SIM115
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        llama = metadata.version("llama_cpp_python")
    except metadata.PackageNotFoundError:
        llama = ""
    return {
        "cpu": model or platform.processor(),
        "cpus": len(CpuMeter().cpus),
        "physical_cores": physical_cores(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "llama_cpp_python": llama,
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_summary(data: dict[str, Any]) -> None:
    """The Rich table and the verdict lines."""
    from rich.table import Table

    table = Table(
        "option",
        "solo tok/s",
        "solo vs fixed",
        "pair tok/s (slower)",
        "pair / solo",
        "tool tok/s",
        "tool / solo",
        "busy tok/s",
        "busy / solo",
        "fewest threads",
        title=f"decoding beside other work ({data['rounds_run']} rounds of {data['seconds']:g} s; "
        f"medians)",
    )
    for column in table.columns[1:]:
        column.justify = "right"
    for name, row in data["options"].items():
        fewest = [row[f"{s}_threads"] for s in SCENARIOS if row[f"{s}_threads"]]
        table.add_row(
            name,
            _rate(row["solo_tok_s"]),
            _pct(row["solo_vs_fixed"]),
            _rate(row["pair_tok_s"]),
            _pct(row["pair_ratio"]),
            _rate(row["tool_tok_s"]),
            _pct(row["tool_ratio"]),
            _rate(row["busy_tok_s"]),
            _pct(row["busy_ratio"]),
            str(min(fewest)) if fewest else "-",
        )
    print_table(table)
    bg = data["background_cpus"]
    shown = [f"{b:.2f}" for b in bg if b is not None]
    print(
        f"machine: {data['machine']['cpu']}, {data['machine']['cpus']} CPUs; other work kept "
        f"{' then '.join(shown) or 'an unknown number of'} CPUs busy (before, after); "
        f"load average {data['load_before']} -> {data['load_after']}"
    )
    for key, ok in data["targets_met"].items():
        state = "not measured" if ok is None else ("met" if ok else "NOT met")
        print(f"default, {key}: target >= {TARGETS[key]:.0%}: {state}")


def run_contention_bench(
    settings: Settings,
    *,
    options: Sequence[str] = DEFAULT_OPTIONS,
    seconds: float = 6.0,
    rounds: int = 2,
    tool_seconds: float = 3.0,
    load_jobs: int | None = None,
    as_json: bool = False,
) -> int:
    """Measure, then print the table (or JSON); exit code 0, 1 when a model
    fails to load or a measured turn goes wrong, 2 for a bad argument."""
    try:
        parsed = [parse_option(o) for o in options]
        if len({o.name for o in parsed}) != len(parsed):
            raise ValueError("an option is named twice")
        if seconds <= 0 or tool_seconds <= 0:
            raise ValueError("--seconds and --tool-seconds must be above 0")
        if rounds < 1:
            raise ValueError("--rounds must be at least 1")
    except ValueError as exc:
        print(f"asynclm: bench contention: {exc}", file=sys.stderr)
        return 2
    if not any(o.name == "fixed" for o in parsed):
        parsed.append(parse_option("fixed"))  # solo ratios are against it
    jobs = load_jobs if load_jobs is not None else physical_cores()
    log = (lambda line: None) if as_json else (lambda line: print(line, file=sys.stderr))
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    before = background_cpus()
    started = datetime.datetime.now(datetime.UTC)
    try:
        cells = measure(
            settings,
            parsed,
            seconds=seconds,
            rounds=rounds,
            tool_s=tool_seconds,
            load_jobs=jobs,
            progress=log,
        )
    except (ModelLoadError, SidecarError, RuntimeError) as exc:
        print(f"asynclm: {exc}", file=sys.stderr)
        return 1
    after = background_cpus()
    summary = summarise(cells, parsed)
    data = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": machine(),
        "load_before": load_before,
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "background_cpus": [None if b is None else round(b, 2) for b in (before, after)],
        "seconds": seconds,
        "rounds_run": rounds,
        "tool_seconds": tool_seconds,
        "load_jobs": jobs,
        "targets": TARGETS,
        "targets_met": verdicts(summary),
        "options": summary,
        "cells": [asdict(c) for c in cells],
    }
    if as_json:
        print(json.dumps(data, allow_nan=False))
    else:
        print_summary(data)
    return 0
