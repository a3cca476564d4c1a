"""Failures become one line on stderr and an exit code in one place (asynclm_tui.cli.errors)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from asynclm_tui.cli.errors import USER_ERRORS, CliError, HandledGroup, as_cli_error
from asynclm_tui.core.backends.base import ModelLoadError
from asynclm_tui.core.sessions.saving import CannotSave
from asynclm_tui.core.sessions.store import StoreError
from asynclm_tui.core.settings.yaml_source import UserFileError
from tests.conftest import ROOT


def test_every_listed_user_error_exists() -> None:
    for module, name in USER_ERRORS:
        cls = getattr(importlib.import_module(module), name)
        assert isinstance(cls, type) and issubclass(cls, Exception), (module, name)


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            UserFileError(Path("c.yaml"), 3, "model.n_ctx: too big"),
            "c.yaml:3: model.n_ctx: too big",
        ),
        (StoreError("s.db: damaged"), "s.db: damaged"),
        (CannotSave("s.db: read-only"), "s.db: read-only"),
        (ModelLoadError("model file not found: m.gguf"), "model file not found: m.gguf"),
        (CliError("--mode: 'x' is not one of async"), "--mode: 'x' is not one of async"),
    ],
)
def test_user_errors_are_reported_as_their_line(exc: Exception, line: str) -> None:
    error = as_cli_error(exc)
    assert error is not None and str(error) == line and error.code == 2


def test_a_bug_is_not_a_user_error() -> None:
    assert as_cli_error(KeyError("x")) is None
    assert as_cli_error(typer.Exit(3)) is None


def app_raising(exc: Exception) -> typer.Typer:
    app = typer.Typer(cls=HandledGroup, rich_markup_mode=None)

    @app.command()
    def boom() -> None:
        """Raise."""
        raise exc

    @app.command()
    def fine() -> None:
        """Do nothing."""

    return app


def test_the_root_group_prints_one_line_and_exits_with_the_code() -> None:
    result = CliRunner().invoke(app_raising(CliError("no such thing", code=3)), ["boom"])
    assert result.exit_code == 3
    assert result.stderr == "asynclm: no such thing\n" and result.stdout == ""
    result = CliRunner().invoke(app_raising(StoreError("s.db: locked")), ["boom"])
    assert result.exit_code == 2 and result.stderr == "asynclm: s.db: locked\n"


def test_a_bug_keeps_its_traceback() -> None:
    result = CliRunner().invoke(app_raising(ZeroDivisionError("oops")), ["boom"])
    assert isinstance(result.exception, ZeroDivisionError)


def test_the_command_tree_loads_no_ui_no_lab_and_no_settings_models() -> None:
    # `asynclm --version` and every --help build the whole tree: it stays light.
    code = (
        "import sys\n"
        "sys.argv = ['asynclm', '--version']\n"
        "from asynclm_tui.cli.console import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('textual', 'pydantic', 'rich', 'asynclm_tui.lab', 'asynclm_tui.ui.app')\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    version, heavy = done.stdout.split("\n")[:2]
    assert version.startswith("asynclm-tui ")
    assert heavy == "", heavy


def test_a_chat_that_cannot_be_saved_says_how_to_go_on(tmp_path: Path) -> None:
    from asynclm_tui.cli.options import SessionOptions
    from asynclm_tui.core.backends.scripted import ScriptedBackend
    from asynclm_tui.core.decode.engine import Engine
    from asynclm_tui.core.sessions.saving import open_recorder
    from asynclm_tui.core.settings.config import Settings
    from asynclm_tui.core.tools.registry import ToolRegistry

    damaged = tmp_path / "s.db"
    damaged.write_bytes(b"not a database " * 100)
    engine = Engine(Settings(), ToolRegistry(), ScriptedBackend(["ok"]).factory())
    try:
        with pytest.raises(CannotSave, match="s.db"):  # the core: its own error
            open_recorder(engine, damaged)
        with pytest.raises(CliError) as info:  # the CLI: the same line, and the way out
            SessionOptions(db=damaged).open_recorder(engine, source="run")
        assert str(info.value).endswith(" (or pass --no-save)") and info.value.code == 2
        assert SessionOptions(db=damaged, no_save=True).open_recorder(engine, source="run") is None
    finally:
        engine.close()
