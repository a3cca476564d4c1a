"""Hostile input at scale: the CML parser and every user-editable file.

Every input ends in a working result or a clear ``path:line`` error, never an
exception of another kind.  Example counts are fixed (derandomised runs
would hide new cases; the database makes failures repeat).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asynclm_tui.core.cml.syntax import BlockError as CMLBlockError
from asynclm_tui.core.cml.syntax import CallBlock, TrapBlock, parse_call_body
from asynclm_tui.core.settings.config import load_settings
from asynclm_tui.core.settings.paths import shipped_themes_dir, shipped_tools_dir
from asynclm_tui.core.settings.themes import load_theme_file
from asynclm_tui.core.settings.yaml_source import UserFileError
from asynclm_tui.core.tools.spec import load_tool_file
from tests.conftest import ROOT
from tests.unit.test_cml import PIECES, feed_all

CML_EXAMPLES = 10_000
FILE_EXAMPLES = 200

BODIES = st.sampled_from(
    [
        "f()",
        "a.b.c(x=1)",
        "f(1, 'a', [1, {2: None}], k=True)",
        "f(**{})",
        "f(*x)",
        "__import__('os')",
        "f(x=lambda: 1)",
        "f(",
        ")",
        "f(x=1, x=2)",
        "1 + 1",
        "",
        "f(x='[END]')",
        "f(x='\\x00')",
        "f(x=" + "[" * 50 + ")",
        "é(ü=1)",
    ]
)


@settings(max_examples=CML_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(PIECES, BODIES, st.text(max_size=6)), max_size=16),
    st.lists(st.integers(min_value=0, max_value=200), max_size=8),
)
def test_cml_any_text_cut_anywhere(parts: list[str], cuts: list[int]) -> None:
    """The same text gives the same visible text and blocks however it is
    cut into pieces, and only ever yields parse events."""
    text = "".join(parts)
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    pieces = [text[a:b] for a, b in zip(points, points[1:], strict=False)]
    whole = feed_all([text])
    split = feed_all(pieces)
    assert split[:2] == whole[:2]
    for event in whole[1]:
        assert isinstance(event, CallBlock | TrapBlock | CMLBlockError)
    # Nothing is both shown and parsed: no complete opener survives as text.
    assert "[CALL]" not in whole[0] and "[TRAP]" not in whole[0]


@settings(max_examples=2_000, deadline=None)
@given(st.text(max_size=80))
def test_call_bodies_parse_or_fail_cleanly(body: str) -> None:
    with contextlib.suppress(ValueError):
        parse_call_body(body)


# ------------------------------------------------------------ user files

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _mutate(data: Any, draw: st.DrawFn) -> Any:
    """One random edit somewhere in ``data``: replace, drop or add a value."""
    if isinstance(data, dict) and data and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(data, key=str)))
        action = draw(st.sampled_from(["replace", "drop", "add", "deeper"]))
        out = dict(data)
        if action == "replace":
            out[key] = draw(VALUES)
        elif action == "drop":
            del out[key]
        elif action == "add":
            out[draw(st.text(max_size=10))] = draw(VALUES)
        else:
            out[key] = _mutate(out[key], draw)
        return out
    if isinstance(data, list) and data and draw(st.booleans()):
        i = draw(st.integers(min_value=0, max_value=len(data) - 1))
        return [*data[:i], _mutate(data[i], draw), *data[i + 1 :]]
    return draw(VALUES) if draw(st.booleans()) else data


@st.composite
def documents(draw: st.DrawFn, examples: list[Any]) -> str:
    """A YAML text: a valid example edited a few times, garbage, or broken YAML."""
    kind = draw(st.sampled_from(["mutated", "mutated", "random", "text", "truncated"]))
    base = draw(st.sampled_from(examples))
    if kind == "random":
        return yaml.safe_dump(draw(VALUES), allow_unicode=True)
    if kind == "text":
        return draw(st.text(max_size=200))
    data = base
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        data = _mutate(data, draw)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    if kind == "truncated":
        text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
    return text


def _examples(folder: Path) -> list[Any]:
    return [yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yaml"))]


TOOL_EXAMPLES = _examples(shipped_tools_dir())
THEME_EXAMPLES = _examples(shipped_themes_dir())
CONFIG_EXAMPLES = [yaml.safe_load((ROOT / "config.example.yaml").read_text())]
WHERE = re.compile(r"^(?P<path>[^:]+)(:(?P<line>\d+))?: \S")


def _check_error(exc: UserFileError, path: Path, text: str) -> None:
    message = str(exc)
    assert "\n" not in message.strip()
    match = WHERE.match(message)
    assert match and match.group("path") == str(path), message
    if match.group("line"):
        # lines as YAML counts them: a lone CR, NEL and the Unicode separators break too
        breaks = len(re.findall("\r\n|[\r\n\x85\u2028\u2029]", text))
        assert 1 <= int(match.group("line")) <= breaks + 1, message


@settings(
    max_examples=FILE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(documents(TOOL_EXAMPLES))
def test_tool_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "tool.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        specs = load_tool_file(path)
    except UserFileError as exc:
        _check_error(exc, path, text)
        return
    for spec in specs:
        assert spec.name and spec.runner in ("command", "http", "python", "handler")


@settings(
    max_examples=FILE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(documents(THEME_EXAMPLES))
def test_theme_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "theme.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        spec = load_theme_file(path)
    except UserFileError as exc:
        _check_error(exc, path, text)
        return
    assert spec.name


@settings(
    max_examples=FILE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(documents(CONFIG_EXAMPLES))
def test_config_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        settings_ = load_settings(path)
    except UserFileError as exc:
        _check_error(exc, path, text)
        return
    assert settings_.source == path


def test_unreadable_bytes_are_a_clear_error(tmp_path: Path) -> None:
    for loader in (load_tool_file, load_theme_file, load_settings):
        path = tmp_path / "bad.yaml"
        path.write_bytes(b"name: \xff\xfe\x00 bad")
        try:
            loader(path)  # type: ignore[operator]
        except UserFileError as exc:
            assert re.match(rf"{re.escape(str(path))}(:1)?: cannot read file: not UTF-8", str(exc))
        else:
            raise AssertionError(f"{loader.__name__} accepted bytes that are not UTF-8")
