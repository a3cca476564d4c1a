"""Full garbage collections wait while the model streams."""

from __future__ import annotations

import gc

from asynclm_tui.ui.streaming.quiet_gc import FULL_GC_OFF, QuietGC


def test_streaming_suspends_full_collections_and_idle_restores() -> None:
    before = gc.get_threshold()
    quiet = QuietGC()
    try:
        quiet.streaming()
        quiet.streaming()  # idempotent: the saved thresholds are the originals
        assert gc.get_threshold() == (before[0], before[1], FULL_GC_OFF)
    finally:
        quiet.idle()
    assert gc.get_threshold() == before
    quiet.idle()  # a second idle is harmless
    assert gc.get_threshold() == before
