"""BFCL data loading, tools, accuracy and the report, without the model."""

from __future__ import annotations

import importlib.util
import io
import json
import math
from pathlib import Path

import pytest
from rich.console import Console

from asynclm_tui.lab.bench.bfcl.accuracy import ast_match
from asynclm_tui.lab.bench.bfcl.report import (
    Bounds,
    build_rows,
    format_table,
    percentile,
    write_json,
)
from asynclm_tui.lab.bench.bfcl.runner import RunResult
from asynclm_tui.lab.tasks import bfcl_data as data_mod
from asynclm_tui.lab.tasks.bfcl_data import INSTALL_HINT, BenchError, PlannedCall, load_tasks
from asynclm_tui.lab.tasks.bfcl_tools import json_schema
from tests.conftest import needs

needs_bfcl = needs(importlib.util.find_spec("bfcl_eval") is None, f"needs {INSTALL_HINT}")


def test_missing_wheel_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BenchError, match=r"pip install --no-deps bfcl-eval==2026\.3\.23"):
        load_tasks("parallel")


def test_unknown_dataset_is_a_bench_error() -> None:
    with pytest.raises(BenchError, match="unknown dataset 'nope'"):
        load_tasks("nope")


@needs_bfcl
def test_parallel_sets_have_the_documented_sizes() -> None:
    assert len(load_tasks("parallel")) == 200
    assert len(load_tasks("parallel_multiple")) == 200
    assert len(load_tasks("live_parallel")) == 16
    assert len(load_tasks("live_parallel_multiple")) == 24
    assert all(len(t.calls) >= 2 for t in load_tasks("parallel"))


@needs_bfcl
def test_multi_step_joins_three_seeded_first_turns() -> None:
    a = load_tasks("multi_step", limit=5, seed=1)
    b = load_tasks("multi_step", limit=5, seed=1)
    c = load_tasks("multi_step", limit=5, seed=2)
    assert [t.calls for t in a] == [t.calls for t in b]
    assert [t.calls for t in a] != [t.calls for t in c]
    for task in a:
        assert len(task.subtasks) == 3
        assert len({s.source_id for s in task.subtasks}) == 3
        # Each sub-task is a chain: every call after a group's first depends
        # on the call before it.
        for i, call in enumerate(task.calls):
            if call.deps:
                assert call.deps == (i - 1,)
                assert task.calls[i - 1].group == call.group
    user = load_tasks("multi_step_user", limit=5, seed=1)
    assert [t.calls for t in user] == [t.calls for t in a]


def test_bfcl_types_become_json_schema() -> None:
    schema = json_schema(
        {
            "type": "dict",
            "properties": {"x": {"type": "float"}, "y": {"type": "any"}},
            "required": ["x"],
        }
    )
    assert schema == {
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {}},
        "required": ["x"],
    }


def test_ast_match_single_turn_is_order_free() -> None:
    from asynclm_tui.lab.tasks.bfcl_data import SubTask, Task

    calls = (
        PlannedCall("f", {"a": 1}, allowed={"a": [1], "b": ["", 2]}),
        PlannedCall("g", {"c": "x"}, allowed={"c": ["x", "X"]}),
    )
    task = Task("t", "parallel", (SubTask("t", "p"),), (), calls)
    assert ast_match(task, [("g", (), {"c": "X"}), ("f", (), {"a": 1.0})])
    assert ast_match(task, [("f", (), {"a": 1, "b": 2}), ("g", (), {"c": "x"})])
    assert not ast_match(task, [("f", (), {"a": 2}), ("g", (), {"c": "x"})])
    assert not ast_match(task, [("f", (), {"a": 1})])
    assert not ast_match(task, [("f", (), {"a": 1, "zz": 1}), ("g", (), {"c": "x"})])


def _run(task: str, strategy: str, ms: float) -> RunResult:
    r = RunResult(task, "parallel", strategy, "lpt", latency_ms=ms)
    r.n_generated, r.n_injected, r.tau_ms = 70, 20, 12.0
    return r


def test_rows_speedups_bounds_intervals_and_json(tmp_path: Path) -> None:
    runs = [
        _run("a", "sync", 1000),
        _run("a", "parallel", 800),
        _run("a", "async", 500),
        _run("b", "sync", 3000),
        _run("b", "parallel", 2400),
        _run("b", "async", 1500),
        _run("c", "sync", 2000),
        _run("c", "parallel", 1800),
        _run("c", "async", 1100),
    ]
    bounds = Bounds(
        own={(r.task_id, r.strategy): r.latency_ms * 0.9 for r in runs},
        ideal={
            t: {"async": base * 0.4, "sync": base * 0.9, "parallel": base * 0.7}
            for t, base in (("a", 1000), ("b", 3000), ("c", 2000))
        },
    )
    rows = build_rows("parallel", runs, bounds)
    by = {r.strategy: r for r in rows}
    fast = by["async"]
    assert fast.speedup_vs_sync == pytest.approx(6000 / 3100)
    assert fast.speedup_vs_parallel == pytest.approx(5000 / 3100)
    lo, hi = fast.speedup_vs_sync_ci95 or (0, 0)
    assert lo <= fast.speedup_vs_sync <= hi and lo > 1.0
    assert by["sync"].speedup_vs_sync == 1.0 and by["sync"].speedup_vs_sync_ci95 is None
    assert fast.ratio_to_bound == pytest.approx(1 / 0.9)
    assert fast.ratio_to_async_bound == pytest.approx(3100 / 2400)
    assert fast.extra["ratio_to_sync_bound"] == pytest.approx(3100 / 5400)
    assert by["ideal_async"].speedup_vs_sync == pytest.approx(6000 / 2400)
    assert {"ideal_async", "ideal_sync", "ideal_parallel"} <= set(by)
    assert by["sync"].p90_ms == pytest.approx(2800.0)
    console = Console(width=250, file=io.StringIO())
    with console.capture() as printed:
        console.print(format_table(rows))
    lines = printed.get().splitlines()
    assert any("async" in line and f"{fast.speedup_vs_sync:.2f} [" in line for line in lines)
    out = tmp_path / "o.json"
    write_json(out, rows, {"seed": 0})
    data = json.loads(out.read_text())
    keys = {
        "dataset",
        "strategy",
        "n",
        "mean_ms",
        "median_ms",
        "p90_ms",
        "speedup_vs_sync",
        "speedup_vs_sync_ci95",
        "speedup_vs_parallel",
        "speedup_vs_parallel_ci95",
        "bound_ms",
        "ratio_to_bound",
        "ratio_to_bound_ci95",
        "ratio_to_async_bound",
    }
    assert all(keys <= set(entry) for entry in data["results"])
    entry = next(e for e in data["results"] if e["strategy"] == "async")
    assert len(entry["speedup_vs_sync_ci95"]) == 2
    ideal = next(e for e in data["results"] if e["strategy"] == "ideal_async")
    assert ideal["tokens_decoded"] is None  # NaN is written as null


def test_failed_task_is_left_out_of_every_strategy() -> None:
    bad = _run("b", "async", 10)
    bad.error = "boom"
    runs = [_run("a", "sync", 1000), _run("a", "async", 500), _run("b", "sync", 900), bad]
    rows = build_rows("parallel", runs)
    assert {r.n for r in rows} == {1}
    assert all(not math.isnan(r.mean_ms) for r in rows)


def test_percentile_interpolates_and_handles_small_samples() -> None:
    assert percentile([10, 1, 3, 2, 4], 90) == pytest.approx(7.6)
    assert percentile([1.0, 2.0], 50) == pytest.approx(1.5)
    assert percentile([5.0], 95) == 5.0 and math.isnan(percentile([], 50))
