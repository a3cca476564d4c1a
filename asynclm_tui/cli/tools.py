"""``asynclm tools ...``: list the tools the model can call, check tool files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from asynclm_tui.cli.errors import CliError
from asynclm_tui.cli.flatten import flatten
from asynclm_tui.cli.options import ModelOptions, ToolOptions, start_logging
from asynclm_tui.cli.plain_help import PlainArgsCommand
from asynclm_tui.core.api.enums import Deliver, DeliverIdle

if TYPE_CHECKING:
    from asynclm_tui.core.tools.spec import ToolSpec

tools_app = typer.Typer(help="List and check YAML tools.", no_args_is_help=True)


@tools_app.command("list")
@flatten("config", "tool_paths", "mcp_configs")
def tools_list(model: ModelOptions, tools: ToolOptions) -> None:
    """List the tools the model can call (MCP servers' too: they are started
    for it, and stopped)."""
    from asynclm_tui.core.decode.from_settings import load_tools

    settings = model.load_settings(tools)
    reg = load_tools(settings)
    hub = tools.mcp_hub(settings)
    if hub is not None:
        start_logging(False)  # the servers' own lines go to the log file
        hub.start()
        try:
            hub.wait_settled(max(c.startup_timeout_s for c in hub.configs) + 1)
            reg = hub.registry(reg)
            for status in hub.statuses():
                typer.echo(status.line(), err=True)
        finally:
            hub.close()
    for err in reg.errors:
        typer.echo(f"{err}", err=True)
    from rich.table import Table

    from asynclm_tui.headless.tables import print_table

    table = Table("tool", "runner", "estimate", "description", box=None, header_style="bold")
    table.columns[2].justify = "right"
    for spec in reg.tools.values():
        flags = " (asks first)" if spec.confirm else ""
        flags += delivery_flags(spec)
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
    from asynclm_tui.core.decode.budget import check_tool_budget
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
    too_big = False
    for problem in check_tool_budget(reg.tools.values(), context_size(model)):
        typer.echo(f"{'error' if problem.error else 'warning'}: {problem.message}", err=True)
        too_big = too_big or problem.error
    if reg.errors or too_big:
        raise typer.Exit(2)


def context_size(model: ModelOptions) -> int:
    """The context window the tools must share: ``model.n_ctx``, else what the
    model would load with, else llama.cpp's usual default."""
    from asynclm_tui.core.backends import model_path
    from asynclm_tui.core.backends.base import ModelLoadError
    from asynclm_tui.core.backends.load_plan import FALLBACK_CTX, plan_load

    settings = model.load_settings()
    if settings.model.n_ctx:
        return settings.model.n_ctx
    if settings.model.backend != "llama":
        return FALLBACK_CTX
    try:
        return plan_load(model_path(settings), settings.model, gpu=False).n_ctx
    except ModelLoadError:
        return FALLBACK_CTX


def delivery_flags(spec: ToolSpec) -> str:
    """`` (background, when done: notify)``: how a tool's results are
    delivered, where it is not the default."""
    parts = ["background"] if spec.background else []
    if spec.deliver is not Deliver.INTERRUPT:
        parts.append(spec.deliver.value.replace("_", " "))
    if spec.deliver_idle is not DeliverIdle.ANSWER:
        parts.append(f"when done: {spec.deliver_idle.value}")
    return f" ({', '.join(parts)})" if parts else ""
