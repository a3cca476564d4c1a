"""Text contrast of every shipped theme, measured on the rendered screen.

Each theme file is loaded, the main screen states are replayed, and every
cell of text (box-drawing and block characters aside: they are borders and
bars, not text) is checked against the WCAG ratio of its foreground to its
background as the terminal would draw them: ``dim`` text is blended halfway
to its background, ``reverse`` swaps the two.  AA (4.5:1) for every theme,
AAA (7:1) for the high-contrast one.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from rich.color import Color

sys.path.insert(0, str(Path(__file__).parents[1] / "snapshots"))

from replay import FINISHED, MID_TURN, Event, play, replay_app, settings, settle  # noqa: E402

from asynclm_tui.core.settings.paths import shipped_themes_dir  # noqa: E402

RGB = tuple[int, int, int]


def luminance(rgb: RGB) -> float:
    """WCAG relative luminance."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: RGB, b: RGB) -> float:
    """WCAG contrast ratio, 1 to 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _rgb(color: Color | None, default: RGB) -> RGB:
    if color is None or color.is_default:
        return default
    true = color.get_truecolor()
    return (true.red, true.green, true.blue)


def is_text(char: str) -> bool:
    return not char.isspace() and not 0x2500 <= ord(char) <= 0x259F


def test_contrast_formula() -> None:
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21)
    assert contrast((118, 118, 118), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)


STATES: list[tuple[str, Sequence[Event], tuple[str, ...], tuple[int, int]]] = [
    ("mid-turn", MID_TURN, (), (130, 36)),
    ("narrow", MID_TURN, (), (80, 24)),
    ("raw", FINISHED, ("ctrl+r",), (130, 36)),
    ("timeline", FINISHED, ("ctrl+t",), (130, 36)),
]
THEMES = sorted(path.stem for path in shipped_themes_dir().glob("*.yaml"))


@pytest.mark.parametrize("theme", THEMES)
async def test_every_text_cell_is_readable(theme: str) -> None:
    need = 7.0 if "high-contrast" in theme else 4.5
    failures: dict[str, float] = {}
    for state, events, keys, size in STATES:
        cfg = settings()
        cfg.ui.theme = theme
        app = replay_app(events, cfg)
        async with app.run_test(size=size) as pilot:
            await play(pilot)
            for key in keys:
                await pilot.press(key)
                await settle(pilot)
            assert app.theme == theme
            for strip in app.screen._compositor.render_strips():
                for seg in strip:
                    if seg.style is None or not any(is_text(ch) for ch in seg.text):
                        continue
                    style = seg.style
                    fg = _rgb(style.color, (255, 255, 255))
                    bg = _rgb(style.bgcolor, (0, 0, 0))
                    if style.reverse:
                        fg, bg = bg, fg
                    if style.dim:
                        fg = (fg[0] + bg[0]) // 2, (fg[1] + bg[1]) // 2, (fg[2] + bg[2]) // 2
                    ratio = contrast(fg, bg)
                    if ratio < need:
                        key = f"{state}: {seg.text.strip()[:40]!r} {fg} on {bg}"
                        failures[key] = round(ratio, 2)
    assert not failures, f"below {need}:1 in {theme}: {failures}"
