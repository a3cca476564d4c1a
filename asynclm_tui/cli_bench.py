"""``asynclm bench ...``: the benchmarks that print a table (and JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from asynclm_tui.cli_common import fail
from asynclm_tui.cli_options import (
    ApiKeyEnvOpt,
    BackendOpt,
    BaseUrlOpt,
    ConfigOpt,
    ModelOpt,
    TableJsonOpt,
    ThreadsOpt,
    build_settings,
    server_overrides,
    start_logging,
)
from asynclm_tui.core.settings.config import Settings

bench_app = typer.Typer(help="Benchmarks that print a table.", no_args_is_help=True)


@bench_app.command("decode")
def bench_decode(
    config: ConfigOpt = None,
    model: ModelOpt = None,
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
    as_json: TableJsonOpt = False,
) -> None:
    """Engine loop vs llama-cpp-python's streaming create_completion; with
    --lora FILE (or --compare-lora), decoding and interrupt cost with and
    without the adapter."""
    from asynclm_tui.lab.bench.decode import run_decode_bench, run_lora_bench

    settings = build_settings(config, model)
    given = isinstance(settings.model.lora, Path) and settings.overridden("model.lora")
    if compare_lora or given:
        adapter = compared_adapter(settings, "--compare-lora")
        raise typer.Exit(
            run_lora_bench(settings, adapter, tokens=tokens, rounds=rounds, as_json=as_json)
        )
    raise typer.Exit(run_decode_bench(settings, tokens=tokens, rounds=rounds, as_json=as_json))


def compared_adapter(settings: Settings, flag: str) -> Path:
    """The adapter a base-against-adapter comparison uses (--lora FILE, else
    the shipped one on the bundled model); exits when there is none."""
    from asynclm_tui.core.backends import model_path
    from asynclm_tui.core.backends.adapter import choose_adapter
    from asynclm_tui.core.backends.base import ModelLoadError

    if settings.model.backend != "llama":
        fail(f"{flag}: an adapter applies to the in-process model, not to a server")
    if settings.model.lora == "off":
        fail(f"{flag} and --no-lora: give one of them")
    try:
        choice = choose_adapter(settings, model_path(settings))
    except ModelLoadError as exc:
        fail(str(exc))
    if choice.path is None:
        fail(f"{flag}: no adapter to compare with ({choice.why}); give --lora FILE")
    if not choice.path.is_file():
        fail(f"--lora: file not found: {choice.path}")
    return choice.path


@bench_app.command("tools")
def bench_tools(
    config: ConfigOpt = None,
    model: ModelOpt = None,
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
    as_json: TableJsonOpt = False,
) -> None:
    """Does the model call the right tools? Held-out requests, base vs adapter
    (--lora FILE, else the shipped one), offline tool stand-ins."""
    from asynclm_tui.lab.bench.tools_eval import run_tools_bench
    from asynclm_tui.lab.tasks.bfcl_data import BenchError

    settings = build_settings(config, model)
    start_logging(False)
    try:
        code = run_tools_bench(
            settings, limit=limit, seed=seed, max_tokens=max_tokens, as_json=as_json
        )
    except BenchError as exc:
        fail(str(exc))
    raise typer.Exit(code)


@bench_app.command("ttft")
def bench_ttft(
    config: ConfigOpt = None,
    model: ModelOpt = None,
    rounds: Annotated[
        int, typer.Option("--rounds", min=1, metavar="N", help="Cold/warm launch pairs.")
    ] = 3,
    threads: ThreadsOpt = None,
    as_json: TableJsonOpt = False,
) -> None:
    """Time to the first token after launch: cold (system prompt evaluated) vs warm (restored)."""
    from asynclm_tui.lab.bench.ttft import run_ttft_bench

    settings = build_settings(config, model, extra={"model.n_threads": threads})
    start_logging(False)
    raise typer.Exit(run_ttft_bench(settings, rounds=rounds, as_json=as_json))


@bench_app.command("ui")
def bench_ui(
    config: ConfigOpt = None,
    model: ModelOpt = None,
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
    as_json: TableJsonOpt = False,
) -> None:
    """What the user sees while the model streams: visible updates, key-to-screen
    latency, TUI/headless tok/s and time to first token, per thread setting."""
    from asynclm_tui.lab.bench.ui_latency import run_ui_bench

    settings = build_settings(config, model)
    raise typer.Exit(
        run_ui_bench(settings, threads=threads, chars=chars, rounds=rounds, as_json=as_json)
    )


@bench_app.command("open")
def bench_open(
    config: ConfigOpt = None,
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
    as_json: TableJsonOpt = False,
) -> None:
    """Opening a saved chat: SQLite load, first paint, every turn drawn, keys meanwhile."""
    from asynclm_tui.lab.bench.open_chat import run_open_bench

    settings = build_settings(config, None)
    raise typer.Exit(
        run_open_bench(settings, turns=turns or [10, 200], rounds=rounds, as_json=as_json)
    )


@bench_app.command("screen")
def bench_screen(
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
    as_json: TableJsonOpt = False,
) -> None:
    """A streamed answer in tmux (150x42), captured every 100 ms: updates/s and gaps."""
    import os

    from asynclm_tui.lab.bench.terminal_stream import run_screen_bench

    cpus = os.cpu_count() or 1
    wanted = threads or list(dict.fromkeys([cpus, max(1, cpus - 1)]))
    raise typer.Exit(run_screen_bench(wanted, interval_s=interval, as_json=as_json))


@bench_app.command("wire")
def bench_wire(
    base_url: BaseUrlOpt = None,
    config: ConfigOpt = None,
    model: ModelOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    rounds: Annotated[
        int, typer.Option("--rounds", min=1, metavar="N", help="Alternating rounds.")
    ] = 10,
    as_json: TableJsonOpt = False,
) -> None:
    """One interrupt's cost over an OpenAI-compatible server against in-process."""
    from asynclm_tui.core.backends.base import ModelLoadError
    from asynclm_tui.lab.bench.wire_cost import run_wire_bench

    settings = build_settings(config, model, extra=server_overrides(None, base_url, api_key_env))
    if settings.model.backend != "openai":
        fail("bench wire needs --base-url URL (or backend: openai in the config)")
    try:
        code = run_wire_bench(settings, rounds=rounds, as_json=as_json)
    except ModelLoadError as exc:
        fail(str(exc))
    raise typer.Exit(code)


@bench_app.command("bfcl")
def bench_bfcl(
    config: ConfigOpt = None,
    model: ModelOpt = None,
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
    backend: BackendOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
) -> None:
    """The AsyncLM paper's BFCL latency benchmark: sync, parallel, async, naive, sync_api,
    sync_api_nocache, each against its calibrated bound; with --driver model, AST accuracy
    too (with an adapter: --limit 100 or less on parallel and parallel_multiple, whose
    later tasks trained it)."""
    from asynclm_tui.lab.bench.bfcl.command import DEFAULT_TASKS, QUICK_TASKS, BfclOptions, run_bfcl
    from asynclm_tui.lab.bench.bfcl.runner import STRATEGIES
    from asynclm_tui.lab.tasks.bfcl_data import DATASETS, BenchError

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
    try:
        opts.validate()
        settings = build_settings(
            config, model, extra=server_overrides(backend, base_url, api_key_env)
        )
        code = run_bfcl(settings, opts)
    except BenchError as exc:
        fail(str(exc))
    raise typer.Exit(code)
