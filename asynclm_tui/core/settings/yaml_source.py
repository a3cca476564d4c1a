"""YAML loading that remembers where every value came from.

User files (config, tools, themes) must fail with ``path:line: message``.
:func:`load_yaml` returns the plain data plus a :class:`LineMap` from key paths
to 1-based line numbers, and :func:`pydantic_problem` turns a pydantic error
into that one-line form.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class UserFileError(Exception):
    """A user-editable file is wrong; ``str()`` is the one-line message."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else f"{self.path}"
        super().__init__(f"{where}: {message}")


@dataclass
class LineMap:
    """Key path (tuple of keys and indexes) to 1-based line number."""

    lines: dict[tuple[Any, ...], int]

    def line_of(self, loc: Sequence[Any]) -> int | None:
        """Line of the deepest known prefix of ``loc``."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


def _walk(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            _walk(value, sub, out)
            out[sub] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), out)


def yaml_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders to their ``*.yaml``/``*.yml`` files (sorted per folder);
    files named directly are kept, missing paths skipped."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(
                p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()
            )
    return found


def load_yaml(path: Path) -> tuple[Any, LineMap]:
    """Read ``path`` as YAML.

    Raises:
        UserFileError: unreadable file or invalid YAML, with the line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserFileError(path, None, f"cannot read file: {exc}") from None
    return parse_yaml(text, path)


def parse_yaml(text: str, path: Path) -> tuple[Any, LineMap]:
    """Parse YAML ``text`` that came from ``path``."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        raise UserFileError(
            path,
            text.count("\n", 0, exc.position) + 1,
            f"invalid YAML: character {exc.character!r} is not allowed",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise UserFileError(path, line, f"invalid YAML: {problem}") from None
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _walk(node, (), lines)
    return data, LineMap(lines)


def _field_part(part: Any) -> str:
    """A key as the user can recognise it (quoted when blank or odd)."""
    text = str(part)
    if text and text.isprintable() and text.strip() == text:
        return text
    return repr(text)


def pydantic_problem(
    path: Path, lines: LineMap, errors: Sequence[Any], prefix: Sequence[Any] = ()
) -> UserFileError:
    """Turn the first pydantic error into ``path:line: field: problem``."""
    err = errors[0]
    loc = [*prefix, *(p for p in err["loc"] if not str(p).startswith("function-"))]
    field = ".".join(_field_part(p) for p in loc) or "(top level)"
    msg = err["msg"]
    if err.get("type") == "extra_forbidden":
        msg = "unknown field"
    elif err.get("type") == "value_error":
        msg = msg.removeprefix("Value error, ")  # pydantic's prefix on our own messages
    return UserFileError(path, lines.line_of(loc), f"{field}: {msg}")
