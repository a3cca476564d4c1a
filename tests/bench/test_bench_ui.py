"""bench ui's arithmetic: neighbouring attached/detached windows and their ratio."""

from __future__ import annotations

import pytest

from asynclm_tui.bench.ui import UIBenchResult, Window


def test_neighbouring_windows_pair_up_and_a_cut_short_window_is_dropped() -> None:
    result = UIBenchResult(window_s=2.0)
    result.add_turn([
        Window(True, 0.0, 2.0, tokens=100, ui_cpu_s=0.04),
        Window(False, 2.0, 4.0, tokens=110),
        Window(True, 4.0, 6.5, tokens=121, ui_cpu_s=0.06),
        Window(False, 6.5, 7.0, tokens=9),  # the text ended: too short to rate
    ], typing=False)
    assert result.watch_pairs == pytest.approx([50 / 55, 48.4 / 55])
    assert result.ratio == pytest.approx((50 / 55 + 48.4 / 55) / 2)
    data = result.to_json()
    assert data["detached_tok_s"] == pytest.approx(55.0)
    assert data["tui_tok_s"] == pytest.approx((100 + 121) / 4.5, abs=0.01)
    assert data["ui_cpu_share_watching"] == pytest.approx(0.1 / 4.5, abs=1e-4)
    assert data["pairs"] == 2 and not result.typing_pairs


def test_typing_turns_are_kept_apart_and_pass_needs_both_targets() -> None:
    result = UIBenchResult(window_s=1.0)
    result.add_turn([Window(False, 0.0, 1.0, tokens=80), Window(True, 1.0, 2.0, tokens=72)],
                    typing=True)
    assert result.typing_ratio == pytest.approx(0.9) and result.ratio == 0.0
    result.add_turn([Window(False, 0.0, 1.0, tokens=80), Window(True, 1.0, 2.0, tokens=78)],
                    typing=False)
    result.latencies_ms = [10.0] * 39 + [80.0]  # p95 = 10 ms
    assert result.to_json()["pass"]
    result.latencies_ms = [10.0] * 10 + [80.0] * 10
    assert not result.to_json()["pass"]


def test_the_ratio_comes_with_the_interval_the_pairs_support() -> None:
    result = UIBenchResult()
    result.watch_pairs = [0.97] * 5
    assert result.ratio_ci95() == (0.97, 0.97)  # no spread: no doubt
    result.watch_pairs = [0.90, 0.94, 0.96, 0.97, 0.98, 1.00, 1.04, 0.93, 0.99, 0.95]
    low, high = result.ratio_ci95()
    assert low < result.ratio < high
    assert low >= 0.90 and high <= 1.04
    wide = UIBenchResult()
    wide.watch_pairs = [0.70, 0.80, 0.90, 0.96, 1.00, 1.10, 1.20, 0.85, 1.05, 0.95]
    assert wide.ratio_ci95()[1] - wide.ratio_ci95()[0] > high - low
    assert result.to_json()["ratio_ci95"] == [round(low, 4), round(high, 4)]
