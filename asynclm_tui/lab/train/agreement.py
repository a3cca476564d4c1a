"""Does the exported adapter do in llama.cpp what it did in training?

Next-token logits of llama.cpp (the base Q4_1 file, with and without the
adapter) against the HF+peft model the adapter came from, on held-out
sequences.  A wrong row permutation or scale in the export shows as
llama.cpp+adapter agreeing with HF+peft no better than the bare base does.

The floor is llama.cpp's base against the HF base (the same dequantized
weights, adapter off): what llama.cpp's quantized arithmetic alone changes.
A right export sits near it; a missing q/k permutation lands far above it
(docs/lora-speed.md has the numbers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from asynclm_tui.lab.train.batching import Record

Logits = npt.NDArray[np.float32]

PAIRS = {
    "adapter_vs_peft": ("llama_adapter", "peft"),
    "base_vs_peft": ("llama_base", "peft"),
    "base_vs_hf_base": ("llama_base", "hf_base"),
    "peft_vs_hf_base": ("peft", "hf_base"),
}
"""Reported comparisons: name -> (one model, the other)."""


@contextlib.contextmanager
def llama_scorer(base: Path, lora: Path | None, n_ctx: int, *, n_threads: int) -> Iterator[Any]:
    """A llama.cpp model (the base file, with ``lora`` applied if given) that
    keeps logits for every position."""
    from asynclm_tui.core.backends.llama_cpp import model_params_hook
    from asynclm_tui.core.backends.llama_library import import_llama_cpp

    llama_cpp = import_llama_cpp()  # its load chatter goes to the log, not the terminal
    Llama = llama_cpp.Llama
    # the engine's load: AMX weight repacking off on CPUs where multi-token
    # batches segfault with it (every eval here is a multi-token batch)
    with model_params_hook(llama_cpp):
        llm: Any = Llama(
            model_path=str(base),
            lora_path=str(lora) if lora else None,
            n_ctx=n_ctx,
            n_batch=n_ctx,
            n_threads=n_threads,
            logits_all=True,
            verbose=False,
        )
    try:
        yield llm
    finally:
        llm.close()


def llama_logits(llm: Any, tokens: Sequence[int]) -> Logits:
    """llama.cpp's next-token logits at every position of ``tokens``."""
    llm.reset()
    llm.eval(list(tokens))
    return np.array(llm.scores[: len(tokens)], dtype=np.float32)


def hf_logits(model: Any, tokens: Sequence[int], *, adapter: bool = True) -> Logits:
    """The HF+peft model's next-token logits (adapter on, or off)."""
    import torch

    model.eval()
    off = contextlib.nullcontext() if adapter else model.disable_adapter()
    with torch.no_grad(), off:
        logits = model(input_ids=torch.tensor([list(tokens)], dtype=torch.long)).logits[0]
    return np.asarray(logits.float().numpy(), dtype=np.float32)


class _Tally:
    """Running top-1 agreement and mean |logit difference| of one comparison."""

    def __init__(self) -> None:
        self.hits = self.total = self.target_hits = self.targets = 0
        self.abs_diff = 0.0

    def add(self, a: Logits, b: Logits, targets: npt.NDArray[np.bool_]) -> None:
        same = a.argmax(axis=1) == b.argmax(axis=1)
        self.hits += int(same.sum())
        self.total += int(same.size)
        self.target_hits += int(same[targets].sum())
        self.targets += int(targets.sum())
        self.abs_diff += float(np.abs(a - b).mean(axis=1).sum())

    def report(self) -> dict[str, float]:
        def ratio(x: float, n: int) -> float:
            return round(x / n, 4) if n else float("nan")

        return {
            "top1": ratio(self.hits, self.total),
            "top1_targets": ratio(self.target_hits, self.targets),
            "mean_abs_logit_diff": ratio(self.abs_diff, self.total),
        }


def target_nll(logits: Logits, tokens: Sequence[int], targets: npt.NDArray[np.bool_]) -> float:
    """Summed negative log-likelihood of the trained tokens (``targets`` marks the
    positions whose logits predict one)."""
    rows = logits[targets].astype(np.float64)
    # position i predicts token i + 1; the last position predicts nothing here
    want = np.asarray([*tokens[1:], 0], dtype=np.int64)[targets]
    top = rows.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(rows - top).sum(axis=1)) + top[:, 0]
    return float((log_z - rows[np.arange(len(want)), want]).sum())


def logit_agreement(
    model: Any, base: Path, adapter: Path, records: Sequence[Record], *, n_threads: int
) -> dict[str, Any]:
    """llama.cpp (base, base+adapter) against HF (+peft, and without) on ``records``.

    ``heldout_loss``: the mean loss on the trained tokens of HF+peft and of the
    HF base.  For each comparison in :data:`PAIRS`: top-1 agreement over all positions,
    over the positions that predict a trained token (``top1_targets``: what
    the adapter was trained to change), and the mean absolute logit
    difference.  The top level repeats the two top-1 numbers the brief asks
    for: ``adapter_vs_peft`` and ``base_vs_peft``.
    """
    if not records:
        raise ValueError("no sequences to compare on")
    n_ctx = max(len(r.tokens) for r in records) + 8
    tallies = {name: _Tally() for name in PAIRS}
    nll = {"peft": 0.0, "hf_base": 0.0}
    with (
        llama_scorer(base, adapter, n_ctx, n_threads=n_threads) as with_lora,
        llama_scorer(base, None, n_ctx, n_threads=n_threads) as bare,
    ):
        for rec in records:
            # position i's logits predict token i + 1: a target at i + 1 marks position i
            targets = np.array(rec.targets()[1:] + [False], dtype=np.bool_)
            got = {
                "peft": hf_logits(model, rec.tokens),
                "hf_base": hf_logits(model, rec.tokens, adapter=False),
                "llama_adapter": llama_logits(with_lora, rec.tokens),
                "llama_base": llama_logits(bare, rec.tokens),
            }
            for name, (one, other) in PAIRS.items():
                tallies[name].add(got[one], got[other], targets)
            for name in nll:
                nll[name] += target_nll(got[name], rec.tokens, targets)
    out: dict[str, Any] = {
        "sequences": len(records),
        "positions": sum(len(r.tokens) for r in records),
        "target_positions": sum(r.n_targets() for r in records),
    }
    for name, tally in tallies.items():
        out[name] = tally.report()["top1"]
    n_targets = max(1, out["target_positions"])
    out["heldout_loss"] = {name: round(v / n_targets, 4) for name, v in nll.items()}
    out["detail"] = {name: tally.report() for name, tally in tallies.items()}
    return out
