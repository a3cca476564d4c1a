"""What jump-forward buys, task by task: each strategy against its ``*_nojf`` row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from asynclm_tui.lab.bench.bfcl.plan import NO_JUMP
from asynclm_tui.lab.bench.bfcl.runner import RunResult
from asynclm_tui.lab.bench.bootstrap import ratio_ci95

Interval = tuple[float, float] | None


@dataclass
class JumpRow:
    """One dataset x strategy: with jump-forward against without, paired by task."""

    dataset: str
    strategy: str
    n: int
    blocks: float
    """Call blocks per task."""
    sampled_off: float
    """Tokens sampled per call block without jump-forward."""
    sampled_on: float
    """Tokens sampled per call block with it, each in a step of its own."""
    forced_on: float
    drafted_on: float
    """Drafted tokens kept per call block (no step of their own)."""
    sampled_ratio: float | None
    sampled_ratio_ci95: Interval
    ms_off: float
    """ms per call block without jump-forward."""
    ms_on: float
    ms_ratio: float | None
    ms_ratio_ci95: Interval
    speedup: float | None
    """Latency without over latency with jump-forward."""
    speedup_ci95: Interval
    side: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``jump_forward`` entry of ``--json``."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, float):
                value = round(value, 4)
            elif isinstance(value, tuple):
                value = [round(v, 4) for v in value]
            out[key] = value
        out["side"] = self.side or None
        return out


def jump_rows(dataset: str, runs: Sequence[RunResult], side: str = "") -> list[JumpRow]:
    """A row for every strategy that also ran without jump-forward."""
    failed = {r.task_id for r in runs if r.error}
    by: dict[str, dict[str, RunResult]] = {}
    for r in runs:
        if r.task_id not in failed:
            by.setdefault(r.strategy, {})[r.task_id] = r
    rows: list[JumpRow] = []
    for label, off in by.items():
        if not label.endswith(NO_JUMP) or label.removesuffix(NO_JUMP) not in by:
            continue
        on = by[label.removesuffix(NO_JUMP)]
        tasks = [t for t in on if t in off and on[t].call_blocks and off[t].call_blocks]
        if not tasks:
            continue
        a = [on[t] for t in tasks]
        b = [off[t] for t in tasks]
        blocks_on = sum(r.call_blocks for r in a)
        blocks_off = sum(r.call_blocks for r in b)
        s_on = [r.block_sampled / r.call_blocks for r in a]
        s_off = [r.block_sampled / r.call_blocks for r in b]
        m_on = [r.block_ms / r.call_blocks for r in a]
        m_off = [r.block_ms / r.call_blocks for r in b]
        lat_on = [r.latency_ms for r in a]
        lat_off = [r.latency_ms for r in b]
        rows.append(
            JumpRow(
                dataset=dataset,
                strategy=label.removesuffix(NO_JUMP),
                n=len(tasks),
                blocks=blocks_on / len(tasks),
                sampled_off=sum(r.block_sampled for r in b) / blocks_off,
                sampled_on=sum(r.block_sampled for r in a) / blocks_on,
                forced_on=sum(r.block_forced for r in a) / blocks_on,
                drafted_on=sum(r.block_drafted for r in a) / blocks_on,
                sampled_ratio=_ratio(s_on, s_off),
                sampled_ratio_ci95=ratio_ci95(s_on, s_off),
                ms_off=sum(r.block_ms for r in b) / blocks_off,
                ms_on=sum(r.block_ms for r in a) / blocks_on,
                ms_ratio=_ratio(m_on, m_off),
                ms_ratio_ci95=ratio_ci95(m_on, m_off),
                speedup=_ratio(lat_off, lat_on),
                speedup_ci95=ratio_ci95(lat_off, lat_on),
                side=side,
            )
        )
    return rows


def _ratio(num: Sequence[float], den: Sequence[float]) -> float | None:
    return sum(num) / sum(den) if num and sum(den) > 0 else None


def _ci(v: float | None, ci: Interval) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}" if ci is None else f"{v:.2f} [{ci[0]:.2f}-{ci[1]:.2f}]"


def format_jump_table(rows: Sequence[JumpRow]) -> Table:
    """Per call block: tokens sampled and forced, time, with and without."""
    table = Table(
        title="jump-forward: with / without, paired by task",
        caption="per call block (opener included): tokens sampled in a step of their own, "
        "without -> with jump-forward (+ forced + drafted and kept), their ratio; "
        "ms to write a block, its ratio; latency "
        "speedup (without / with); [95 % paired bootstrap interval]",
        caption_justify="left",
    )
    sides = any(r.side for r in rows)
    for name in ("dataset", *(["model"] if sides else []), "strategy"):
        table.add_column(name)
    for name in ("n", "blk", "sampled", "ratio", "ms", "ratio", "speedup"):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(
            r.dataset,
            *([r.side] if sides else []),
            r.strategy,
            str(r.n),
            f"{r.blocks:.1f}",
            f"{r.sampled_off:.1f} -> {r.sampled_on:.1f} (+{r.forced_on:.1f} +{r.drafted_on:.1f})",
            _ci(r.sampled_ratio, r.sampled_ratio_ci95),
            f"{r.ms_off:.0f} -> {r.ms_on:.0f}",
            _ci(r.ms_ratio, r.ms_ratio_ci95),
            _ci(r.speedup, r.speedup_ci95),
        )
    return table
