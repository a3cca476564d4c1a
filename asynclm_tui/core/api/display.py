"""Text from outside (the model, tool and MCP results, file names, errors) made
safe to put on a terminal.

A terminal obeys the control characters in what it is sent: ``ESC ] 52``
writes the user's clipboard, ``ESC ] 0`` the window title, ``ESC [ ? 1000 h``
turns mouse reporting on.  Every such character is replaced by a visible
stand-in of one character (so offsets into the text stay valid): C0 controls
and DEL by their Unicode control pictures (``␛`` for ESC, ``␇`` for BEL), C1
controls (8-bit CSI, OSC, DCS ...) by ``�``.  Tab and newline stay.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, TypeVar

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

E = TypeVar("E")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else "\ufffd"


def visible(text: str) -> str:
    """``text`` with every control character but tab and newline made visible."""
    return _CONTROL.sub(_picture, text) if _CONTROL.search(text) else text


_JSON_UNESCAPED = re.compile(r"[\x7f-\x9f]")


def escape_json_controls(text: str) -> str:
    """JSON text (from ``json.dumps``) with DEL and the C1 controls, which
    ``json`` leaves raw, escaped as ``\\u00XX`` as it escapes the C0 ones:
    the same data, safe on a terminal."""
    return _JSON_UNESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_line(value: Any) -> str:
    """``value`` as one line of JSON that is safe on a terminal and loses nothing."""
    return escape_json_controls(json.dumps(value, ensure_ascii=False))


def _visible_value(value: Any) -> Any:
    match value:
        case str():
            return visible(value)
        case tuple():
            return tuple(_visible_value(v) for v in value)
        case list():
            return [_visible_value(v) for v in value]
        case dict():
            return {k: _visible_value(v) for k, v in value.items()}
        case _:
            return value


def visible_event(event: E) -> E:
    """A frozen dataclass event with the text in its fields made visible (the
    same object when there was nothing to change)."""
    if not dataclasses.is_dataclass(event) or isinstance(event, type):
        return event
    changed = {}
    for field in dataclasses.fields(event):
        if not field.init:
            continue
        value = getattr(event, field.name)
        shown = _visible_value(value)
        if shown != value:
            changed[field.name] = shown
    return dataclasses.replace(event, **changed) if changed else event  # type: ignore[type-var]
