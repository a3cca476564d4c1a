"""bench ui's arithmetic: windows and their ratio, visible-update gaps, targets, JSON."""

from __future__ import annotations

import json

import pytest

from asynclm_tui.core.settings.config import load_settings
from asynclm_tui.lab.bench.ui_latency import default_threads, flood_text
from asynclm_tui.lab.bench.ui_latency_stats import ThreadsResult, Window, summary


def test_neighbouring_windows_pair_up_and_a_cut_short_window_is_dropped() -> None:
    result = ThreadsResult(threads=2, cpus=2, window_s=2.0)
    result.add_turn(
        [
            Window(True, 0.0, 2.0, tokens=100, ui_cpu_s=0.04),
            Window(False, 2.0, 4.0, tokens=110),
            Window(True, 4.0, 6.5, tokens=121, ui_cpu_s=0.06),
            Window(False, 6.5, 7.0, tokens=9),  # the text ended: too short to rate
        ],
        typing=False,
    )
    assert result.watch_pairs == pytest.approx([50 / 55, 48.4 / 55])
    assert result.ratio == pytest.approx((50 / 55 + 48.4 / 55) / 2)
    data = result.to_json()
    assert data["detached_tok_s"] == pytest.approx(55.0)
    assert data["tui_tok_s"] == pytest.approx((100 + 121) / 4.5, abs=0.01)
    assert data["ui_cpu_share_watching"] == pytest.approx(0.1 / 4.5, abs=1e-4)
    assert data["pairs"] == 2 and not result.typing_pairs


def test_gaps_run_from_the_window_start_through_each_visible_update() -> None:
    still = Window(True, 10.0, 11.0)  # nothing shown for a whole window
    live = Window(True, 0.0, 1.0, frames=[0.2, 0.25, 0.5, 0.9])
    assert still.gaps_ms() == pytest.approx([1000.0])
    assert live.gaps_ms() == pytest.approx([200.0, 50.0, 250.0, 400.0])
    assert Window(False, 0.0, 1.0, frames=[0.5]).gaps_ms() == []  # detached: not shown
    result = ThreadsResult(threads=1, cpus=2, window_s=1.0)
    result.add_turn(
        [
            Window(True, 0.0, 1.0, tokens=50, frames=[0.2, 0.25, 0.5, 0.9]),
            Window(False, 1.0, 2.0, tokens=52),
        ],
        typing=False,
    )
    assert result.updates_per_s() == pytest.approx(4.0)
    assert result.to_json()["visible_gap_ms"]["max"] == pytest.approx(400.0)


def test_targets_follow_the_machine_shape_and_nothing_measured_is_null() -> None:
    spare, busy = ThreadsResult(threads=1, cpus=2), ThreadsResult(threads=2, cpus=2)
    assert spare.targets()["gap_p95_ms"] < busy.targets()["gap_p95_ms"]
    assert spare.targets()["ratio"] > busy.targets()["ratio"]
    data = busy.to_json()
    text = json.dumps(data, allow_nan=False)  # no NaN anywhere
    assert data["ratio"] is None and data["ratio_ci95"] is None
    assert data["key_ms_tool_flood"] == {"n": 0, "p50": None, "p95": None, "max": None}
    assert data["ttft_ms_first_turn"] is None and "NaN" not in text
    assert set(data["met"].values()) == {None}


def test_keys_meet_their_target_only_with_p95_and_max_in_bounds() -> None:
    result = ThreadsResult(threads=2, cpus=2)
    result.keys_decoding_ms = [10.0] * 39 + [80.0]
    result.keys_flood_ms = [10.0] * 39 + [150.0]  # one key over the max
    result.keys_load_ms = [10.0] * 10 + [50.0] * 10  # p95 over 30 ms
    met = result.checks()
    assert (met["keys_decoding"], met["keys_flood"], met["keys_load"]) == (True, False, False)
    assert summary([3.0, 1.0, 2.0]) == {"n": 3, "p50": 2.0, "p95": 2.9, "max": 3.0}


def test_the_ratio_comes_with_the_interval_the_pairs_support() -> None:
    result = ThreadsResult(threads=2, cpus=2)
    result.watch_pairs = [0.97] * 5
    assert result.to_json()["ratio_ci95"] == [0.97, 0.97]  # no spread: no doubt
    result.watch_pairs = [0.90, 0.94, 0.96, 0.97, 0.98, 1.00, 1.04, 0.93, 0.99, 0.95]
    low, high = result.to_json()["ratio_ci95"]
    assert result.ratio is not None and low < result.ratio < high
    assert low >= 0.90 and high <= 1.04
    wide = ThreadsResult(threads=2, cpus=2)
    wide.watch_pairs = [0.70, 0.80, 0.90, 0.96, 1.00, 1.10, 1.20, 0.85, 1.05, 0.95]
    wide_low, wide_high = wide.to_json()["ratio_ci95"]
    assert wide_high - wide_low > high - low


def test_thread_settings_cover_the_default_every_core_and_a_spare_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    settings = load_settings(None, {"model.n_threads": 2})
    assert default_threads(settings) == [2, 1]
    settings = load_settings(None, {"model.n_threads": 1})
    assert default_threads(settings) == [1, 2]


def test_the_flood_turn_starts_twenty_calls_then_waits() -> None:
    text = flood_text()
    assert text.count("[CALL]") == 20 and text.count("held(n=") == 20
    assert text.index("[TRAP][END]") > text.rindex("[CALL]")
