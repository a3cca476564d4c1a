"""bench ui with background calls: the script's chats, the busy / quiet ratios
and their intervals, the targets and the JSON."""

from __future__ import annotations

import json

import pytest

from asynclm_tui.core.cml.script import Script
from asynclm_tui.lab.bench.ui_background import (
    CALLS,
    LONG_MS,
    SHORT_MS,
    BackgroundResult,
    Case,
    script_turns,
    table_cells,
)
from asynclm_tui.lab.bench.ui_latency_stats import KEY_MAX_MS, KEY_P95_MS, ThreadsResult


def case(composing: list[float], streaming: list[float], ttft: list[float]) -> Case:
    """One key of each kind per pair, so a pair's median is that key."""
    return Case(
        keys_composing=[[k] for k in composing],
        keys_streaming=[[k] for k in streaming],
        ttft_ms=list(ttft),
        prompt_evaluated=[20] * len(ttft),
    )


def test_the_script_alternates_which_chat_of_a_pair_comes_first() -> None:
    turns = script_turns(2, "The answer.")
    assert len(turns) == 8 and turns[1::2] == ["The answer."] * 4
    setups = turns[0::2]
    assert [f"sleep(ms={LONG_MS})" in t for t in setups] == [False, True, True, False]
    assert all(t.count("[CALL]") == CALLS for t in setups)
    assert f"sleep(ms={SHORT_MS})" in setups[0]
    assert Script.from_text("\n=== turn ===\n".join(turns)).turns == turns  # a valid script


def test_the_ratio_is_busy_over_quiet_with_an_interval_over_the_pairs() -> None:
    result = BackgroundResult(
        quiet=case([10, 12, 11, 9], [20, 22, 21, 19], [100, 120, 110, 90]),
        busy=case([11, 12, 12, 9], [40, 44, 42, 38], [100, 120, 110, 90]),
    )
    ratio, ci = result.ratio("key_ms_composing")
    assert ratio is not None and ci is not None
    assert ratio == pytest.approx(44 / 42) and ci[0] <= ratio <= ci[1] and ci[0] <= 1.0 < ci[1]
    doubled, sure = result.ratio("key_ms_streaming")
    assert doubled == pytest.approx(2.0) and sure is not None and 1.5 < sure[0] <= sure[1] < 2.5
    same, none = result.ratio("ttft_ms")
    assert same == pytest.approx(1.0) and none == pytest.approx((1.0, 1.0))
    met = result.checks(KEY_P95_MS, KEY_MAX_MS)
    assert met["background_key_ms_composing"] is True  # no slowdown shown
    assert met["background_key_ms_streaming"] is False  # twice as slow, and sure of it
    assert met["background_ttft_ms"] is True
    assert met["background_keys"] is False  # busy keys of 38-44 ms: over the p95 target


def test_unequal_cases_count_only_the_pairs_measured_in_full() -> None:
    result = BackgroundResult(quiet=case([10, 10], [10, 10], [50, 60]), busy=case([10], [10], [55]))
    assert result.pairs == 1
    assert result.ratio("ttft_ms")[0] == pytest.approx(55 / 50)


def test_nothing_measured_is_null_in_the_json_and_a_dash_in_the_table() -> None:
    empty = BackgroundResult()
    data = empty.to_json(KEY_P95_MS, KEY_MAX_MS)
    json.dumps(data, allow_nan=False)
    assert data["pairs"] == 0
    assert data["busy_over_quiet"]["ttft_ms"] == {"ratio": None, "ci95": None}
    assert set(data["met"].values()) == {None}
    assert table_cells(empty, "key_ms_streaming") == "-"


def test_a_thread_settings_result_carries_the_background_case() -> None:
    result = ThreadsResult(threads=2, cpus=2)
    assert result.to_json()["background"] is None and "background_keys" not in result.checks()
    result.background = BackgroundResult(
        quiet=case([8, 9], [10, 11], [200, 210]), busy=case([8, 9], [10, 11], [200, 210])
    )
    data = result.to_json()
    assert data["background"]["pairs"] == 2
    assert data["met"]["background_ttft_ms"] is True and data["met"]["background_keys"] is True
    assert table_cells(result.background, "ttft_ms") == "205 -> 205: x1.00 (1.00-1.00, 2 pairs)"
