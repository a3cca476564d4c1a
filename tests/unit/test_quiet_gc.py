"""Full collections wait while any holder holds them off, and run once the last one is done."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from asynclm_tui.ui.streaming.quiet_gc import FULL_GC_OFF, QuietGC


@pytest.fixture
def full_collections() -> Iterator[list[int]]:
    seen: list[int] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 2:
            seen.append(1)

    saved = gc.get_threshold()
    gc.callbacks.append(note)
    try:
        yield seen
    finally:
        gc.callbacks.remove(note)
        gc.set_threshold(*saved)


def test_the_last_release_restores_the_thresholds_and_collects(full_collections: list[int]) -> None:
    saved = gc.get_threshold()
    quiet = QuietGC()
    quiet.hold("turn")
    quiet.hold("replay")
    assert gc.get_threshold() == (saved[0], saved[1], FULL_GC_OFF)
    quiet.release("turn")
    assert quiet.holders == {"replay"}
    assert gc.get_threshold()[2] == FULL_GC_OFF
    assert not full_collections
    quiet.release("replay")
    assert gc.get_threshold() == saved
    assert len(full_collections) == 1
    quiet.release("replay")  # a second release changes nothing
    assert len(full_collections) == 1


def test_releasing_everyone_at_once(full_collections: list[int]) -> None:
    saved = gc.get_threshold()
    quiet = QuietGC()
    quiet.hold("turn")
    quiet.hold("turn")
    quiet.hold("replay")
    quiet.release()
    assert quiet.holders == frozenset()
    assert gc.get_threshold() == saved
    assert len(full_collections) == 1
