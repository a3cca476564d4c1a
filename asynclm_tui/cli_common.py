"""What every ``asynclm`` command shares: the one-line error exit."""

from __future__ import annotations

from typing import NoReturn

import typer


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit non-zero (never a traceback)."""
    typer.echo(f"asynclm: {message}", err=True)
    raise typer.Exit(code)
