"""The one place a failure becomes ``asynclm: message`` on stderr and an exit code.

Commands and the code they call raise exceptions; nothing below the CLI
prints an error or exits.  :class:`HandledGroup`, the root command group,
runs every command inside :func:`reported` (so :class:`typer.testing.CliRunner`
sees what a user sees): a :class:`CliError` and the errors listed in
:data:`USER_ERRORS` (a bad config or script file, an unusable sessions
database, a model that does not load, a benchmark or training input) print
their one-line message and exit 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer.core import TyperGroup


class CliError(Exception):
    """A mistake the user can fix (a bad flag, a missing file): printed as
    ``asynclm: message``, exit ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


USER_ERRORS: tuple[tuple[str, str], ...] = (
    ("asynclm_tui.core.settings.yaml_source", "UserFileError"),
    ("asynclm_tui.core.sessions.store", "StoreError"),
    ("asynclm_tui.core.backends.base", "ModelLoadError"),
    ("asynclm_tui.lab.tasks.bfcl_data", "BenchError"),
    ("asynclm_tui.lab.train.lora", "TrainError"),
)
"""(module, class) of the errors whose ``str()`` is a one-line message for the
user.  Named rather than imported: start-up stays light, and the chat never
imports the lab; an exception can only be an instance of a class whose
module has been imported, so :func:`as_cli_error` looks the class up in
:data:`sys.modules`."""


def as_cli_error(exc: BaseException) -> CliError | None:
    """``exc`` as the one-line error it is reported as; None for a bug."""
    if isinstance(exc, CliError):
        return exc
    for module, name in USER_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(exc, cls):
            return CliError(str(exc))
    return None


@contextmanager
def reported() -> Iterator[None]:
    """Turn a user error raised inside into its line on stderr and
    :class:`typer.Exit` with its code."""
    try:
        yield
    except Exception as exc:
        error = as_cli_error(exc)
        if error is None:
            raise
        typer.echo(f"asynclm: {error}", err=True)
        raise typer.Exit(error.code) from None


class HandledGroup(TyperGroup):
    """The root ``asynclm`` group: its callback and every command run inside
    :func:`reported`."""

    # Typer types this with the click it vendors (a private module): Any here.
    def invoke(self, ctx: Any) -> Any:
        with reported():
            return super().invoke(ctx)
