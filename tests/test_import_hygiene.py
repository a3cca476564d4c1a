"""The core must stay usable without the UI: importing it never loads Textual.

(Rich is not checked: httpx imports it for its own command line when it is
installed, which says nothing about our layering.)
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import asynclm_tui.core


def core_modules() -> list[str]:
    """Every module under ``asynclm_tui.core``."""
    return sorted(
        m.name for m in pkgutil.walk_packages(asynclm_tui.core.__path__, prefix="asynclm_tui.core.")
    )


def test_core_has_modules() -> None:
    assert "asynclm_tui.core.settings.themes" in core_modules()
    assert "asynclm_tui.core.decode.engine" in core_modules()


def test_importing_core_does_not_load_textual_or_the_ui() -> None:
    modules = core_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] == 'textual' or m.startswith('asynclm_tui.ui'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "", f"core imported UI modules: {out.stdout.strip()}"
