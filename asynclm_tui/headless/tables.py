"""Printing Rich tables for commands whose output is often redirected."""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.table import Table

PIPE_WIDTH = 200
"""Width for output that is not a terminal: Rich would otherwise assume 80
columns and cut wide benchmark tables to ``st…``-style stubs in a file."""


def print_table(table: Table, file: IO[str] | None = None) -> None:
    """Print ``table`` to ``file`` (stdout by default), at the terminal's width
    or, when redirected, wide enough that no column is cut."""
    console = Console(file=file)
    if not console.is_terminal:
        console = Console(file=file, width=PIPE_WIDTH)
    console.print(table)
