"""``asynclm chat`` (also ``asynclm`` with no command) and ``asynclm run``.

Order of construction is always settings, then engine, then app; ``run``
never imports Textual.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from asynclm_tui.cli.errors import CliError
from asynclm_tui.cli.flatten import flatten
from asynclm_tui.cli.options import (
    ModelOptions,
    OutputOptions,
    SessionOptions,
    ToolOptions,
    start_logging,
)

if TYPE_CHECKING:
    from asynclm_tui.core.api.handle import EngineHandle
    from asynclm_tui.core.tools.mcp.hub import McpHub
    from asynclm_tui.core.tools.registry import ToolRegistry


def shipped_theme_names() -> list[str]:
    """Names of the shipped themes (their file names), for ``--theme``'s help."""
    from asynclm_tui.core.settings.paths import shipped_themes_dir

    return sorted(path.stem for path in shipped_themes_dir().glob("*.yaml"))


ThemeOpt = Annotated[
    str | None,
    typer.Option(
        "--theme",
        metavar="NAME",
        help=f"{', '.join(shipped_theme_names())}, a theme file's name or a Textual theme.",
    ),
]

CHAT_LAYOUT = (
    "config",
    "model_path",
    "lora",
    "no_lora",
    "tool_paths",
    "mcp_configs",
    "mode",
    "script",
    "theme",
    "approve_all",
    "session",
    "resume",
    "db",
    "no_save",
    "backend",
    "base_url",
    "api_key_env",
    "chat_format",
    "n_threads",
    "debug_log",
)
"""The chat's options in the order its help lists them (``asynclm`` with no
command takes the same)."""


def check_theme(theme: str | None) -> None:
    """Raises CliError for an unknown ``--theme`` (as ``--mode`` does)."""
    if theme is None:
        return
    from textual.theme import BUILTIN_THEMES

    from asynclm_tui.core.settings.themes import load_theme_specs
    from asynclm_tui.ui.theming import theme_dirs

    known = set(load_theme_specs(theme_dirs()).themes) | set(BUILTIN_THEMES)
    if theme not in known:
        raise CliError(f"--theme: {theme!r} is not one of {', '.join(sorted(known))}")


def open_chat(
    model: ModelOptions,
    tools: ToolOptions,
    session: SessionOptions,
    output: OutputOptions,
    theme: ThemeOpt = None,
) -> None:
    """Open the chat UI."""
    session.check_choice()
    check_theme(theme)
    settings = model.load_settings(tools, {"ui.theme": theme})
    hub = tools.mcp_hub(settings)
    start_logging(output.debug_log)
    from asynclm_tui.core.decode.from_settings import build_engine, load_tools

    registry = load_tools(settings)
    engine = build_engine(settings, registry=registry, script=tools.load_script(), interactive=True)
    sessions = session.open_chat(engine)
    from asynclm_tui.ui.app import run_app
    from asynclm_tui.ui.mcp_link import McpLink

    link = McpLink(hub, registry) if hub is not None else None
    raise typer.Exit(run_app(settings, engine, sessions, mcp=link))


chat = flatten(*CHAT_LAYOUT)(open_chat)
"""The ``chat`` command: :func:`open_chat` with its options flattened."""


def read_prompt(prompt: str | None) -> str:
    """The prompt argument, or stdin for ``-`` (or no argument with a pipe)."""
    if prompt is None and sys.stdin.isatty():
        raise CliError("give a prompt, or - to read it from stdin")
    if prompt is None or prompt == "-":
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise CliError("the prompt is empty")
    return prompt


@flatten(
    "prompt",
    "config",
    "model_path",
    "lora",
    "no_lora",
    "tool_paths",
    "mcp_configs",
    "mode",
    "script",
    "as_json",
    "raw",
    "user_at",
    "no_wait",
    "approve_all",
    "max_tokens",
    "db",
    "no_save",
    "backend",
    "base_url",
    "api_key_env",
    "chat_format",
    "n_threads",
    "debug",
)
def run(
    model: ModelOptions,
    tools: ToolOptions,
    session: SessionOptions,
    prompt: Annotated[
        str | None,
        typer.Argument(
            metavar="PROMPT",
            show_default=False,
            help="The user's message; - (or nothing, with a pipe) reads it from stdin.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON event per line.")] = False,
    raw: Annotated[
        bool,
        typer.Option("--raw", help="The CML stream the model's context holds, calls and results."),
    ] = False,
    user_at: Annotated[
        list[str] | None,
        typer.Option("--user-at", metavar="MS:TEXT", help="A user interrupt MS ms into the turn."),
    ] = None,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            help="End an answer at its end, with its calls still running; their results "
            "start later turns, printed as they come (the run ends after the last).",
        ),
    ] = False,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, metavar="N", help="Most tokens to write.")
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Print a failure's traceback; log everything (llama.cpp included)."
        ),
    ] = False,
) -> None:
    """Run one prompt headless and stream the answer (saved as a session):
    its text with a line per call and result, the raw CML stream or JSON.
    Each answer waits for its calls; with --no-wait it ends without them and
    the turns their results start follow."""
    from asynclm_tui.headless.run import TimedMessage, run_headless

    if raw and as_json:
        raise CliError("--raw and --json: give one of them")
    prompt = read_prompt(prompt)
    from asynclm_tui.core.decode.from_settings import build_engine, load_tools

    timed = []
    for spec in user_at or []:
        try:
            timed.append(TimedMessage.parse(spec))
        except ValueError as exc:
            raise CliError(f"--user-at: {exc}") from None
    settings = model.load_settings(tools, {"generation.max_tokens": max_tokens})
    # A script wants complete answers: each waits for every call it made,
    # whatever the chat's wait; --no-wait leaves them in the background at once.
    settings.tools.wait_at_end_s = 0.0 if no_wait else None
    hub = tools.mcp_hub(settings)
    start_logging(debug, echo=debug)
    registry = load_tools(settings)
    engine = build_engine(
        settings, registry=registry, script=tools.load_script(), interactive=False
    )
    warn_skipped_tools(engine)
    recorder = session.open_recorder(engine, source="run")
    try:
        if hub is not None:
            start_mcp(hub, engine, registry)
        code = run_headless(
            engine, prompt, as_json=as_json, raw=raw, user_at=tuple(timed), debug=debug
        )
    finally:
        if hub is not None:
            hub.close()
        if recorder is not None:
            recorder.close()
    raise typer.Exit(code)


def warn_skipped_tools(engine: EngineHandle) -> None:
    """Say on stderr which tool files were skipped and why (the chat shows
    each in a notification): the run goes on with the others."""
    from asynclm_tui.core.api.display import visible

    for problem in engine.snapshot().tool_errors:
        typer.echo(f"asynclm: tool skipped: {visible(problem)}", err=True)


def start_mcp(hub: McpHub, engine: EngineHandle, registry: ToolRegistry) -> None:
    """Start the MCP servers and wait for them (a script wants every tool it
    names), saying on stderr which did not come up."""
    from asynclm_tui.core.api.display import visible
    from asynclm_tui.core.decode.from_settings import follow_mcp_tools
    from asynclm_tui.core.tools.mcp.status import ServerState

    hub.start()
    hub.wait_settled(max(c.startup_timeout_s for c in hub.configs) + 1)
    for status in hub.statuses():
        if status.state is not ServerState.READY and status.state is not ServerState.DISABLED:
            typer.echo(f"asynclm: {visible(status.line())}", err=True)
    follow_mcp_tools(engine, hub, registry)
