"""The ``asynclm`` command tree: the root command and where each command lives.

- :mod:`.chat`: ``chat`` (also ``asynclm`` with no command) and ``run``;
- :mod:`.doctor`: ``doctor``;
- :mod:`.serve`: ``serve``;
- :mod:`.bench`: ``bench ...``, ``soak`` and ``traces`` (the lab's commands);
- :mod:`.tools`, :mod:`.mcp`, :mod:`.sessions`, :mod:`.train`: their command groups.

Options several commands share are declared once in :mod:`.options`;
failures are reported by the root group (:mod:`.errors`).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from asynclm_tui import __version__
from asynclm_tui.cli.bench import bench_app, soak, traces
from asynclm_tui.cli.chat import CHAT_LAYOUT, ThemeOpt, chat, open_chat, run
from asynclm_tui.cli.doctor import doctor
from asynclm_tui.cli.errors import CliError, HandledGroup
from asynclm_tui.cli.flatten import flatten
from asynclm_tui.cli.mcp import mcp_app
from asynclm_tui.cli.options import ModelOptions, OutputOptions, SessionOptions, ToolOptions
from asynclm_tui.cli.plain_help import PlainArgsCommand
from asynclm_tui.cli.serve import serve
from asynclm_tui.cli.sessions import sessions_app
from asynclm_tui.cli.tools import tools_app
from asynclm_tui.cli.train import train_app
from asynclm_tui.ui.streaming.startup_gc import resume_collection

app = typer.Typer(
    name="asynclm",
    cls=HandledGroup,
    help="Chat with local LLMs that keep talking while their tools run (AsyncLM).",
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: Typer's Rich help prints <bool> after every flag.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"asynclm-tui {__version__}")
        raise typer.Exit()


VersionOpt = Annotated[
    bool,
    typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version."),
]


@app.callback(invoke_without_command=True)
@flatten("version", *CHAT_LAYOUT)
def main(
    ctx: typer.Context,
    model: ModelOptions,
    tools: ToolOptions,
    session: SessionOptions,
    output: OutputOptions,
    theme: ThemeOpt = None,
    version: VersionOpt = False,
) -> None:
    """With no command, open the chat on the configured (or bundled) model.

    The chat's options work here too (``asynclm --model X.gguf``); before
    another command they are refused, not ignored.
    """
    if ctx.invoked_subcommand is None:
        open_chat(model, tools, session, output, theme)
        return
    if ctx.invoked_subcommand != "chat":  # the chat resumes it once its first frame is shown
        resume_collection()
    given = {
        **model.values(),
        **tools.values(),
        **session.values(),
        **output.values(),
        "theme": theme,
    }
    command = ctx.invoked_subcommand
    for param in ctx.command.params:
        if param.name in given and given[param.name] != param.default:
            raise CliError(
                f"{param.opts[0]}: an option of the chat, not of `asynclm {command}` "
                f"(see asynclm {command} --help)"
            )


app.command("chat")(chat)
app.command(cls=PlainArgsCommand)(run)
app.command()(doctor)
app.command()(serve)
app.command()(soak)
app.command()(traces)
app.add_typer(tools_app, name="tools")
app.add_typer(mcp_app, name="mcp")
app.add_typer(bench_app, name="bench")
app.add_typer(sessions_app, name="sessions")
app.add_typer(train_app, name="train")


def entry() -> None:
    """Run the command line (Ctrl-C exits 130)."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
