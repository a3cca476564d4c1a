"""``bench mcp``'s arithmetic and report on given measurements (the bench
itself runs the real model: ``asynclm bench mcp``)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from asynclm_tui.lab.bench.mcp import McpBench, Percentiles, _print, _summarise


def summary(sync_scale: float, stdio_p50: float) -> McpBench:
    times = {
        "async": [3000.0, 3200.0, 3100.0, 2900.0, 3050.0],
        "sync": [v * sync_scale for v in (3000.0, 3200.0, 3100.0, 2900.0, 3050.0)],
        "parallel": [4000.0, 4100.0, 3900.0, 4050.0, 3950.0],
    }
    trips = {
        "python": Percentiles.of([0.2] * 10),
        "stdio": Percentiles.of([stdio_p50] * 9 + [stdio_p50 * 3]),
        "http": Percentiles.of([7.0] * 10),
    }
    return _summarise("m.gguf", 5, 168, 0.4, {"bench": 2.0}, times, trips)


def test_ratios_intervals_and_targets() -> None:
    fast = summary(2.0, 3.0)
    assert fast.sync_over_async == pytest.approx(2.0)
    low, high = fast.sync_over_async_ci95
    assert low == pytest.approx(2.0) and high == pytest.approx(2.0)
    assert all(fast.targets().values())
    slow = summary(1.2, 8.0)
    assert slow.targets() == {
        "async >= 1.5x sync": False,
        "interval above 1.5": False,
        "stdio p50 <= 5 ms": False,
        "stdio p95 <= 20 ms": False,
    }


def test_percentiles_and_report(capsys: pytest.CaptureFixture[str]) -> None:
    p = Percentiles.of([float(v) for v in range(1, 101)])
    assert (p.n, p.p50, p.p95) == (100, 50.5, 95.0)
    result = summary(2.0, 3.0)
    json.dumps(asdict(result))
    _print(result)
    out = capsys.readouterr().out
    assert "2.00x [2.00-2.00]" in out and "MCP stdio" in out
    assert "targets: async >= 1.5x sync: met" in out
