"""``asynclm bench bfcl``: run the datasets x strategies grid and report."""

from __future__ import annotations

import importlib.util
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from asynclm_tui.bench.bfcl.accuracy import ast_match, cheat_sheet
from asynclm_tui.bench.bfcl.data import DATASETS, BenchError, Task, load_tasks
from asynclm_tui.bench.bfcl.ideal import ideal_latency_ms
from asynclm_tui.bench.bfcl.latency import LatencyModel
from asynclm_tui.bench.bfcl.report import Row, build_rows, format_table, write_json, write_plot
from asynclm_tui.bench.bfcl.runner import (
    STRATEGIES,
    USER_ARRIVALS_MS,
    BenchSession,
    Driver,
    RunResult,
)
from asynclm_tui.bench.bfcl.tools import missing_backends
from asynclm_tui.core.config import Settings
from asynclm_tui.tables import print_table

RANDOM_ORDER = "async_random"
"""The ablation's extra row: async with a random (not LPT) issue order."""


@dataclass
class BfclOptions:
    """Command-line choices for one benchmark run."""

    datasets: list[str] = field(default_factory=lambda: list(DATASETS))
    strategies: list[str] = field(default_factory=lambda: list(STRATEGIES))
    limit: int | None = None
    seed: int = 0
    driver: str = "replay"
    json_path: Path | None = None
    plot_path: Path | None = None
    lpt_ablation: bool = False

    def validate(self) -> None:
        """Check every choice before the model loads.

        Raises:
            BenchError: the first bad choice, in one line.
        """
        for d in self.datasets:
            if d not in DATASETS:
                raise BenchError(f"unknown dataset {d!r}; choose from {', '.join(DATASETS)}")
        for s in self.strategies:
            if s not in STRATEGIES:
                raise BenchError(f"unknown strategy {s!r}; choose from {', '.join(STRATEGIES)}")
        if self.driver not in ("replay", "model"):
            raise BenchError(f"unknown driver {self.driver!r}; use replay or model")
        if self.limit is not None and self.limit < 1:
            raise BenchError(f"--limit must be at least 1 (got {self.limit})")
        if self.plot_path is not None and importlib.util.find_spec("matplotlib") is None:
            raise BenchError("--plot needs matplotlib: pip install 'asynclm-tui[bench]'")
        for path in (self.json_path, self.plot_path):
            if path is not None and not path.expanduser().resolve().parent.is_dir():
                raise BenchError(f"cannot write {path}: its folder does not exist")


def bench_settings(settings: Settings) -> Settings:
    """The user's model settings with a lean session for benchmarking: no
    shipped or user tools in the prompt, no concurrency cap below the widest
    task, room for the longest scenario."""
    s = settings.model_copy(deep=True)
    s.tools.shipped = False
    s.tools.dirs = []
    s.tools.max_concurrency = max(s.tools.max_concurrency, 16)
    s.tools.approval = "always"
    s.generation.max_tokens = max(s.generation.max_tokens, 2048)
    return s


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, err: TextIO) -> None:
        self.total, self.done, self.err = total, 0, err
        self.t0 = time.monotonic()

    def step(self, label: str) -> None:
        """Advance by one run."""
        self.done += 1
        width = 28
        filled = int(width * self.done / max(1, self.total))
        secs = time.monotonic() - self.t0
        self.err.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
            f"{secs:5.0f}s {label[:40]:<40}"
        )
        self.err.flush()

    def close(self) -> None:
        """End the bar's line."""
        self.err.write("\n")
        self.err.flush()


def _plan(opts: BfclOptions) -> list[tuple[str, str, str]]:
    """(row label, strategy, issue order) for each run of a task."""
    plan = [(s, s, "lpt") for s in opts.strategies]
    if opts.lpt_ablation and opts.driver == "replay":
        plan.append((RANDOM_ORDER, "async", "random"))
    return plan


def _ideal(task: Task, runs: list[RunResult]) -> float | None:
    ok = [r for r in runs if not r.error and r.segment_tokens]
    if not ok:
        return None
    tau = statistics.median(r.tau_ms for r in ok)
    ref = ok[0]
    arrivals = USER_ARRIVALS_MS if task.dataset == "multi_step_user" else None
    return ideal_latency_ms(
        task, ref.durations, ref.ids, ref.segment_tokens.__getitem__, tau, arrivals_ms=arrivals
    )


def run_bfcl(
    settings: Settings, opts: BfclOptions, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Run the benchmark; returns the exit code.

    Raises:
        BenchError: bad options, missing data, or a model that fails to load.
    """
    opts.validate()
    tasks = {d: load_tasks(d, limit=opts.limit, seed=opts.seed) for d in opts.datasets}
    plan = _plan(opts)
    total = sum(len(ts) for ts in tasks.values()) * len(plan)
    missing = missing_backends()
    if missing and any(d.startswith("multi_step") for d in opts.datasets):
        err.write(
            "note: BFCL backends that cannot be imported here (their calls only sleep): "
            + "; ".join(f"{k} ({v})" for k, v in missing.items())
            + "\n"
        )
    session = BenchSession(bench_settings(settings), LatencyModel(opts.seed))
    rows: list[Row] = []
    example: list[RunResult] = []
    failures: list[dict[str, Any]] = []
    progress = Progress(total, err)
    try:
        session.start()
        for dataset, ts in tasks.items():
            runs, ideal, correct = _run_dataset(session, ts, plan, opts, progress)
            for r in runs:
                if r.error:
                    failures.append({"task": r.task_id, "strategy": r.strategy, "error": r.error})
            acc = {s: sum(v) / len(v) for s, v in correct.items()} if correct else None
            rows += build_rows(dataset, runs, ideal, acc)
            if not example:
                first = ts[0].id if ts else None
                example = [r for r in runs if r.task_id == first and not r.error]
    finally:
        progress.close()
        session.close()
    print_table(format_table(rows), out)
    for f in failures:
        err.write(f"failed: {f['task']} {f['strategy']}: {f['error']}\n")
    if opts.json_path is not None:
        write_json(opts.json_path, rows, _meta(session, opts, missing, failures))
        err.write(f"wrote {opts.json_path}\n")
    if opts.plot_path is not None:
        write_plot(opts.plot_path, rows, example)
        err.write(f"wrote {opts.plot_path}\n")
    return 1 if failures and len(failures) * 2 > total else 0


def _run_dataset(
    session: BenchSession,
    tasks: list[Task],
    plan: list[tuple[str, str, str]],
    opts: BfclOptions,
    progress: Progress,
) -> tuple[list[RunResult], dict[str, float], dict[str, list[bool]]]:
    runs: list[RunResult] = []
    ideal: dict[str, float] = {}
    correct: dict[str, list[bool]] = {}
    driver: Driver = "model" if opts.driver == "model" else "replay"
    for k, task in enumerate(tasks):
        # Rotate the strategy order per task so that no strategy always runs
        # first (cold caches) or last (after the others warmed up).
        shift = k % len(plan)
        mine: list[RunResult] = []
        for label, strategy, order in plan[shift:] + plan[:shift]:
            sheet = cheat_sheet(task) if driver == "model" else ""
            res = session.run(
                task, strategy, driver=driver, order=order, seed=opts.seed,  # type: ignore[arg-type]
                cheat_sheet=sheet,
            )
            res = replace(res, strategy=label)
            mine.append(res)
            if driver == "model" and not res.error:
                correct.setdefault(label, []).append(ast_match(task, res.calls))
            progress.step(f"{task.id} {label}")
        order_of = {label: i for i, (label, _, _) in enumerate(plan)}
        mine.sort(key=lambda r: order_of[r.strategy])
        runs += mine
        if driver == "replay":
            value = _ideal(task, [r for r in mine if r.strategy in STRATEGIES])
            if value is not None:
                ideal[task.id] = value
    return runs, ideal, correct


def _meta(
    session: BenchSession, opts: BfclOptions, missing: dict[str, str], failures: list[Any]
) -> dict[str, Any]:
    info = session.backend.info if session.backend else None
    return {
        "benchmark": "bfcl",
        "driver": opts.driver,
        "seed": opts.seed,
        "limit": opts.limit,
        "datasets": opts.datasets,
        "strategies": [label for label, _, _ in _plan(opts)],
        "latency_model": "30 ms + exponential(mean 80 ms) truncated at 500 ms",
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "processor": _cpu_name(),
            "model": info.model if info else None,
            "threads": info.n_threads if info else None,
            "server": info.extra.get("server") if info else None,
        },
        "simulated_backends": missing,
        "failures": failures,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
