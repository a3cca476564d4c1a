"""A benchmark side run in a child process (spawned, so it never inherits threads)."""

from __future__ import annotations

import operator

import pytest

from asynclm_tui.lab.bench.sidecar import Sidecar, SidecarError


def test_calls_run_in_the_child_and_return_results() -> None:
    with Sidecar(operator.itemgetter, 1) as side:
        assert side(("a", "b")) == "b"
        assert side([10, 20, 30]) == 20


def test_a_failing_call_is_reported_and_the_child_keeps_serving() -> None:
    with Sidecar(operator.itemgetter, 5) as side:
        with pytest.raises(SidecarError, match="index out of range"):
            side("ab")
        assert side("abcdefg") == "f"


def test_a_side_that_cannot_be_built_is_one_error() -> None:
    with pytest.raises(SidecarError, match="invalid literal"):
        Sidecar(int, "not a number")
