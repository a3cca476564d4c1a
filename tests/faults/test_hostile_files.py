"""Hostile YAML (config, tools, themes) and scripts fail fast with
``file:line: message``, within a small memory bound (issue 36, finding 2)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from asynclm_tui.core.cml.script import Script
from asynclm_tui.core.settings.config import load_settings
from asynclm_tui.core.settings.themes import load_theme_file
from asynclm_tui.core.settings.yaml_source import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    UserFileError,
    load_yaml,
)
from asynclm_tui.core.tools.spec import load_tool_file
from tests.conftest import ROOT

FAST_S = 1.0
"""The issue's bound for refusing a hostile file."""
MEMORY_MB = 100
"""The issue's bound for the memory a hostile file may take."""

LOADERS: list[Callable[[Path], Any]] = [load_settings, load_tool_file, load_theme_file]


def alias_bomb(levels: int = 9) -> str:
    """Nine levels of nine aliases each: 9**9 values once expanded."""
    lines = ["a: &a [" + ", ".join(['"lol"'] * 9) + "]"]
    names = "abcdefghijklmnopqrstuvwxyz"
    for prev, name in zip(names, names[1 : levels + 1], strict=False):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def refused(loader: Callable[[Path], Any], path: Path) -> tuple[str, float]:
    """The one-line error ``loader`` gives for ``path``, and how long it took."""
    t0 = time.perf_counter()
    with pytest.raises(UserFileError) as info:
        loader(path)
    elapsed = time.perf_counter() - t0
    message = str(info.value)
    assert "\n" not in message
    return message, elapsed


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_an_alias_bomb_is_refused_at_once_at_its_line(
    tmp_path: Path, loader: Callable[[Path], Any]
) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    message, elapsed = refused(loader, path)
    assert re.fullmatch(
        rf"{re.escape(str(path))}:\d+: more than [\d,]+ values once its aliases are expanded;"
        r" refusing to load it",
        message,
    ), message
    assert elapsed < FAST_S


def test_an_alias_bomb_stays_within_the_memory_bound(tmp_path: Path) -> None:
    """Peak memory of a fresh process loading the bomb as its config, measured
    against the same process before it (the address space is capped so the
    unbounded loader fails instead of taking the machine)."""
    path = tmp_path / "config.yaml"
    path.write_text(alias_bomb())
    code = f"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
from asynclm_tui.core.settings.config import load_settings
from asynclm_tui.core.settings.yaml_source import UserFileError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
try:
    load_settings(__import__("pathlib").Path({str(path)!r}))
    error = None
except UserFileError as exc:
    error = str(exc)
except MemoryError:
    error = "MemoryError"
took = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"error": error, "s": took, "grew_mb": (after - before) / 1024,
                  "peak_mb": after / 1024}}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["error"] and result["error"].startswith(f"{path}:"), result
    assert result["grew_mb"] < MEMORY_MB, result
    assert result["s"] < FAST_S, result


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_a_huge_file_is_refused_without_reading_it_all(
    tmp_path: Path, loader: Callable[[Path], Any]
) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("description: '" + "x" * (MAX_FILE_BYTES + 10) + "'\n")
    message, elapsed = refused(loader, path)
    assert message == f"{path}: file is larger than 512 KiB; refusing to read it"
    assert elapsed < FAST_S


def test_a_file_that_never_ends_is_refused(tmp_path: Path) -> None:
    zero = Path("/dev/zero")
    if not zero.exists():
        pytest.skip("no /dev/zero here")
    for loader in LOADERS:
        message, elapsed = refused(loader, zero)
        assert message.startswith("/dev/zero: file is larger than") and elapsed < FAST_S
    with pytest.raises(UserFileError, match=r"^/dev/zero: script is larger than 16 MiB"):
        Script.load(zero)


@pytest.mark.parametrize(
    "text",
    [
        "".join(" " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + " " * 70 + "end\n",
        "a: " + "[" * 200 + "]" * 200 + "\n",
        "a: " + "[" * 100_000 + "]" * 100_000 + "\n",
    ],
    ids=["block", "flow", "flow-100k"],
)
@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_deep_nesting_is_refused(tmp_path: Path, loader: Callable[[Path], Any], text: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    message, elapsed = refused(loader, path)
    assert re.match(rf"{re.escape(str(path))}:\d+: .*nest", message), message
    assert elapsed < FAST_S


def test_many_plain_values_are_refused_at_the_line_that_crosses_the_bound(
    tmp_path: Path,
) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("".join(f"- {i}\n" for i in range(60_000)))
    message, elapsed = refused(load_tool_file, path)
    assert re.fullmatch(
        rf"{re.escape(str(path))}:10000: more than 10,000 values; refusing to load it", message
    ), message
    assert elapsed < FAST_S


def test_an_alias_to_a_value_it_is_inside_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cycle.yaml"
    path.write_text("model:\n  path: x\nloop: &l\n  - *l\n")
    message, _ = refused(load_settings, path)
    assert message == f"{path}:4: alias *l refers to a value it is inside"


def test_a_number_too_long_to_build_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "int.yaml"
    path.write_text("model:\n  n_ctx: " + "9" * 5000 + "\n")
    message, _ = refused(load_settings, path)
    assert message.startswith(f"{path}: invalid YAML: ")


def test_files_may_still_reuse_values_with_anchors(tmp_path: Path) -> None:
    theme = tmp_path / "theme.yaml"
    theme.write_text(
        'name: mine\ndark: true\nprimary: &cyan "#3DD6D0"\naccent: *cyan\n'
        "variables:\n  footer-key-foreground: *cyan\n"
    )
    spec = load_theme_file(theme)
    assert spec.accent == spec.primary == spec.variables["footer-key-foreground"] == "#3DD6D0"
    tools = tmp_path / "tools.yaml"
    tools.write_text(
        "- &base\n  name: one\n  description: first\n  python: builtins:len\n"
        "  parameters: {type: object, properties: {obj: {type: string}}}\n"
        "- <<: *base\n  name: two\n  description: second\n"
    )
    specs = load_tool_file(tools)
    assert [(s.name, s.python) for s in specs] == [("one", "builtins:len"), ("two", "builtins:len")]
    _, lines = load_yaml(tools)
    assert lines.line_of([1, "name"]) == 7


def test_errors_past_the_last_line_name_the_last_line(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("name: calc\nd")
    message, _ = refused(load_tool_file, path)
    assert message.startswith(f"{path}:2: invalid YAML")
