"""Snapshots of the main screen states (fixed size, frozen clock, replayed events).

Update with ``pytest tests/snapshots --snapshot-update`` after checking the
report that a failing run writes (snapshot_report.html).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "ui"))

import pytest  # noqa: E402
from replay import (  # noqa: E402
    BACKGROUND,
    FINISHED,
    LOADED,
    MID_TURN,
    SIZE,
    STREAMING,
    missing_model_app,
    play,
    replay_app,
    settle,
)
from uiharness import wait_until  # noqa: E402

STATES = {"idle": LOADED, "streaming": STREAMING, "approval": MID_TURN}


SIZES = [(80, 24), (100, 30), (160, 45)]


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "x".join(map(str, s)))
def test_main_screen_at_size(snap_compare: Any, size: tuple[int, int], state: str) -> None:
    """Narrow (calls strip; the panel over the transcript for an approval), medium, wide."""
    assert snap_compare(replay_app(STATES[state]), terminal_size=size, run_before=play)


@pytest.mark.parametrize(
    "size", [(60, 20), (120, 36), (150, 42)], ids=lambda s: "x".join(map(str, s))
)
def test_status_bar_keeps_state_mode_and_context(snap_compare: Any, size: tuple[int, int]) -> None:
    """A narrow terminal drops the model's name before the state, mode, context
    and speed, and the footer shows whole keys only."""
    assert snap_compare(replay_app(STATES["streaming"]), terminal_size=size, run_before=play)


def test_mid_turn_running_and_awaiting_approval(snap_compare: Any) -> None:
    """Chips inline, a running call with its timer bar, an approval with buttons."""
    assert snap_compare(replay_app(MID_TURN), terminal_size=SIZE, run_before=play)


def test_finished_turn_raw_cml_view(snap_compare: Any) -> None:
    """The same turn as the raw CML the model's context received."""

    async def run_before(pilot: Pilot[None]) -> None:
        await play(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)

    assert snap_compare(replay_app(FINISHED), terminal_size=SIZE, run_before=run_before)


def test_timeline_of_finished_turn(snap_compare: Any) -> None:
    """Decoding vs calls on one axis and the time saved against sync."""

    async def run_before(pilot: Pilot[None]) -> None:
        await play(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)

    assert snap_compare(replay_app(FINISHED), terminal_size=SIZE, run_before=run_before)


def test_calls_in_the_background(snap_compare: Any) -> None:
    """The panel's background group (one running, one result waiting), the
    status bar's count, and the turn a result started."""
    assert snap_compare(replay_app(BACKGROUND), terminal_size=(160, 45), run_before=play)


def test_timeline_of_a_call_across_turns(snap_compare: Any) -> None:
    """A call that outlived its answer drawn into the turn after it."""

    async def run_before(pilot: Pilot[None]) -> None:
        await play(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)

    assert snap_compare(replay_app(BACKGROUND), terminal_size=SIZE, run_before=run_before)


def test_help_screen_in_light_theme(snap_compare: Any) -> None:
    """Every key with its id; the light theme from themes/asynclm-light.yaml."""
    from replay import settings

    cfg = settings()
    cfg.ui.theme = "asynclm-light"

    async def run_before(pilot: Pilot[None]) -> None:
        await play(pilot)
        await pilot.press("f1")
        await settle(pilot)

    assert snap_compare(replay_app([], cfg), terminal_size=SIZE, run_before=run_before)


def test_model_missing(snap_compare: Any) -> None:
    """A clear error in the transcript instead of a crash or a frozen screen."""

    async def run_before(pilot: Pilot[None]) -> None:
        pilot.app.chat.prompt.cursor_blink = False  # type: ignore[attr-defined]
        failed = lambda: pilot.app.chat.load_failed  # type: ignore[attr-defined]  # noqa: E731
        await wait_until(pilot, failed, 30, "the load to fail")
        await settle(pilot)

    app = missing_model_app()
    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        app.engine.close()
