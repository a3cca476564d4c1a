"""``asynclm bench ...``, ``asynclm soak`` and ``asynclm traces``: the lab's
benchmarks (each prints a table, and JSON) and its trace export.

The lab is imported only inside a command, so the chat never loads it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from asynclm_tui.cli.errors import CliError
from asynclm_tui.cli.flatten import flatten
from asynclm_tui.cli.options import ModelOptions, OutputOptions, start_logging

if TYPE_CHECKING:
    from asynclm_tui.core.settings.config import Settings

bench_app = typer.Typer(help="Benchmarks that print a table.", no_args_is_help=True)


@bench_app.command("decode")
@flatten(
    "config", "model_path", "tokens", "rounds", "compare_lora", "table_json", "lora", "no_lora"
)
def bench_decode(
    model: ModelOptions,
    output: OutputOptions,
    tokens: Annotated[
        int, typer.Option("--tokens", min=16, metavar="N", help="Tokens per run.")
    ] = 256,
    rounds: Annotated[
        int, typer.Option("--rounds", min=1, metavar="N", help="Alternating rounds.")
    ] = 5,
    compare_lora: Annotated[
        bool,
        typer.Option(
            "--compare-lora",
            help="Base model against the adapter (--lora FILE, else the shipped one) instead.",
        ),
    ] = False,
) -> None:
    """Engine loop vs llama-cpp-python's streaming create_completion; with
    --lora FILE (or --compare-lora), decoding and interrupt cost with and
    without the adapter."""
    from asynclm_tui.lab.bench.decode import run_decode_bench, run_lora_bench

    settings = model.load_settings()
    as_json = output.table_json
    given = isinstance(settings.model.lora, Path) and settings.overridden("model.lora")
    if compare_lora or given:
        adapter = compared_adapter(settings, "--compare-lora")
        raise typer.Exit(
            run_lora_bench(settings, adapter, tokens=tokens, rounds=rounds, as_json=as_json)
        )
    raise typer.Exit(run_decode_bench(settings, tokens=tokens, rounds=rounds, as_json=as_json))


def compared_adapter(settings: Settings, flag: str) -> Path:
    """The adapter a base-against-adapter comparison uses (--lora FILE, else
    the shipped one on the bundled model); raises CliError when there is none."""
    from asynclm_tui.core.backends import model_path
    from asynclm_tui.core.backends.adapter import choose_adapter

    if settings.model.backend != "llama":
        raise CliError(f"{flag}: an adapter applies to the in-process model, not to a server")
    if settings.model.lora == "off":
        raise CliError(f"{flag} and --no-lora: give one of them")
    choice = choose_adapter(settings, model_path(settings))  # ModelLoadError: reported
    if choice.path is None:
        raise CliError(f"{flag}: no adapter to compare with ({choice.why}); give --lora FILE")
    if not choice.path.is_file():
        raise CliError(f"--lora: file not found: {choice.path}")
    return choice.path


@bench_app.command("tools")
@flatten("config", "model_path", "limit", "seed", "max_tokens", "table_json", "lora", "no_lora")
def bench_tools(
    model: ModelOptions,
    output: OutputOptions,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            metavar="N",
            help="Run the first N held-out requests (kinds taken in turn; default all).",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", min=0, metavar="N", help="Request draw; sampling seed N+1.")
    ] = 0,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=16, metavar="N", help="Most tokens per answer.")
    ] = 256,
) -> None:
    """Does the model call the right tools? Held-out requests, base vs adapter
    (--lora FILE, else the shipped one), offline tool stand-ins."""
    from asynclm_tui.lab.bench.tools_eval import run_tools_bench

    settings = model.load_settings()
    start_logging(False)
    raise typer.Exit(
        run_tools_bench(
            settings, limit=limit, seed=seed, max_tokens=max_tokens, as_json=output.table_json
        )
    )


@bench_app.command("ttft")
@flatten("config", "model_path", "rounds", "n_threads", "table_json", "lora", "no_lora")
def bench_ttft(
    model: ModelOptions,
    output: OutputOptions,
    rounds: Annotated[
        int, typer.Option("--rounds", min=1, metavar="N", help="Cold/warm launch pairs.")
    ] = 3,
) -> None:
    """Time to the first token after launch: cold (system prompt evaluated) vs warm (restored)."""
    from asynclm_tui.lab.bench.ttft import run_ttft_bench

    settings = model.load_settings()
    start_logging(False)
    raise typer.Exit(run_ttft_bench(settings, rounds=rounds, as_json=output.table_json))


@bench_app.command("mcp")
@flatten("config", "model_path", "rounds", "round_trips", "table_json", "lora", "no_lora")
def bench_mcp(
    model: ModelOptions,
    output: OutputOptions,
    rounds: Annotated[
        int, typer.Option("--rounds", min=1, metavar="N", help="Answers per strategy.")
    ] = 5,
    round_trips: Annotated[
        int,
        typer.Option("--round-trips", min=10, metavar="N", help="No-op calls per transport."),
    ] = 200,
) -> None:
    """A scripted answer calling three tools of a local MCP server (0.5-3 s each):
    async vs sync vs parallel wall time; and a no-op MCP call's round trip over
    stdio and HTTP against an in-process Python tool."""
    from asynclm_tui.lab.bench.mcp import run_mcp_bench

    settings = model.load_settings()
    start_logging(False)
    raise typer.Exit(
        run_mcp_bench(settings, rounds=rounds, round_trips=round_trips, as_json=output.table_json)
    )


@bench_app.command("contention")
@flatten(
    "config",
    "model_path",
    "options",
    "seconds",
    "rounds",
    "tool_seconds",
    "load_jobs",
    "table_json",
    "lora",
    "no_lora",
)
def bench_contention(
    model: ModelOptions,
    output: OutputOptions,
    options: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            metavar="SPEC",
            help="default | fixed | passive | spin:N | threads:N (repeatable; "
            "default: all of default, fixed, passive, spin:10000, threads:1).",
        ),
    ] = None,
    seconds: Annotated[
        float, typer.Option("--seconds", min=1, metavar="S", help="Length of a measured window.")
    ] = 6.0,
    rounds: Annotated[
        int, typer.Option("--rounds", min=1, metavar="N", help="Rounds of every scenario.")
    ] = 2,
    tool_seconds: Annotated[
        float,
        typer.Option("--tool-seconds", min=0.5, metavar="S", help="A CPU-bound tool's run time."),
    ] = 3.0,
    load_jobs: Annotated[
        int | None,
        typer.Option(
            "--load-jobs", min=1, metavar="N", help="Busy processes (default: physical cores)."
        ),
    ] = None,
) -> None:
    """Decoding beside other work: solo, two processes, a CPU-bound tool, a busy
    machine; tok/s and the ratio to solo for each thread and OpenMP option."""
    from asynclm_tui.lab.bench.contention import DEFAULT_OPTIONS, run_contention_bench

    settings = model.load_settings()
    start_logging(False)
    raise typer.Exit(
        run_contention_bench(
            settings,
            options=tuple(options) if options else DEFAULT_OPTIONS,
            seconds=seconds,
            rounds=rounds,
            tool_seconds=tool_seconds,
            load_jobs=load_jobs,
            as_json=output.table_json,
        )
    )


@bench_app.command("ui")
@flatten("config", "model_path", "threads", "chars", "rounds", "table_json", "lora", "no_lora")
def bench_ui(
    model: ModelOptions,
    output: OutputOptions,
    threads: Annotated[
        list[int] | None,
        typer.Option(
            "--threads",
            min=1,
            metavar="N",
            help="llama.cpp threads to measure with (repeatable; "
            "default: the configured count, every core, and one core fewer).",
        ),
    ] = None,
    chars: Annotated[
        int,
        typer.Option("--chars", min=200, metavar="N", help="Characters of forced text per turn."),
    ] = 4000,
    rounds: Annotated[
        int,
        typer.Option(
            "--rounds", min=1, metavar="N", help="Measured rounds (a watching and a typing turn)."
        ),
    ] = 3,
) -> None:
    """What the user sees while the model streams: visible updates, key-to-screen
    latency, TUI/headless tok/s and time to first token, per thread setting."""
    from asynclm_tui.lab.bench.ui_latency import run_ui_bench

    settings = model.load_settings()
    raise typer.Exit(
        run_ui_bench(
            settings, threads=threads, chars=chars, rounds=rounds, as_json=output.table_json
        )
    )


@bench_app.command("open")
@flatten("config", "turns", "rounds", "table_json")
def bench_open(
    model: ModelOptions,
    output: OutputOptions,
    turns: Annotated[
        list[int] | None,
        typer.Option(
            "--turns",
            min=1,
            metavar="N",
            help="Turns of the saved chat (repeatable; default: 10 and 200).",
        ),
    ] = None,
    rounds: Annotated[
        int, typer.Option("--rounds", min=1, metavar="N", help="Openings per chat size.")
    ] = 3,
) -> None:
    """Opening a saved chat: SQLite load, first paint, every turn drawn, keys meanwhile."""
    from asynclm_tui.lab.bench.open_chat import run_open_bench

    settings = model.load_settings()
    raise typer.Exit(
        run_open_bench(settings, turns=turns or [10, 200], rounds=rounds, as_json=output.table_json)
    )


@bench_app.command("screen")
@flatten("threads", "interval", "table_json")
def bench_screen(
    output: OutputOptions,
    threads: Annotated[
        list[int] | None,
        typer.Option(
            "--threads",
            min=1,
            metavar="N",
            help="llama.cpp threads (repeatable; default: every core, then one fewer).",
        ),
    ] = None,
    interval: Annotated[
        float,
        typer.Option("--interval", min=0.02, metavar="S", help="Seconds between two captures."),
    ] = 0.1,
) -> None:
    """A streamed answer in tmux (150x42), captured every 100 ms: updates/s and gaps."""
    import os

    from asynclm_tui.lab.bench.terminal_stream import run_screen_bench

    cpus = os.cpu_count() or 1
    wanted = threads or list(dict.fromkeys([cpus, max(1, cpus - 1)]))
    raise typer.Exit(run_screen_bench(wanted, interval_s=interval, as_json=output.table_json))


@bench_app.command("wire")
@flatten("base_url", "config", "model_path", "api_key_env", "rounds", "table_json")
def bench_wire(
    model: ModelOptions,
    output: OutputOptions,
    rounds: Annotated[
        int, typer.Option("--rounds", min=1, metavar="N", help="Alternating rounds.")
    ] = 10,
) -> None:
    """One interrupt's cost over an OpenAI-compatible server against in-process."""
    from asynclm_tui.lab.bench.wire_cost import run_wire_bench

    settings = model.load_settings()
    if settings.model.backend != "openai":
        raise CliError("bench wire needs --base-url URL (or backend: openai in the config)")
    raise typer.Exit(run_wire_bench(settings, rounds=rounds, as_json=output.table_json))


@bench_app.command("bfcl")
@flatten(
    "config",
    "model_path",
    "dataset",
    "limit",
    "quick",
    "seed",
    "strategy",
    "driver",
    "json_path",
    "plot",
    "lpt_ablation",
    "compare_lora",
    "backend",
    "base_url",
    "api_key_env",
    "lora",
    "no_lora",
)
def bench_bfcl(
    model: ModelOptions,
    dataset: Annotated[
        list[str] | None,
        typer.Option("--dataset", "-d", metavar="NAME", help="Dataset (repeatable; default all)."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", metavar="N", help="Tasks per dataset (default 30; --quick 2)."),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Regression preset: every strategy on every set, 2 tasks "
            "each, a shorter calibration (under 10 minutes on 2 cores).",
        ),
    ] = False,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Latency and scenario seed.")
    ] = 0,
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            "--strategy", "-s", metavar="NAME", help="Strategy (repeatable; default all)."
        ),
    ] = None,
    driver: Annotated[
        str, typer.Option("--driver", metavar="[replay|model]", help="replay (oracle) or model.")
    ] = "replay",
    json_path: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write results JSON.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", metavar="FILE", help="Write a PNG plot.")
    ] = None,
    lpt_ablation: Annotated[
        bool, typer.Option("--lpt-ablation", help="Also run async with random issue order.")
    ] = False,
    compare_lora: Annotated[
        bool,
        typer.Option(
            "--compare-lora",
            help="Every task on the base model and with the adapter (--lora FILE, else the "
            "shipped one), in one table.",
        ),
    ] = False,
) -> None:
    """The AsyncLM paper's BFCL latency benchmark: sync, parallel, async, naive, sync_api,
    sync_api_nocache, each against its calibrated bound; with --driver model, AST accuracy
    too (with an adapter: --limit 100 or less on parallel and parallel_multiple, whose
    later tasks trained it)."""
    from asynclm_tui.lab.bench.bfcl.command import DEFAULT_TASKS, QUICK_TASKS, BfclOptions, run_bfcl
    from asynclm_tui.lab.bench.bfcl.runner import STRATEGIES
    from asynclm_tui.lab.tasks.bfcl_data import DATASETS

    opts = BfclOptions(
        datasets=list(dataset or DATASETS),
        strategies=list(strategy or STRATEGIES),
        limit=limit if limit is not None else QUICK_TASKS if quick else DEFAULT_TASKS,
        quick=quick,
        seed=seed,
        driver=driver,
        json_path=json_path,
        plot_path=plot,
        lpt_ablation=lpt_ablation,
        compare_lora=compare_lora,
    )
    opts.validate()
    raise typer.Exit(run_bfcl(model.load_settings(), opts))


@flatten("minutes", "config", "model_path", "lora", "no_lora", "table_json")
def soak(
    model: ModelOptions,
    output: OutputOptions,
    minutes: Annotated[
        float, typer.Option("--minutes", min=0.1, metavar="MIN", help="How long to run.")
    ] = 10,
) -> None:
    """Scripted turns with calls and interrupts on the real model: RSS, errors, tok/s."""
    from asynclm_tui.lab.bench.soak import run_soak

    settings = model.load_settings()
    raise typer.Exit(run_soak(settings, minutes, as_json=output.table_json))


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

    n = write_traces(out, count=count, seed=seed, user_share=user_interrupts)
    typer.echo(f"wrote {n} traces to {out}")
