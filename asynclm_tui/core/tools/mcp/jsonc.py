"""JSON as MCP clients write it: comments and trailing commas allowed (VS Code's
JSONC), and the line of every value kept so a mistake is reported as ``file:line``.

:func:`parse_jsonc` returns the data plus the same :class:`LineMap` the YAML
loader gives (key paths to 1-based lines), so pydantic errors on an
``mcpServers`` file read like those of ``config.yaml``.
"""

from __future__ import annotations

import bisect
import json
import re
from typing import Any

from asynclm_tui.core.settings.yaml_source import MAX_DEPTH, LineMap

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}


class JsonProblem(ValueError):
    """Text that is not JSON; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[tuple[Any, ...], int] = {}
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_at(self, pos: int) -> int:
        return bisect.bisect_right(self._starts, pos)

    def fail(self, message: str, pos: int | None = None) -> JsonProblem:
        return JsonProblem(self.line_at(self.pos if pos is None else pos), message)

    def skip(self) -> None:
        """Whitespace and ``//`` / ``/* */`` comments."""
        text, n = self.text, len(self.text)
        while self.pos < n:
            ch = text[self.pos]
            if ch in " \t\r\n\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("a /* comment is never closed")
                self.pos = end + 2
            else:
                return

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def value(self, path: tuple[Any, ...], depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels")
        self.skip()
        self.lines.setdefault(path, self.line_at(self.pos))
        ch = self.peek()
        if ch == "{":
            return self.obj(path, depth)
        if ch == "[":
            return self.arr(path, depth)
        if ch == '"':
            return self.string()
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return literal
        match = _NUMBER.match(self.text, self.pos)
        if match and match.end() > self.pos:
            self.pos = match.end()
            number = match.group()
            return float(number) if any(c in number for c in ".eE") else int(number)
        if not ch:
            raise self.fail("the file ends where a value was expected")
        if ch == "'":
            raise self.fail("strings take double quotes in JSON, not single quotes")
        raise self.fail(f"expected a value, found {ch!r}")

    def string(self) -> str:
        try:
            text, self.pos = json.decoder.scanstring(self.text, self.pos + 1)  # type: ignore[attr-defined]
        except json.JSONDecodeError as exc:
            raise self.fail(f"bad string: {exc.msg}", exc.pos) from None
        return str(text)

    def obj(self, path: tuple[Any, ...], depth: int) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        while True:
            self.skip()
            ch = self.peek()
            if ch == "}":
                self.pos += 1
                return out
            if ch != '"':
                found = repr(ch) if ch else "the end of the file"
                raise self.fail(f"expected a quoted key or '}}', found {found}")
            key_pos = self.pos
            key = self.string()
            if key in out:
                raise self.fail(f"key {key!r} appears twice", key_pos)
            self.lines[(*path, key)] = self.line_at(key_pos)
            self.skip()
            if self.peek() != ":":
                raise self.fail(f"expected ':' after the key {key!r}")
            self.pos += 1
            out[key] = self.value((*path, key), depth + 1)
            self.skip()
            ch = self.peek()
            if ch == ",":
                self.pos += 1
            elif ch != "}":
                found = repr(ch) if ch else "the end of the file"
                raise self.fail(f"expected ',' or '}}' after the value of {key!r}, found {found}")

    def arr(self, path: tuple[Any, ...], depth: int) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        while True:
            self.skip()
            if self.peek() == "]":
                self.pos += 1
                return out
            out.append(self.value((*path, len(out)), depth + 1))
            self.skip()
            ch = self.peek()
            if ch == ",":
                self.pos += 1
            elif ch != "]":
                found = repr(ch) if ch else "the end of the file"
                raise self.fail(f"expected ',' or ']' in a list, found {found}")


def parse_jsonc(text: str) -> tuple[Any, LineMap]:
    """Parse JSON (comments and trailing commas allowed) and map key paths to lines.

    Raises:
        JsonProblem: the first syntax error, with its line.
    """
    parser = _Parser(text)
    data = parser.value((), 0)
    parser.skip()
    if parser.pos < len(text):
        raise parser.fail(f"unexpected {text[parser.pos]!r} after the end of the JSON value")
    return data, LineMap(parser.lines)
