"""Aggregate runs into the results table, the JSON file and the plot."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from asynclm_tui.lab.bench.bfcl.runner import RunResult
from asynclm_tui.lab.bench.bootstrap import bootstrap_ci95, ratio_ci95
from asynclm_tui.lab.bench.tools_score import Share
from asynclm_tui.lab.tasks.bfcl_data import HELD_OUT_TASKS


def percentile(values: Sequence[float], q: int) -> float:
    """Percentile ``q`` (1-99), interpolated linearly between the two nearest
    values (``statistics``' inclusive method); NaN without data."""
    if len(values) < 2:
        return values[0] if values else math.nan
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


Interval = tuple[float, float] | None

IDEAL_MODES = ("async", "sync", "parallel")
"""The bounds every task is simulated under (rows ``ideal_<mode>``)."""


@dataclass
class Row:
    """One dataset x strategy line of the table."""

    dataset: str
    strategy: str
    n: int
    mean_ms: float
    median_ms: float
    p90_ms: float
    speedup_vs_sync: float | None
    speedup_vs_sync_ci95: Interval
    speedup_vs_parallel: float | None
    speedup_vs_parallel_ci95: Interval
    speedup_vs_sync_api: float | None
    speedup_vs_sync_api_ci95: Interval
    bound_ms: float | None
    """Mean of this strategy's own calibrated bound over the same tasks."""
    ratio_to_bound: float | None
    ratio_to_bound_ci95: Interval
    ratio_to_async_bound: float | None
    tokens_decoded: float
    tokens_injected: float
    interrupts: float
    inject_ms: float
    tau_ms: float
    accuracy: float | None = None
    sampled_per_block: float | None = None
    """Tokens sampled per call block (the ``[CALL]`` opener included)."""
    forced_per_block: float | None = None
    """Tokens jump-forward appended per call block."""
    drafted_per_block: float | None = None
    """Drafted tokens kept per call block (no decode step of their own)."""
    ms_per_block: float | None = None
    """Time to write a call block, from its first token's step to the call's hand-off."""
    gain_share: float | None = None
    """(sync - this) / (sync - ideal_async): the share of the available gain taken."""
    gain_share_ci95: Interval = None
    side: str = ""
    """``base`` or ``adapter`` in a ``--compare-lora`` run ('' otherwise)."""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``results`` entry for ``--json``."""
        out = {k: v for k, v in self.__dict__.items() if k != "extra"}
        out["side"] = self.side or None
        out.update(self.extra)
        return {k: _json_value(v) for k, v in out.items()}


def _json_value(v: Any) -> Any:
    """Rounded numbers; NaN (absent) as null, which JSON has."""
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 4)
    if isinstance(v, tuple):
        return [_json_value(x) for x in v]
    return v


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0 or math.isnan(a) or math.isnan(b):
        return None
    return a / b


@dataclass
class Bounds:
    """Calibrated bounds of one dataset's tasks."""

    own: dict[tuple[str, str], float] = field(default_factory=dict)
    """(task id, strategy row) -> that run's own bound (at the run's speed)."""
    own_raw: dict[tuple[str, str], float] = field(default_factory=dict)
    """The same at the calibration's speed."""
    ideal: dict[str, dict[str, float]] = field(default_factory=dict)
    """Task id -> mode -> the bound of that mode (kv injection)."""


def build_rows(
    dataset: str,
    runs: Sequence[RunResult],
    bounds: Bounds | None = None,
    accuracy: dict[str, float] | None = None,
    *,
    correct: dict[str, list[bool]] | None = None,
    side: str = "",
) -> list[Row]:
    """One row per strategy over the tasks where every strategy succeeded,
    then one ``ideal_<mode>`` row per calibrated bound.

    Speedups and ratios are mean over mean, with 95 % intervals from a paired
    bootstrap over tasks.  ``correct`` (model driver: per strategy, each run's
    AST match) gives the accuracy with its counts and 95 % Wilson interval;
    ``side`` labels the rows of one side of a ``--compare-lora`` run."""
    bounds = bounds or Bounds()
    if correct is not None:
        accuracy = {s: sum(v) / len(v) for s, v in correct.items() if v}
    failed = {r.task_id for r in runs if r.error}
    tasks = [t for t in dict.fromkeys(r.task_id for r in runs) if t not in failed]
    lat: dict[str, dict[str, float]] = {}
    by: dict[str, list[RunResult]] = {}
    for r in runs:
        if r.task_id not in failed:
            by.setdefault(r.strategy, []).append(r)
            lat.setdefault(r.strategy, {})[r.task_id] = r.latency_ms
    rows: list[Row] = []
    for s, rs in by.items():
        own = [bounds.own.get((r.task_id, s)) for r in rs]
        own_ok = [b for b in own if b is not None]
        ideal = [bounds.ideal.get(r.task_id, {}).get("async") for r in rs]
        mine = [r.latency_ms for r in rs]
        row = Row(
            dataset=dataset,
            strategy=s,
            n=len(rs),
            mean_ms=statistics.fmean(mine),
            median_ms=statistics.median(mine),
            p90_ms=percentile(mine, 90),
            **_against("sync", lat, s, tasks),
            **_against("parallel", lat, s, tasks),
            **_against("sync_api", lat, s, tasks),
            bound_ms=statistics.fmean(own_ok) if len(own_ok) == len(rs) else None,
            ratio_to_bound=None,
            ratio_to_bound_ci95=None,
            ratio_to_async_bound=_ratio_of_sums(mine, ideal),
            tokens_decoded=statistics.fmean(r.n_generated for r in rs),
            tokens_injected=statistics.fmean(r.n_injected for r in rs),
            interrupts=statistics.fmean(r.n_interrupts for r in rs),
            inject_ms=statistics.fmean(r.inject_ms for r in rs),
            tau_ms=statistics.fmean(r.tau_ms for r in rs),
            accuracy=(accuracy or {}).get(s),
            side=side,
            extra={**_accuracy_counts((correct or {}).get(s)), "failed_tasks": len(failed)},
        )
        if row.bound_ms is not None:
            row.ratio_to_bound = _ratio(row.mean_ms, row.bound_ms)
            row.ratio_to_bound_ci95 = ratio_ci95(mine, own_ok)
        blocks = sum(r.call_blocks for r in rs)
        if blocks:
            row.sampled_per_block = sum(r.block_sampled for r in rs) / blocks
            row.forced_per_block = sum(r.block_forced for r in rs) / blocks
            row.drafted_per_block = sum(r.block_drafted for r in rs) / blocks
            row.ms_per_block = sum(r.block_ms for r in rs) / blocks
        sync = lat.get("sync")
        if sync and all(i is not None for i in ideal):
            ref = [sync[r.task_id] for r in rs]
            row.gain_share, row.gain_share_ci95 = gain_share(ref, mine, ideal)  # type: ignore[arg-type]
        if s == "async":
            for mode in IDEAL_MODES[1:]:
                others = [bounds.ideal.get(r.task_id, {}).get(mode) for r in rs]
                row.extra[f"ratio_to_{mode}_bound"] = _ratio_of_sums(mine, others)
        rows.append(row)
    for mode in IDEAL_MODES:
        values = [bounds.ideal[t][mode] for t in tasks if mode in bounds.ideal.get(t, {})]
        if values and len(values) == len(tasks):
            rows.append(_ideal_row(dataset, f"ideal_{mode}", values, lat, tasks))
            rows[-1].side = side
    return rows


def gain_share(
    sync: Sequence[float], mine: Sequence[float], ideal: Sequence[float]
) -> tuple[float | None, Interval]:
    """``(sync - mine) / (sync - ideal)`` over the means of paired tasks, and
    its 95 % bootstrap interval (None where the available gain is not positive)."""

    def share(idx: list[int]) -> float:
        gain = sum(sync[i] - ideal[i] for i in idx)
        return sum(sync[i] - mine[i] for i in idx) / gain if gain > 0 else math.nan

    value = share(list(range(len(sync))))
    if math.isnan(value):
        return None, None
    ci = bootstrap_ci95(len(sync), share)
    return value, None if ci is None or math.isnan(ci[0]) else ci


def _ratio_of_sums(num: Sequence[float], den: Sequence[float | None]) -> float | None:
    if not num or any(d is None for d in den):
        return None
    return _ratio(sum(num), sum(d for d in den if d is not None))


def _against(
    base: str, lat: dict[str, dict[str, float]], strategy: str, tasks: Sequence[str]
) -> dict[str, Any]:
    """``speedup_vs_<base>`` and its interval: ``base``'s mean over ``strategy``'s."""
    ref, mine = lat.get(base), lat.get(strategy, {})
    if not ref:
        return {f"speedup_vs_{base}": None, f"speedup_vs_{base}_ci95": None}
    num = [ref[t] for t in tasks]
    den = [mine[t] for t in tasks]
    return {
        f"speedup_vs_{base}": _ratio(statistics.fmean(num), statistics.fmean(den)),
        # A strategy against itself is exactly 1: no interval to draw.
        f"speedup_vs_{base}_ci95": None if base == strategy else ratio_ci95(num, den),
    }


def _accuracy_counts(flags: list[bool] | None) -> dict[str, Any]:
    """``accuracy_k``, ``accuracy_n`` and ``accuracy_ci95`` (Wilson) of one row."""
    if flags is None:
        return {}
    share = Share(sum(flags), len(flags))
    ci = share.ci95
    return {
        "accuracy_k": share.k,
        "accuracy_n": share.n,
        "accuracy_ci95": None if ci is None else [round(ci[0], 4), round(ci[1], 4)],
    }


def _ideal_row(
    dataset: str,
    name: str,
    values: list[float],
    lat: dict[str, dict[str, float]],
    tasks: Sequence[str],
) -> Row:
    """A bound as a row, so its own speedups are visible: no real system of
    that mode can beat them."""
    mean = statistics.fmean(values)
    nan = math.nan
    bound = dict(zip(tasks, values, strict=True))
    return Row(
        dataset=dataset,
        strategy=name,
        n=len(values),
        mean_ms=mean,
        median_ms=statistics.median(values),
        p90_ms=percentile(values, 90),
        **_against("sync", {**lat, name: bound}, name, tasks),
        **_against("parallel", {**lat, name: bound}, name, tasks),
        **_against("sync_api", {**lat, name: bound}, name, tasks),
        bound_ms=mean,
        ratio_to_bound=1.0,
        ratio_to_bound_ci95=None,
        ratio_to_async_bound=None,
        tokens_decoded=nan,
        tokens_injected=nan,
        interrupts=nan,
        inject_ms=0.0,
        tau_ms=nan,
    )


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _with_ci(v: float | None, ci: Interval, spec: str) -> str:
    """A ratio and its 95 % interval: ``1.17 [1.10-1.25]``."""
    if ci is None:
        return _fmt(v, spec)
    return f"{_fmt(v, spec)} [{format(ci[0], spec)}-{format(ci[1], spec)}]"


def format_table(rows: Sequence[Row]) -> Table:
    """The results table printed to stdout (a ``model`` column in a
    ``--compare-lora`` run)."""
    table = Table(
        caption="latency in ms, first to last decoded token; x* = speedup, mean over mean, "
        "[95 % paired bootstrap interval]; /bound = mean over this strategy's calibrated "
        "bound; /async* = mean over the async bound (ideal_* rows: the bounds); gain = "
        "(sync - this) / (sync - ideal_async); samp/blk = tokens sampled per call block, "
        "ms/blk = ms to write one; *_nojf: without jump-forward",
        caption_justify="left",
    )
    sides = any(r.side for r in rows)
    table.add_column("dataset")
    if sides:
        table.add_column("model")
    table.add_column("strategy")
    for name in (
        "n",
        "mean",
        "median",
        "p90",
        "xsync",
        "xpar",
        "xapi",
        "/bound",
        "/async*",
        "gain",
        "samp/blk",
        "ms/blk",
        "tok",
        "inj",
        "acc",
    ):
        table.add_column(name, justify="right")
    for i, r in enumerate(rows):
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        table.add_row(
            r.dataset,
            *([r.side] if sides else []),
            r.strategy,
            str(r.n),
            f"{r.mean_ms:.0f}",
            f"{r.median_ms:.0f}",
            f"{r.p90_ms:.0f}",
            _with_ci(r.speedup_vs_sync, r.speedup_vs_sync_ci95, ".2f"),
            _with_ci(r.speedup_vs_parallel, r.speedup_vs_parallel_ci95, ".2f"),
            _with_ci(r.speedup_vs_sync_api, r.speedup_vs_sync_api_ci95, ".2f"),
            _with_ci(r.ratio_to_bound, r.ratio_to_bound_ci95, ".3f"),
            _fmt(r.ratio_to_async_bound, ".3f"),
            _with_ci(r.gain_share, r.gain_share_ci95, ".2f"),
            _fmt(r.sampled_per_block, ".1f"),
            _fmt(r.ms_per_block, ".0f"),
            _fmt(r.tokens_decoded, ".0f"),
            _fmt(r.tokens_injected, ".0f"),
            _fmt(None if r.accuracy is None else 100 * r.accuracy, ".1f"),
            end_section=nxt is not None and (nxt.dataset, nxt.side) != (r.dataset, r.side),
        )
    return table


HELD_OUT_NOTE = (
    f"parallel and parallel_multiple: tasks 0-{HELD_OUT_TASKS - 1} (file order) are held out "
    f"of the CML adapter's training set, tasks {HELD_OUT_TASKS}+ trained it; multi_step and "
    "live_* never did"
)


def accuracy_cells(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """One entry per (side, strategy, dataset) with an accuracy: ``k``, ``n``,
    ``accuracy`` and its 95 % Wilson interval (null without a sample)."""
    out = []
    for r in rows:
        if r.accuracy is None or "accuracy_n" not in r.extra:
            continue
        share = Share(r.extra["accuracy_k"], r.extra["accuracy_n"])
        out.append(
            {
                "side": r.side or None,
                "strategy": r.strategy,
                "dataset": r.dataset,
                **share.to_json(),
            }
        )
    return out


def format_accuracy_table(rows: Sequence[Row]) -> Table | None:
    """The paper's Table 1 layout: AST accuracy per dataset (columns) for each
    model side and strategy (rows); None when no row has an accuracy."""
    cells = accuracy_cells(rows)
    if not cells:
        return None
    datasets = list(dict.fromkeys(c["dataset"] for c in cells))
    lines = list(dict.fromkeys((c["side"], c["strategy"]) for c in cells))
    by = {(c["side"], c["strategy"], c["dataset"]): c for c in cells}
    table = Table(
        title="AST accuracy (model driver)",
        caption="accuracy % (correct/tasks) [95 % Wilson interval]; " + HELD_OUT_NOTE,
        caption_justify="left",
    )
    sides = any(side for side, _ in lines)
    if sides:
        table.add_column("model")
    table.add_column("strategy")
    for d in datasets:
        table.add_column(d, justify="right")
    for i, (side, strategy) in enumerate(lines):
        row = []
        for d in datasets:
            c = by.get((side, strategy, d))
            if c is None or c["share"] is None:
                row.append("-")
            else:
                lo, hi = c["ci95"]
                row.append(
                    f"{100 * c['share']:.1f} ({c['k']}/{c['n']}) [{100 * lo:.0f}-{100 * hi:.0f}]"
                )
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        table.add_row(
            *([side or ""] if sides else []),
            strategy,
            *row,
            end_section=nxt is not None and nxt[0] != side,
        )
    return table


def write_json(path: Path, rows: Sequence[Row], meta: dict[str, Any]) -> None:
    """Write ``--json``: ``{"results": [...], "accuracy": [...], ...meta}``
    (``accuracy`` only from the model driver)."""
    data = {**meta, "results": [r.to_json() for r in rows]}
    cells = accuracy_cells(rows)
    if cells:
        data["accuracy"] = cells
        data["held_out"] = HELD_OUT_NOTE
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


_COLORS = {"decode": "#4c72b0", "call": "#dd8452", "inject": "#c44e52", "wait": "#bbbbbb"}


def write_plot(path: Path, rows: Sequence[Row], example: Sequence[RunResult]) -> None:
    """Bars of mean latency per dataset and strategy (ideal marked), and the
    timeline of one example task under each strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r.dataset for r in rows))
    strategies = [s for s in dict.fromkeys(r.strategy for r in rows) if not s.startswith("ideal_")]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 8.5))
    width = 0.8 / max(1, len(strategies))
    for k, s in enumerate(strategies):
        xs, ys = [], []
        for d, ds in enumerate(datasets):
            row = next((r for r in rows if r.dataset == ds and r.strategy == s), None)
            if row is not None:
                xs.append(d + k * width)
                ys.append(row.mean_ms)
        ax1.bar(xs, ys, width, label=s)
    for d, ds in enumerate(datasets):
        ideal = next(
            (r.mean_ms for r in rows if r.dataset == ds and r.strategy == "ideal_async"), None
        )
        if ideal:
            ax1.hlines(ideal, d - width / 2, d + 0.8 - width / 2, colors="k", linestyles="--")
    ax1.set_xticks([d + 0.4 - width / 2 for d in range(len(datasets))], datasets)
    ax1.set_ylabel("mean latency (ms)")
    ax1.set_title("BFCL: first-to-last-token latency (dashed: the async bound)")
    ax1.legend(ncols=len(strategies), fontsize=8)
    for y, run in enumerate(example):
        for kind, t0, t1, _label in run.timeline:
            height = 0.6 if kind in ("decode", "wait") else 0.25
            offset = 0.0 if kind in ("decode", "wait") else 0.35
            ax2.barh(y + offset, max(t1 - t0, 1.0), left=t0, height=height, color=_COLORS[kind])
    ax2.set_yticks(range(len(example)), [r.strategy for r in example])
    ax2.set_xlabel("ms from the first token")
    title = example[0].task_id if example else ""
    ax2.set_title(f"example timeline: {title} (blue decode, orange call, red inject, grey wait)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
