"""``asynclm tools ...``: list the tools the model can call, check tool files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from asynclm_tui.cli.errors import CliError
from asynclm_tui.cli.flatten import flatten
from asynclm_tui.cli.options import ModelOptions, ToolOptions
from asynclm_tui.cli.plain_help import PlainArgsCommand

tools_app = typer.Typer(help="List and check YAML tools.", no_args_is_help=True)


@tools_app.command("list")
@flatten("config", "tool_paths")
def tools_list(model: ModelOptions, tools: ToolOptions) -> None:
    """List the tools the model can call."""
    from asynclm_tui.core.tools.registry import ToolRegistry

    settings = model.load_settings(tools)
    reg = ToolRegistry.load(settings.tool_paths(), settings.tools.disabled)
    for err in reg.errors:
        typer.echo(f"{err}", err=True)
    from rich.table import Table

    from asynclm_tui.headless.tables import print_table

    table = Table("tool", "runner", "estimate", "description", box=None, header_style="bold")
    table.columns[2].justify = "right"
    for spec in reg.tools.values():
        flags = " (asks first)" if spec.confirm else ""
        table.add_row(
            spec.name,
            spec.runner,
            f"~{spec.estimated_ms:.0f} ms",
            spec.description.splitlines()[0] + flags,
        )
    print_table(table)
    if reg.errors:
        raise typer.Exit(2)


@tools_app.command("check", cls=PlainArgsCommand)
@flatten("paths", "config")
def tools_check(
    model: ModelOptions,
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (default: all tool dirs).")
    ] = None,
) -> None:
    """Validate tool files; bad ones print path:line: message (exit 2)."""
    from asynclm_tui.core.settings.yaml_source import yaml_files
    from asynclm_tui.core.tools.registry import ToolRegistry

    targets = list(paths or [])
    if not targets:
        targets = model.load_settings().tool_paths()
    for path in paths or []:
        if not path.exists():
            raise CliError(f"{path}: not found")
    reg = ToolRegistry.load(targets)
    for err in reg.errors:
        typer.echo(str(err), err=True)
    n_files = len(yaml_files(targets))
    typer.echo(
        f"{len(reg.tools)} tool(s) OK in {n_files - len(reg.errors)} file(s); "
        f"{len(reg.errors)} file(s) with errors"
    )
    if reg.errors:
        raise typer.Exit(2)
