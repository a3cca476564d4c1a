"""``asynclm train ...``: build the CML training set and train a LoRA adapter."""

from __future__ import annotations

import typer

train_app = typer.Typer(
    help="Teach a model CML: write the training set, train a LoRA adapter.",
    no_args_is_help=True,
)
