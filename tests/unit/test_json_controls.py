"""JSON output (``run --json``, ``sessions list --json``, exports) carries
control characters escaped, never raw, and loses nothing."""

from __future__ import annotations

import json

from asynclm_tui.core.api.display import escape_json_controls, json_line

HOSTILE = "a\x1b]52;c;SEVMTE8=\x07b\x9b31mc\x9d0;title\x9cd\x7fe\x85f"


def test_no_control_character_is_left_raw_and_the_value_round_trips() -> None:
    line = json_line({"text": HOSTILE, "more": [HOSTILE]})
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in line)
    assert json.loads(line) == {"text": HOSTILE, "more": [HOSTILE]}
    assert "é ✓ 東京" in json_line("é ✓ 東京")  # other text stays readable


def test_indented_json_is_escaped_the_same_way() -> None:
    text = escape_json_controls(json.dumps({"t": HOSTILE}, ensure_ascii=False, indent=2))
    assert "\x9b" not in text and "\\u009b" in text
    assert json.loads(text) == {"t": HOSTILE}
