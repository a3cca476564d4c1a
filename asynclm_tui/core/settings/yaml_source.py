"""YAML loading that remembers where every value came from, within bounds.

User files (config, tools, themes) must fail with ``path:line: message``.
:func:`load_yaml` returns the plain data plus a :class:`LineMap` from key paths
to 1-based line numbers, and :func:`pydantic_problem` turns a pydantic error
into that one-line form.

Every file the app reads is an input someone else may have written, so
parsing is bounded before anything is built: :func:`read_user_file` caps the
bytes read, and a streaming pass over the parser's events refuses a document
nested deeper than :data:`MAX_DEPTH` or holding more than :data:`MAX_VALUES`
values once its aliases are expanded (an alias bomb expands exponentially
while its text stays tiny).  Anchors and aliases are otherwise allowed: a
config may reuse a block with ``<<: *defaults``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")

MAX_FILE_BYTES = 512 * 1024
"""Largest config, tool, theme or MCP file read.  The shipped ones are a few
KiB; a file of hundreds of tools stays well under this, and parsing this much
YAML stays well under a second."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists (a tool's JSON Schema nests a few
levels per object; the parsers recurse once per level)."""
MAX_VALUES = 10_000
"""Most values (scalars, mappings, lists) in one document with its aliases
expanded: every later step (line map, validation, the prompt) walks them."""

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it (an order of magnitude
faster than the pure-Python one), with the same safe constructor."""
_BYTE_POSITIONS = _Loader is not yaml.SafeLoader
"""libyaml reports a bad character's position in UTF-8 bytes, not characters."""


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


def read_user_file(path: Path, limit: int = MAX_FILE_BYTES, what: str = "file") -> str:
    """The text of a user file, refusing one larger than ``limit`` bytes.

    At most ``limit`` + 1 bytes are read, so a device or a pipe that never
    ends (``/dev/zero``) is refused as quickly as a huge file.

    Raises:
        UserFileError: unreadable, too large, or not UTF-8.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise UserFileError(path, None, f"cannot read {what}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UserFileError(
            path, None, f"{what} is larger than {_size(limit)}; refusing to read it"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UserFileError(path, line, f"cannot read {what}: not UTF-8 ({exc.reason})") from None


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n // 1024} KiB"


def load_yaml(path: Path) -> tuple[Any, LineMap]:
    """Read ``path`` as YAML (bounded: see the module's docstring).

    Raises:
        UserFileError: unreadable, too large or invalid YAML, with the line.
    """
    return parse_yaml(read_user_file(path), path)


def parse_yaml(text: str, path: Path) -> tuple[Any, LineMap]:
    """Parse YAML ``text`` that came from ``path``.

    Raises:
        UserFileError: invalid YAML, too deep, or too many values.
    """
    if len(text) > MAX_FILE_BYTES:  # text that did not come through read_user_file
        raise UserFileError(path, None, f"file is larger than {_size(MAX_FILE_BYTES)}")
    try:
        check_bounds(text, path)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        if _BYTE_POSITIONS:
            at = text.encode("utf-8").count(b"\n", 0, exc.position) + 1
        else:
            at = text.count("\n", 0, exc.position) + 1
        raise UserFileError(
            path,
            at,
            f"invalid YAML: character {exc.character!r} is not allowed",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # libyaml may place an error at the end of input one line past the last
        line = min(mark.line + 1, _last_line(text)) if mark is not None else None
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise UserFileError(path, line, f"invalid YAML: {problem}") from None
    except (ValueError, OverflowError, TypeError) as exc:
        # A scalar the constructor cannot build (an integer of 5,000 digits).
        problem = " ".join(str(exc).split())[:200]
        raise UserFileError(path, None, f"invalid YAML: {problem}") from None
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _walk(node, (), lines)
    return data, LineMap(lines)


def _last_line(text: str) -> int:
    """The number of the last line, counting breaks as YAML does."""
    return len(_BREAKS.findall(text)) + 1


def check_bounds(text: str, path: Path) -> None:
    """Refuse YAML (or JSON) nested deeper than :data:`MAX_DEPTH` or holding
    more than :data:`MAX_VALUES` values with its aliases expanded, in one
    streaming pass that stops at the first excess.

    Raises:
        UserFileError: the bound crossed, at the line where it was.
        yaml.YAMLError: the text is not YAML (the caller reports it).
    """
    open_: list[tuple[int, str | None]] = []
    """Each open mapping or list: the value count when it opened, its anchor."""
    anchored: dict[str, int] = {}
    """Values each closed anchor stands for, expanded."""
    total = 0
    for event in yaml.parse(text, Loader=_Loader):
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_) >= MAX_DEPTH:
                raise UserFileError(path, line, f"nested more than {MAX_DEPTH} levels deep")
            open_.append((total, event.anchor))
            total += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            opened, anchor = open_.pop()
            if anchor is not None:
                anchored[anchor] = total - opened
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor is not None:
                anchored[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            name = event.anchor or ""
            if any(anchor == name for _, anchor in open_):
                raise UserFileError(path, line, f"alias *{name} refers to a value it is inside")
            total += anchored.get(name, 1)  # an undefined alias: composing reports it
        if total > MAX_VALUES:
            raise UserFileError(
                path,
                line,
                f"more than {MAX_VALUES:,} values"
                + (" once its aliases are expanded" if anchored else "")
                + "; refusing to load it",
            )


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
