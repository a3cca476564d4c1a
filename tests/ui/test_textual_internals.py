"""The private Textual names the UI relies on are still there, unchanged, and
used nowhere but in :mod:`asynclm_tui.ui.textual_internals`.

Fails when the pinned Textual is changed to a release that renamed, re-typed
or rewrote one of them; the message says which and how.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import inspect
import pkgutil
import re
from functools import cache
from importlib.metadata import version
from pathlib import Path

import pytest
from textual.app import App
from textual.screen import Screen
from textual.widgets import TextArea

import asynclm_tui
from asynclm_tui.ui import textual_internals
from asynclm_tui.ui.textual_internals import INTERNALS, TEXTUAL_VERSION, Internal

RECORDED = Path(__file__).parent / "textual_sources"
"""Sources of the Textual methods our code re-implements, as recorded."""
ROOT = Path(asynclm_tui.__file__).parent


def test_the_pinned_textual_is_the_one_recorded() -> None:
    pyproject = (ROOT.parent / "pyproject.toml").read_text()
    assert f'"textual=={TEXTUAL_VERSION}"' in pyproject, (
        f"pyproject.toml no longer pins textual=={TEXTUAL_VERSION}: re-check every entry of "
        "textual_internals.INTERNALS against the new release, then update TEXTUAL_VERSION"
    )
    assert version("textual") == TEXTUAL_VERSION


@pytest.mark.parametrize("item", INTERNALS, ids=lambda item: item.qualname)
def test_internal_is_unchanged(item: Internal) -> None:
    where = f"{item.qualname} (Textual {version('textual')}; {item.use})"
    if item.signature is None:
        # An instance attribute: the owner must still set it.
        source = inspect.getsource(item.owner)
        assert re.search(rf"self\.{item.name}\b\s*(:[^=]*)?=", source), (
            f"{where}: {item.owner.__name__} no longer sets self.{item.name}"
        )
        return
    method = inspect.getattr_static(item.owner, item.name, None)
    assert method is not None, f"{where}: no longer exists"
    signature = str(inspect.signature(getattr(item.owner, item.name)))
    assert signature == item.signature, (
        f"{where}: signature changed from {item.signature} to {signature}"
    )
    recorded = RECORDED / f"{item.qualname}.txt"
    if recorded.exists():
        before = recorded.read_text()
        now = inspect.getsource(getattr(item.owner, item.name))
        diff = "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                now.splitlines(keepends=True),
                f"Textual {TEXTUAL_VERSION}",
                f"Textual {version('textual')}",
            )
        )
        assert not diff, f"{where}: its source changed; our re-implementation follows it:\n{diff}"


def test_every_reimplemented_method_has_its_source_recorded() -> None:
    recorded = {p.stem for p in RECORDED.glob("*.txt")}
    assert recorded == {"Widget._size_updated"}
    for name in recorded:
        assert any(item.qualname == name for item in INTERNALS), name


@cache
def textual_private_names(cls: type) -> frozenset[str]:
    """Private names Textual's own source of ``cls`` defines or uses on ``self``."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return frozenset()
    return frozenset(re.findall(r"(?:self\.|def )(_[a-z]\w*)", source))


def textual_names_of(cls: type) -> frozenset[str]:
    """Private names of every Textual class ``cls`` inherits from."""
    names: set[str] = set()
    for base in cls.__mro__:
        if base.__module__.split(".")[0] == "textual":
            names |= textual_private_names(base)
    return frozenset(names)


@cache
def textual_app_names() -> frozenset[str]:
    """Private names of Textual's app, screens and widgets (reached from
    outside them, e.g. ``app._exit``)."""
    return textual_names_of(App) | textual_names_of(Screen) | textual_names_of(TextArea)


@cache
def names_we_define() -> frozenset[str]:
    """Private names our modules (outside textual_internals) define themselves."""
    names: set[str] = set()
    for name in our_modules():
        if name != textual_internals.__name__:
            source = inspect.getsource(importlib.import_module(name))
            names |= set(re.findall(r"(?:self\.|def )(_[a-z]\w*)\s*(?:[:=(]|\[)", source))
    return frozenset(names)


def uses_of_textual_internals(module_name: str) -> list[str]:
    """``module: line: what`` for each private Textual name a class of the
    module overrides or uses on ``self`` / ``super()``, and each one read
    from a Textual object elsewhere (``app._exit``)."""
    module = importlib.import_module(module_name)
    tree = ast.parse(inspect.getsource(module))
    found: list[str] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in textual_app_names()
            and not _is_self(node.value)
            and not _is_super(node.value)
            and node.attr not in names_we_define()
        ):
            found.append(f"{module_name}:{node.lineno}: uses {node.attr}")
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(module, node.name, None)
        if not isinstance(cls, type):
            continue
        textual = textual_names_of(cls)
        if not textual:
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                if inner.name in textual:
                    found.append(f"{module_name}:{inner.lineno}: overrides {inner.name}")
            elif (
                isinstance(inner, ast.Attribute)
                and inner.attr in textual
                and (_is_self(inner.value) or _is_super(inner.value))
            ):
                found.append(f"{module_name}:{inner.lineno}: uses {inner.attr}")
    return found


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _is_super(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def our_modules() -> list[str]:
    """Every module that may import Textual (not the core)."""
    return sorted(
        m.name
        for m in pkgutil.walk_packages(asynclm_tui.__path__, prefix="asynclm_tui.")
        if not m.name.startswith("asynclm_tui.core")
        and not m.ispkg
        and m.name != "asynclm_tui.__main__"  # importing it runs the app
    )


def test_the_scan_finds_the_internals_module_s_own_uses() -> None:
    # The check below would pass vacuously if the scan found nothing.
    found = "\n".join(uses_of_textual_internals(textual_internals.__name__))
    for name in ("_size_updated", "_set_dirty", "_layout_cache", "_on_key", "_exit"):
        assert name in found


def test_no_module_but_textual_internals_touches_textual_internals() -> None:
    found = [
        use
        for name in our_modules()
        if name != textual_internals.__name__
        for use in uses_of_textual_internals(name)
    ]
    assert not found, (
        "private Textual names used outside asynclm_tui/ui/textual_internals.py "
        "(move the code there and list the name in INTERNALS):\n" + "\n".join(found)
    )
