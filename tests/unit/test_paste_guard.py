"""A bracketed paste is one paste whatever it contains, in any chunking."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from asynclm_tui.ui.paste_guard import PASTE_END, PASTE_START, SHOWN_ESC, PasteGuard

COLOURED = "".join(f"\x1b[3{i % 8}mline {i}\x1b[0m\n" for i in range(200))


def feed_in(chunks: list[str]) -> str:
    guard = PasteGuard()
    return "".join(guard.feed(chunk) for chunk in chunks)


def test_escapes_inside_a_paste_are_shown_and_the_markers_kept() -> None:
    out = feed_in([f"a{PASTE_START}{COLOURED}{PASTE_END}b"])
    assert out == f"a{PASTE_START}{COLOURED.replace(chr(27), SHOWN_ESC)}{PASTE_END}b"
    assert out.count("\x1b") == 2  # only the two markers


def test_keys_outside_pastes_are_untouched_and_a_lone_escape_is_not_held() -> None:
    guard = PasteGuard()
    assert guard.feed("\x1b") == "\x1b"  # the Escape key, timed by the parser
    assert guard.feed("\x1b[A") == "\x1b[A"  # an arrow key


@given(st.lists(st.integers(min_value=0, max_value=60), max_size=12))
def test_any_chunking_gives_the_same_input(cuts: list[int]) -> None:
    text = f"x\x1b[B{PASTE_START}{COLOURED[:300]}\x1b[201{PASTE_END}y\x1b"
    whole = feed_in([text])
    points = sorted({min(c * 7, len(text)) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert feed_in(chunks) == whole
    assert whole.count(PASTE_START) == whole.count(PASTE_END) == 1
