"""The ``asynclm`` command line (typer).

Order of construction is always settings, then engine, then app.  Commands
that need no UI never import Textual.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from asynclm_tui import __version__
from asynclm_tui.cli_bench import bench_app
from asynclm_tui.cli_common import PlainArgsCommand, fail
from asynclm_tui.cli_options import (
    ApiKeyEnvOpt,
    BackendOpt,
    BaseUrlOpt,
    ChatFormatOpt,
    ConfigOpt,
    ContinueOpt,
    DebugOpt,
    LoraOpt,
    ModelOpt,
    ModeOpt,
    NoLoraOpt,
    NoSaveOpt,
    ScriptOpt,
    TableJsonOpt,
    ThreadsOpt,
    ToolsOpt,
    YesOpt,
    add_lora_options,
    build_settings,
    server_overrides,
    start_logging,
)
from asynclm_tui.cli_sessions import DbOpt, sessions_app
from asynclm_tui.cli_train import train_app
from asynclm_tui.headless.tables import print_table
from asynclm_tui.launch import resume_collection

app = typer.Typer(
    name="asynclm",
    help="Chat with local LLMs that keep talking while their tools run (AsyncLM).",
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: Typer's Rich help prints <bool> after every flag.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
tools_app = typer.Typer(help="List and check YAML tools.", no_args_is_help=True)
app.add_typer(tools_app, name="tools")
app.add_typer(bench_app, name="bench")
# The benches that load a model take --lora/--no-lora; bench wire compares a
# server (which applies no client adapter) with in-process decoding.
add_lora_options(bench_app, skip=("wire",))
app.add_typer(sessions_app, name="sessions")
app.add_typer(train_app, name="train")


def shipped_theme_names() -> list[str]:
    """Names of the shipped themes (their file names), for ``--theme``'s help."""
    from asynclm_tui.core.settings.paths import shipped_themes_dir

    return sorted(path.stem for path in shipped_themes_dir().glob("*.yaml"))


def read_prompt(prompt: str | None) -> str:
    """The prompt argument, or stdin for ``-`` (or no argument with a pipe)."""
    if prompt is None and sys.stdin.isatty():
        fail("give a prompt, or - to read it from stdin")
    if prompt is None or prompt == "-":
        prompt = sys.stdin.read()
    if not prompt.strip():
        fail("the prompt is empty")
    return prompt


def check_theme(theme: str | None) -> None:
    """Exit 2 with a one-line error for an unknown ``--theme`` (as ``--mode`` does)."""
    if theme is None:
        return
    from textual.theme import BUILTIN_THEMES

    from asynclm_tui.core.settings.themes import load_theme_specs
    from asynclm_tui.ui.theming import theme_dirs

    known = set(load_theme_specs(theme_dirs()).themes) | set(BUILTIN_THEMES)
    if theme not in known:
        fail(f"--theme: {theme!r} is not one of {', '.join(sorted(known))}")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"asynclm-tui {__version__}")
        raise typer.Exit()


@app.command()
def chat(
    config: ConfigOpt = None,
    model: ModelOpt = None,
    lora: LoraOpt = None,
    no_lora: NoLoraOpt = False,
    tools: ToolsOpt = None,
    mode: ModeOpt = None,
    script: ScriptOpt = None,
    theme: Annotated[
        str | None,
        typer.Option(
            "--theme",
            metavar="NAME",
            help=f"{', '.join(shipped_theme_names())}, a theme file's name or a Textual theme.",
        ),
    ] = None,
    yes: YesOpt = False,
    session: Annotated[
        int | None,
        typer.Option("--session", metavar="ID", help="Continue the saved chat with this id."),
    ] = None,
    resume: ContinueOpt = False,
    db: DbOpt = None,
    no_save: NoSaveOpt = False,
    backend: BackendOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    chat_format: ChatFormatOpt = None,
    threads: ThreadsOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Open the chat UI."""
    from asynclm_tui.runtime import build_engine, load_script, open_chat_sessions

    if session is not None and resume:
        fail("--session and --continue: give one of them")
    check_theme(theme)
    settings = build_settings(
        config,
        model,
        tools,
        mode,
        {
            "ui.theme": theme,
            "tools.approval": "always" if yes else None,
            **server_overrides(backend, base_url, api_key_env),
            "model.chat_format": chat_format,
            "model.n_threads": threads,
        },
        lora=lora,
        no_lora=no_lora,
    )
    start_logging(debug)
    engine = build_engine(settings, script=load_script(script, fail), interactive=True)
    sessions = open_chat_sessions(
        engine, db, session_id=session, latest=resume, save=not no_save, fail=fail
    )
    from asynclm_tui.ui.app import run_app

    code = run_app(settings, engine, sessions)
    raise typer.Exit(code)


VersionOpt = Annotated[
    bool,
    typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version."),
]


def main(ctx: typer.Context, version: VersionOpt = False, **chat_options: Any) -> None:
    """With no command, open the chat on the configured (or bundled) model.

    The chat's options work here too (``asynclm --model X.gguf``); they are
    :func:`chat`'s own parameters, added to this signature below.
    """
    if ctx.invoked_subcommand is None:
        chat(**chat_options)
        return
    if ctx.invoked_subcommand != "chat":  # the chat resumes it once its first frame is shown
        resume_collection()
    for param in ctx.command.params:
        if param.name in chat_options and chat_options[param.name] != param.default:
            flag = param.opts[0]
            fail(
                f"{flag}: an option of the chat, not of `asynclm {ctx.invoked_subcommand}` "
                f"(see asynclm {ctx.invoked_subcommand} --help)"
            )


_main_signature = inspect.signature(main).replace(
    parameters=[
        *list(inspect.signature(main, eval_str=True).parameters.values())[:2],
        *inspect.signature(chat, eval_str=True).parameters.values(),
    ]
)
main.__signature__ = _main_signature  # type: ignore[attr-defined]
app.callback(invoke_without_command=True)(main)


@app.command(cls=PlainArgsCommand)
def run(
    prompt: Annotated[
        str | None,
        typer.Argument(
            metavar="PROMPT",
            show_default=False,
            help="The user's message; - (or nothing, with a pipe) reads it from stdin.",
        ),
    ] = None,
    config: ConfigOpt = None,
    model: ModelOpt = None,
    lora: LoraOpt = None,
    no_lora: NoLoraOpt = False,
    tools: ToolsOpt = None,
    mode: ModeOpt = None,
    script: ScriptOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON event per line.")] = False,
    user_at: Annotated[
        list[str] | None,
        typer.Option("--user-at", metavar="MS:TEXT", help="A user interrupt MS ms into the turn."),
    ] = None,
    yes: YesOpt = False,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, metavar="N", help="Most tokens to write.")
    ] = None,
    db: DbOpt = None,
    no_save: NoSaveOpt = False,
    backend: BackendOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    chat_format: ChatFormatOpt = None,
    threads: ThreadsOpt = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Print a failure's traceback; log everything (llama.cpp included)."
        ),
    ] = False,
) -> None:
    """Run one prompt headless and stream the answer (saved as a session)."""
    from asynclm_tui.headless.run import TimedMessage, run_headless

    prompt = read_prompt(prompt)
    from asynclm_tui.runtime import build_engine, load_script, open_recorder

    timed = []
    for spec in user_at or []:
        try:
            timed.append(TimedMessage.parse(spec))
        except ValueError as exc:
            fail(f"--user-at: {exc}")
    settings = build_settings(
        config,
        model,
        tools,
        mode,
        {
            "tools.approval": "always" if yes else None,
            "generation.max_tokens": max_tokens,
            **server_overrides(backend, base_url, api_key_env),
            "model.chat_format": chat_format,
            "model.n_threads": threads,
        },
        lora=lora,
        no_lora=no_lora,
    )
    start_logging(debug, echo=debug)
    engine = build_engine(settings, script=load_script(script, fail), interactive=False)
    recorder = None if no_save else open_recorder(engine, db, source="run", fail=fail)
    try:
        code = run_headless(engine, prompt, as_json=as_json, user_at=tuple(timed), debug=debug)
    finally:
        if recorder is not None:
            recorder.close()
    raise typer.Exit(code)


@tools_app.command("list")
def tools_list(config: ConfigOpt = None, tools: ToolsOpt = None) -> None:
    """List the tools the model can call."""
    from asynclm_tui.core.tools.registry import ToolRegistry

    settings = build_settings(config, tools=tools)
    reg = ToolRegistry.load(settings.tool_paths(), settings.tools.disabled)
    for err in reg.errors:
        typer.echo(f"{err}", err=True)
    from rich.table import Table

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
def tools_check(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (default: all tool dirs).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Validate tool files; bad ones print path:line: message (exit 2)."""
    from asynclm_tui.core.settings.yaml_source import yaml_files
    from asynclm_tui.core.tools.registry import ToolRegistry

    targets = list(paths or [])
    if not targets:
        targets = build_settings(config).tool_paths()
    for path in paths or []:
        if not path.exists():
            fail(f"{path}: not found")
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


@app.command()
def doctor(
    config: ConfigOpt = None,
    model: ModelOpt = None,
    lora: LoraOpt = None,
    no_lora: NoLoraOpt = False,
    backend: BackendOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    chat_format: ChatFormatOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Show the model in use, LoRA adapter, chat template, GPU offload, threads and
    context size (or probe the server: its model, context size, and whether prefix
    caching works)."""
    from asynclm_tui.runtime import doctor_report

    settings = build_settings(
        config,
        model,
        extra={
            **server_overrides(backend, base_url, api_key_env),
            "model.chat_format": chat_format,
            "model.n_threads": threads,
        },
        lora=lora,
        no_lora=no_lora,
    )
    start_logging(False)
    code, text = doctor_report(settings)
    typer.echo(text)
    raise typer.Exit(code)


@app.command()
def soak(
    minutes: Annotated[
        float, typer.Option("--minutes", min=0.1, metavar="MIN", help="How long to run.")
    ] = 10,
    config: ConfigOpt = None,
    model: ModelOpt = None,
    lora: LoraOpt = None,
    no_lora: NoLoraOpt = False,
    as_json: TableJsonOpt = False,
) -> None:
    """Scripted turns with calls and interrupts on the real model: RSS, errors, tok/s."""
    from asynclm_tui.lab.bench.soak import run_soak

    settings = build_settings(config, model, lora=lora, no_lora=no_lora)
    raise typer.Exit(run_soak(settings, minutes, as_json=as_json))


@app.command()
def traces(
    count: Annotated[int, typer.Option("--count", metavar="N", help="Traces to write.")] = 20,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Random seed.")] = 0,
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="JSONL file to write.")] = Path(
        "traces.jsonl"
    ),
    user_interrupts: Annotated[
        float,
        typer.Option(
            "--user-interrupts", metavar="SHARE", help="Share of traces with a user interrupt."
        ),
    ] = 0.3,
) -> None:
    """Export AsyncLM fine-tuning traces (paper section 4.2) as chat JSONL."""
    from asynclm_tui.lab.bench.traces import write_traces
    from asynclm_tui.lab.tasks.bfcl_data import BenchError

    try:
        n = write_traces(out, count=count, seed=seed, user_share=user_interrupts)
    except BenchError as exc:
        fail(str(exc))
    typer.echo(f"wrote {n} traces to {out}")


def entry() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
