"""The per-call latency model: range, mean, determinism."""

from __future__ import annotations

import statistics

from asynclm_tui.lab.tasks.latency import LatencyModel, unit


def test_draws_stay_in_the_paper_range() -> None:
    model = LatencyModel(seed=3)
    draws = [model.duration_ms(f"task{t}", i) for t in range(200) for i in range(10)]
    assert min(draws) >= 30.0
    assert max(draws) <= 500.0


def test_mean_is_about_110_ms() -> None:
    model = LatencyModel(seed=0)
    draws = [model.duration_ms(f"t{t}", i) for t in range(2000) for i in range(10)]
    assert abs(statistics.fmean(draws) - 110.0) < 3.0
    assert abs(model.expected_mean_ms() - 110.0) < 2.0


def test_draws_are_deterministic_per_task_call_and_seed() -> None:
    a, b = LatencyModel(seed=1), LatencyModel(seed=1)
    assert a.duration_ms("parallel_7", 2) == b.duration_ms("parallel_7", 2)
    assert a.duration_ms("parallel_7", 2) != a.duration_ms("parallel_7", 3)
    assert a.duration_ms("parallel_7", 2) != LatencyModel(seed=2).duration_ms("parallel_7", 2)


def test_unit_is_in_the_unit_interval() -> None:
    values = [unit("x", k) for k in range(1000)]
    assert all(0.0 <= v < 1.0 for v in values)
