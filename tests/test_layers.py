"""The package's rooms and which may import which (docs/architecture.md).

Read from the source with ``ast``, every import counted (function-local and
``TYPE_CHECKING`` ones too: they are still a dependency of the design).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "asynclm_tui"

ROOMS: dict[str, set[str]] = {
    "core": {"core"},
    "headless": {"core", "headless"},
    "ui": {"core", "ui"},
    "lab": {"core", "headless", "ui", "lab"},
    "cli": {"core", "headless", "ui", "lab", "cli"},
}
"""Each room of the package and the rooms it may import (the CLI reaches the
lab only inside the commands that run it: see the chat-path test)."""

CORE_ROOMS: dict[str, set[str]] = {
    "settings": set(),
    "tools": {"settings"},
    "cml": {"settings", "tools"},
    "backends": {"settings"},
    "api": {"settings", "tools", "backends"},
    "sessions": {"settings", "tools", "api", "cml"},
    "decode": {"settings", "tools", "cml", "backends", "api"},
}
"""Rooms inside the core, lowest first, and the rooms below each that it may
import (besides itself and the vocabulary)."""

VOCABULARY = {"asynclm_tui.core.api.enums", "asynclm_tui.core.cml.syntax"}
"""The words every room speaks (modes, call states, CML markers): importable
from anywhere in the core."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = name.split(".")
                    parent = parent[: len(parent) - node.level + (1 if is_package else 0)]
                    base = ".".join(parent + ([base] if base else []))
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for target in targets:
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target.startswith("asynclm_tui.") and target != name:
                    graph[name].add(target)
    return graph


def room(module: str) -> str:
    return module.split(".")[1]


def core_room(module: str) -> str:
    return module.split(".")[2]


def test_no_import_circles() -> None:
    try:
        tuple(TopologicalSorter(imports()).static_order())
    except CycleError as exc:
        pytest.fail(f"import circle: {' -> '.join(exc.args[1])}")


def test_nothing_at_the_package_root_but_init_and_main() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"]


def test_each_room_imports_only_the_rooms_below_it() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in imports().items()
        if module.count(".") >= 2
        for target in targets
        if target.count(".") >= 1 and room(target) not in ROOMS[room(module)] | {"__main__"}
    )
    assert wrong == []


def test_core_rooms_import_downwards() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in imports().items()
        if module.startswith("asynclm_tui.core.") and module.count(".") >= 3
        for target in targets
        if target.startswith("asynclm_tui.core.")
        and target.count(".") >= 3
        and target not in VOCABULARY
        and core_room(target) != core_room(module)
        and core_room(target) not in CORE_ROOMS[core_room(module)]
    )
    assert wrong == []


def test_every_module_is_in_a_room() -> None:
    rooms = set(ROOMS) | {"__init__", "__main__"}
    assert {room(m) for m in modules() if m.count(".")} <= rooms
    core = {
        core_room(m) for m in modules() if m.startswith("asynclm_tui.core.") and m.count(".") >= 3
    }
    assert core <= set(CORE_ROOMS)


def test_the_chat_path_never_loads_the_lab() -> None:
    # The commands a user runs to chat import the command tree, the UI and
    # the wiring; the lab is imported only by the bench and train commands.
    code = (
        "import sys\n"
        "import asynclm_tui.cli.app, asynclm_tui.cli.chat, asynclm_tui.ui.app\n"
        "import asynclm_tui.core.decode.from_settings, asynclm_tui.headless.run\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('asynclm_tui.lab'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""


def test_the_cli_imports_the_lab_only_inside_commands() -> None:
    top_level = sorted(
        f"{module_name(path)}: {node.module}"
        for path in sorted((PACKAGE / "cli").glob("*.py"))
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("asynclm_tui.lab")
    )
    assert top_level == []
