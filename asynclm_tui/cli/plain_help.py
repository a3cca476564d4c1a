"""Help that lists a command's arguments by name alone."""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand


class PlainArgsCommand(TyperCommand):
    """A command whose help lists arguments by name alone: Typer appends a
    type label (``PROMPT <str>``, ``paths... <list[Path]>``) that only
    Python programmers can read, and offers no switch for it."""

    # Typer types these with the click it vendors (a private module): Any here.
    def format_options(self, ctx: Any, formatter: Any) -> None:
        args: list[tuple[str, str]] = []
        opts: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                args.append((record[0].split(" <", 1)[0], record[1]))
            elif param.param_type_name == "option":
                opts.append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)
