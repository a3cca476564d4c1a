"""``asynclm bench bfcl``: run the datasets x strategies grid and report."""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from asynclm_tui.core.api.enums import Mode
from asynclm_tui.core.backends import model_path
from asynclm_tui.core.backends.adapter import applied_adapter, choose_adapter
from asynclm_tui.core.backends.base import ModelLoadError
from asynclm_tui.core.settings.config import LORA_OFF, Settings
from asynclm_tui.headless.tables import print_table
from asynclm_tui.lab.bench.bfcl.accuracy import (
    ast_match,
    cheat_sheet,
    overlap_message,
    trained_overlap,
)
from asynclm_tui.lab.bench.bfcl.bound import bound_ms
from asynclm_tui.lab.bench.bfcl.calibrate import QUICK_PLAN, CalibrationPlan, CostModel
from asynclm_tui.lab.bench.bfcl.jump_report import JumpRow, format_jump_table, jump_rows
from asynclm_tui.lab.bench.bfcl.plan import Planned, build_plan
from asynclm_tui.lab.bench.bfcl.report import (
    IDEAL_MODES,
    Bounds,
    Row,
    build_rows,
    format_accuracy_table,
    format_table,
    write_json,
    write_plot,
)
from asynclm_tui.lab.bench.bfcl.runner import (
    STRATEGIES,
    USER_ARRIVALS_MS,
    BenchSession,
    Driver,
    RunResult,
)
from asynclm_tui.lab.tasks.bfcl_data import DATASETS, BenchError, Task, load_tasks
from asynclm_tui.lab.tasks.bfcl_tools import missing_backends
from asynclm_tui.lab.tasks.latency import LatencyModel

DEFAULT_TASKS = 30
"""Paired tasks per set by default: enough for a bootstrap interval."""
QUICK_TASKS = 2
"""Tasks per set with ``--quick`` (under 10 minutes on a 2-core machine)."""


@dataclass
class BfclOptions:
    """Command-line choices for one benchmark run."""

    datasets: list[str] = field(default_factory=lambda: list(DATASETS))
    strategies: list[str] = field(default_factory=lambda: list(STRATEGIES))
    limit: int | None = DEFAULT_TASKS
    """Tasks per set (None: every task of the set)."""
    quick: bool = False
    """The regression preset: every strategy on every set, QUICK_TASKS each."""
    seed: int = 0
    driver: str = "replay"
    json_path: Path | None = None
    plot_path: Path | None = None
    lpt_ablation: bool = False
    jump_ablation: bool = True
    """Also run sync and async without jump-forward (rows ``*_nojf``)."""
    compare_lora: bool = False
    """Run every task on the base model and with the adapter, side by side."""

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


def _plan(opts: BfclOptions) -> list[Planned]:
    """The runs of each task (see :mod:`~asynclm_tui.lab.bench.bfcl.plan`)."""
    return build_plan(
        opts.strategies,
        lpt_ablation=opts.lpt_ablation,
        jump_ablation=opts.jump_ablation,
        driver=opts.driver,
    )


def task_bounds(
    task: Task,
    runs: list[RunResult],
    plan: list[Planned],
    cost: CostModel,
    seed: int,
) -> Bounds:
    """Each run's own calibrated bound, and the task's bound under each mode
    (from the async run's measurements, else the first run's).  Each bound
    runs at the speed its run measured in its own plain decode steps: the
    calibration gives the costs' shape, the run their level (the machine's
    speed drifts over a benchmark; see docs/benchmarks.md)."""
    out = Bounds()
    ok = [r for r in runs if not r.error and r.segment_tokens]
    if not ok:
        return out
    arrivals = USER_ARRIVALS_MS if task.dataset == "multi_step_user" else None
    by_label = {p.label: p for p in plan}
    for r in ok:
        mode, injection = STRATEGIES[by_label[r.strategy].strategy]
        at_run = cost.scaled(cost.level_of(r.plain), cost.append_level_of(r.appends))
        for model, into in ((at_run, out.own), (cost, out.own_raw)):
            into[(task.id, r.strategy)] = bound_ms(
                task,
                r.bound_inputs(),
                model,
                mode,
                injection,
                arrivals_ms=arrivals,
                order=by_label[r.strategy].order,
                seed=seed,
            )
    ref = next((r for r in ok if r.strategy == "async"), ok[0])
    at = cost.scaled(cost.level_of(ref.plain), cost.append_level_of(ref.appends))
    out.ideal[task.id] = {
        mode: bound_ms(task, ref.bound_inputs(), at, Mode(mode), arrivals_ms=arrivals)
        for mode in IDEAL_MODES
    }
    return out


@dataclass
class Side:
    """One model configuration of a run: ``base``/``adapter`` (or '' alone)."""

    name: str
    session: BenchSession
    adapter: Path | None
    runs: list[RunResult] = field(default_factory=list)


def plan_sides(settings: Settings, opts: BfclOptions) -> list[tuple[str, Settings, Path | None]]:
    """(side name, settings, adapter) per model configuration to run.

    Raises:
        BenchError: ``--compare-lora`` without an adapter, or on a server.
    """
    if not opts.compare_lora:
        return [("", settings, _adapter_of(settings))]
    if settings.model.backend != "llama":
        raise BenchError("--compare-lora: an adapter applies to the in-process model only")
    if settings.model.lora == LORA_OFF:
        raise BenchError("--compare-lora and --no-lora: give one of them")
    adapter = _adapter_of(settings)
    if adapter is None:
        why = choose_adapter(settings, model_path(settings)).why
        raise BenchError(f"--compare-lora: no adapter to compare with ({why}); give --lora FILE")
    base = settings.model_copy(deep=True)
    base.model.lora = "off"
    adapted = settings.model_copy(deep=True)
    adapted.model.lora = adapter
    return [("base", base, None), ("adapter", adapted, adapter)]


def _adapter_of(settings: Settings) -> Path | None:
    """The adapter ``settings`` load (None: none, or a server)."""
    if settings.model.backend != "llama":
        return None
    try:
        return choose_adapter(settings, model_path(settings)).path
    except ModelLoadError as exc:
        raise BenchError(str(exc)) from None


def check_held_out(opts: BfclOptions, adapters: list[Path | None], err: TextIO) -> None:
    """The model driver's accuracy must not count tasks the adapter trained on.

    Raises:
        BenchError: an adapter is applied and the chosen tasks include trained ones.
    """
    overlap = trained_overlap(opts.datasets, opts.limit) if opts.driver == "model" else []
    if not overlap:
        return
    if any(a is not None for a in adapters):
        raise BenchError(overlap_message(overlap))
    err.write(
        f"note: {overlap_message(overlap)}; this run has none, but its accuracy is not "
        "comparable with adapter runs\n"
    )


def run_bfcl(
    settings: Settings, opts: BfclOptions, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the benchmark; returns the exit code.

    Raises:
        BenchError: bad options, missing data, tasks the adapter trained on, or
            a model that fails to load (or loads without the adapter asked for).
    """
    out = out or sys.stdout  # looked up now: a test runner may have replaced them
    err = err or sys.stderr
    opts.validate()
    planned = plan_sides(settings, opts)
    check_held_out(opts, [adapter for _, _, adapter in planned], err)
    tasks = {d: load_tasks(d, limit=opts.limit, seed=opts.seed) for d in opts.datasets}
    plan = _plan(opts)
    total = sum(len(ts) for ts in tasks.values()) * len(plan) * len(planned)
    missing = missing_backends()
    if missing and any(d.startswith("multi_step") for d in opts.datasets):
        err.write(
            "note: BFCL backends that cannot be imported here (their calls only sleep): "
            + "; ".join(f"{k} ({v})" for k, v in missing.items())
            + "\n"
        )
    sides = [
        Side(
            name,
            BenchSession(bench_settings(s), LatencyModel(opts.seed), _calibration(opts)),
            adapter,
        )
        for name, s, adapter in planned
    ]
    rows: list[Row] = []
    jumps: list[JumpRow] = []
    example: list[RunResult] = []
    failures: list[dict[str, Any]] = []
    run_log: list[dict[str, Any]] = []
    progress = Progress(total, err)
    try:
        for side in sides:
            side.session.start()
            _check_adapter(side)
        for dataset, ts in tasks.items():
            results = _run_dataset(sides, ts, plan, opts, progress)
            for side, (runs, bounds, correct) in zip(sides, results, strict=True):
                run_log += [_run_entry(r, bounds, side.name) for r in runs]
                for r in runs:
                    if r.error:
                        failures.append(
                            {
                                "task": r.task_id,
                                "strategy": r.strategy,
                                "error": r.error,
                                **({"side": side.name} if side.name else {}),
                            }
                        )
                rows += build_rows(
                    dataset, runs, bounds, correct=correct if correct else None, side=side.name
                )
                jumps += jump_rows(dataset, runs, side.name)
                if not example:
                    first = ts[0].id if ts else None
                    example = [r for r in runs if r.task_id == first and not r.error]
    finally:
        progress.close()
        for side in sides:
            side.session.close()
    print_table(format_table(rows), out)
    if jumps:
        print_table(format_jump_table(jumps), out)
    accuracy = format_accuracy_table(rows)
    if accuracy is not None:
        print_table(accuracy, out)
    for f in failures:
        where = f"{f['side']} " if "side" in f else ""
        err.write(f"failed: {where}{f['task']} {f['strategy']}: {f['error']}\n")
    if opts.json_path is not None:
        meta = _meta(sides, opts, missing, failures)
        jumped = [j.to_json() for j in jumps]
        write_json(opts.json_path, rows, {**meta, "jump_forward": jumped, "runs": run_log})
        err.write(f"wrote {opts.json_path}\n")
    if opts.plot_path is not None:
        write_plot(opts.plot_path, rows, example)
        err.write(f"wrote {opts.plot_path}\n")
    return 1 if failures and len(failures) * 2 > total else 0


def _check_adapter(side: Side) -> None:
    """The loaded model runs with the side's adapter, and only with it."""
    applied = applied_adapter(side.session.engine.snapshot().model)
    want = "" if side.adapter is None else str(side.adapter)
    if applied != want:
        label = f"{side.name} side: " if side.name else ""
        raise BenchError(
            f"{label}the model runs with adapter {applied or 'none'}, not {want or 'none'}"
        )


DatasetResult = tuple[list[RunResult], Bounds, dict[str, list[bool]]]
"""One side's runs, their calibrated bounds and AST matches per strategy."""


def _run_dataset(
    sides: list[Side],
    tasks: list[Task],
    plan: list[Planned],
    opts: BfclOptions,
    progress: Progress,
) -> list[DatasetResult]:
    results: list[DatasetResult] = [([], Bounds(), {}) for _ in sides]
    driver: Driver = "model" if opts.driver == "model" else "replay"
    for k, task in enumerate(tasks):
        # Rotate the strategy order per task so that no strategy always runs
        # first (cold caches) or last (after the others warmed up); the sides
        # take turns going first too.
        shift = k % len(plan)
        order = list(enumerate(sides))
        if k % 2:
            order.reverse()
        for index, side in order:
            runs, bounds, correct = results[index]
            mine: list[RunResult] = []
            for entry in plan[shift:] + plan[:shift]:
                label = entry.label
                sheet = cheat_sheet(task) if driver == "model" else ""
                res = side.session.run(
                    task,
                    entry.strategy,
                    driver=driver,
                    order=entry.order,
                    seed=opts.seed,
                    cheat_sheet=sheet,
                    jump=entry.jump,
                )
                res = replace(res, strategy=label)
                mine.append(res)
                if driver == "model" and not res.error:
                    correct.setdefault(label, []).append(ast_match(task, res.calls))
                progress.step(f"{task.id} {side.name} {label}".replace("  ", " "))
            order_of = {p.label: i for i, p in enumerate(plan)}
            mine.sort(key=lambda r: order_of[r.strategy])
            runs += mine
            cost = side.session.cost
            if driver == "replay" and cost is not None:
                found = task_bounds(task, mine, plan, cost, opts.seed)
                bounds.own.update(found.own)
                bounds.own_raw.update(found.own_raw)
                bounds.ideal.update(found.ideal)
    return results


def _run_entry(r: RunResult, bounds: Bounds, side: str) -> dict[str, Any]:
    """One run in ``--json``'s ``runs``: its latency against its own bound."""
    bound = bounds.own.get((r.task_id, r.strategy))
    raw = bounds.own_raw.get((r.task_id, r.strategy))
    return {
        "dataset": r.dataset,
        "task": r.task_id,
        "strategy": r.strategy,
        "side": side or None,
        "jump_forward": r.jump,
        "latency_ms": round(r.latency_ms, 2),
        "bound_ms": None if bound is None else round(bound, 2),
        "bound_calibrated_ms": None if raw is None else round(raw, 2),
        "step_ms": round(r.step_ms, 3),
        "handoff_ms": round(r.handoff_ms, 3),
        "overrun_ms": round(r.overrun_ms, 3),
        "queue_ms": round(r.queue_ms, 3),
        "n_prompt": r.n_prompt,
        "call_blocks": r.call_blocks,
        "block_sampled": r.block_sampled,
        "block_forced": r.block_forced,
        "block_drafted": r.block_drafted,
        "block_ms": round(r.block_ms, 2),
        "tau_ms": round(r.tau_ms, 3),
        "error": r.error,
    }


def _calibration(opts: BfclOptions) -> CalibrationPlan | None:
    """What to measure for the bounds (the model driver has none)."""
    if opts.driver != "replay":
        return None
    return QUICK_PLAN if opts.quick else CalibrationPlan()


def _meta(
    sides: list[Side], opts: BfclOptions, missing: dict[str, str], failures: list[Any]
) -> dict[str, Any]:
    session = sides[0].session
    info = session.backend.info if session.backend else None
    return {
        "quick": opts.quick,
        "calibration": None if session.cost is None else session.cost.to_json(),
        "benchmark": "bfcl",
        "driver": opts.driver,
        "seed": opts.seed,
        "limit": opts.limit,
        "datasets": opts.datasets,
        "sides": [
            {"side": s.name or None, "adapter": None if s.adapter is None else str(s.adapter)}
            for s in sides
        ],
        "strategies": [
            {"row": p.label, "strategy": p.strategy, "order": p.order, "jump_forward": p.jump}
            for p in _plan(opts)
        ],
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
