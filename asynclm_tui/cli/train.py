"""``asynclm train ...``: build the CML training set and train a LoRA adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from asynclm_tui.cli.errors import CliError
from asynclm_tui.cli.plain_help import PlainArgsCommand

train_app = typer.Typer(
    help="Teach a model CML: write the training set, train a LoRA adapter.",
    no_args_is_help=True,
)


@train_app.command("run", cls=PlainArgsCommand)
def train_run(
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA",
            help="Training-set folder: train.jsonl, heldout.jsonl, manifest.json.",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="ADAPTER.gguf", help="Adapter file to write.")
    ],
    rank: Annotated[
        int, typer.Option("--rank", min=1, max=256, metavar="N", help="LoRA rank.")
    ] = 8,
    alpha: Annotated[
        float | None,
        typer.Option("--alpha", min=0.0, metavar="X", help="LoRA alpha (default: 2 x rank)."),
    ] = None,
    targets: Annotated[
        str,
        typer.Option(
            "--targets",
            metavar="LIST",
            help="Projections to adapt, comma-separated: q,k,v,o,gate,up,down or all.",
        ),
    ] = "q,v,o,down",
    dropout: Annotated[
        float, typer.Option("--dropout", min=0.0, max=0.9, metavar="P", help="LoRA dropout.")
    ] = 0.05,
    lr: Annotated[
        float, typer.Option("--lr", min=0.0, metavar="X", help="Peak learning rate (AdamW).")
    ] = 3e-4,
    epochs: Annotated[int, typer.Option("--epochs", min=1, metavar="N", help="Epochs.")] = 1,
    seq_len: Annotated[
        int,
        typer.Option("--seq-len", min=16, metavar="N", help="Longer records are cut to N tokens."),
    ] = 1024,
    batch_tokens: Annotated[
        int,
        typer.Option(
            "--batch-tokens",
            min=16,
            metavar="N",
            help="Positions computed per step (a shared system prompt counts once).",
        ),
    ] = 2048,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, metavar="N", help="Use only the first N records."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Random seed.")] = 0,
    threads: Annotated[
        int | None,
        typer.Option("--threads", min=1, metavar="N", help="torch threads (default: cores)."),
    ] = None,
    log_every: Annotated[
        int, typer.Option("--log-every", min=1, metavar="N", help="A log line every N steps.")
    ] = 10,
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            metavar="[auto|bf16|fp32]",
            help="Matmul precision (auto: bf16 where the CPU has bf16 units).",
        ),
    ] = "auto",
    share_prefix: Annotated[
        bool,
        typer.Option(
            "--share-prefix/--no-share-prefix",
            help="Run a system prompt once per step for all its rows (same loss, faster).",
        ),
    ] = True,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check", help="Compare llama.cpp+adapter with HF+peft after export."
        ),
    ] = True,
) -> None:
    """Train a LoRA adapter for the bundled model on DATA and write it as GGUF."""
    import importlib.util

    if any(importlib.util.find_spec(m) is None for m in ("torch", "transformers", "peft")):
        raise CliError("the train extra is not installed: pip install 'asynclm-tui[train]'")
    if not data.is_dir():
        raise CliError(f"{data}: no such folder")
    if not (data / "train.jsonl").is_file():
        raise CliError(f"{data / 'train.jsonl'}: not found")
    from asynclm_tui.lab.train.lora import TrainConfig, parse_targets, train

    cfg = TrainConfig(
        data=data,
        out=out,
        rank=rank,
        alpha=float(2 * rank) if alpha is None else alpha,
        dropout=dropout,
        targets=parse_targets(targets),
        lr=lr,
        epochs=epochs,
        seq_len=seq_len,
        batch_tokens=batch_tokens,
        limit=limit,
        seed=seed,
        threads=threads,
        log_every=log_every,
        check=check,
        precision=precision,
        share_prefix=share_prefix,
    )
    log = train(cfg)
    typer.echo(
        f"wrote {out} ({log['adapter_bytes'] / 1e6:.1f} MB): {log['steps']} steps, "
        f"{log['tokens_seen']} tokens in {log['wall_s'] / 60:.1f} min "
        f"({log['tokens_per_s']:.0f} tok/s), final loss {log['final_loss']:.4f}"
    )


@train_app.command("data", cls=PlainArgsCommand)
def train_data(
    out: Annotated[
        Path, typer.Argument(help="Folder for train.jsonl, heldout.jsonl, manifest.json.")
    ],
    count: Annotated[
        int, typer.Option("--count", min=1, metavar="N", help="Training examples.")
    ] = 3000,
    heldout: Annotated[
        int, typer.Option("--heldout", min=1, metavar="N", help="Held-out examples.")
    ] = 80,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Seed of every draw.")] = 0,
) -> None:
    """Write the CML training set in the engine's exact tokens (bundled model)."""
    from asynclm_tui.lab.train.data import build, write

    def progress(stage: str, done: int, total: int) -> None:
        if done == total or done % (10 if stage == "distill" else 500) == 0:
            typer.echo(f"{stage}: {done}/{total}", err=True)

    try:
        data = build(count, seed=seed, heldout=heldout, progress=progress)
        write(out, data)
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None
    m = data.manifest
    typer.echo(
        f"wrote {m['counts']['train']} training and {m['counts']['heldout']} held-out examples"
        f" ({m['tokens']['train']:,} tokens, {m['trained_tokens']['train']:,} in the loss) to {out}"
    )
