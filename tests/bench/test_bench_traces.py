"""``asynclm traces``: valid CML, seeded, chat-format JSONL."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from asynclm_tui.lab.bench.traces import Trace, build_traces, check_trace, write_traces
from asynclm_tui.lab.tasks.bfcl_data import INSTALL_HINT, BenchError
from tests.conftest import needs

pytestmark = needs(importlib.util.find_spec("bfcl_eval") is None, f"needs {INSTALL_HINT}")


def test_twenty_traces_parse_with_the_engine_parser(tmp_path: Path) -> None:
    out = tmp_path / "traces.jsonl"
    assert write_traces(out, count=20, seed=0) == 20
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 20
    for line in lines:
        record = json.loads(line)
        roles = [m["role"] for m in record["messages"]]
        assert roles == ["system", "user", "assistant"]
        trace = Trace(record["messages"], record["meta"])
        assert check_trace(trace) == []
        meta = record["meta"]
        assert 5.0 <= meta["tpot_ms"] <= 30.0
        assert all(1 <= v <= 1000 for v in meta["estimated_ms"].values())
        assert "estimated_ms=" in record["messages"][0]["content"]


def test_traces_are_seeded() -> None:
    a = [t.to_json() for t in build_traces(6, seed=4)]
    b = [t.to_json() for t in build_traces(6, seed=4)]
    c = [t.to_json() for t in build_traces(6, seed=5)]
    assert a == b
    assert a != c


def test_user_interrupts_and_traps_appear() -> None:
    traces = build_traces(30, seed=1, user_share=1.0)
    with_user = [t for t in traces if t.meta["user_interrupts"]]
    assert with_user
    assert any("[INTR] user [HEAD]" in t.messages[-1]["content"] for t in with_user)
    assert any("[TRAP][END]" in t.messages[-1]["content"] for t in traces)
    assert all(check_trace(t) == [] for t in traces)


def test_longest_estimate_is_called_first_among_independent_calls() -> None:
    for trace in build_traces(20, seed=2):
        if trace.meta["dataset"] == "multi_step" or len(trace.meta["estimated_ms"]) < 2:
            continue
        content = trace.messages[-1]["content"]
        est = trace.meta["estimated_ms"]
        first = min(est, key=lambda name: content.find(f"[HEAD] {name}("))
        assert est[first] == max(est.values())


def test_bad_count_is_a_bench_error() -> None:
    with pytest.raises(BenchError, match="--count"):
        build_traces(0)
