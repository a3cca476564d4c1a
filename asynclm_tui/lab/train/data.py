"""``asynclm train data``: the CML training set, in the engine's exact tokens.

Every example is what the engine would feed llama.cpp at run time (see
:mod:`asynclm_tui.lab.train.example`): the conversation rendered with the
model's own chat template and the compact system prompt of the example's
tools, then the model's pieces and the system's ``[INTR]`` blocks.  Where
interrupts land is decided by :mod:`asynclm_tui.lab.train.simulate`; what the
answer says by :mod:`asynclm_tui.lab.train.play`.

Most examples offer tools the model has never seen (written from the kinds
in ``lab/tasks/kinds_*`` and from BFCL's function documents), a random few
per prompt, sometimes beside the shipped ones; each behaviour is one
generator (:mod:`asynclm_tui.lab.train.mix`).  The held-out split uses other
kinds, phrasings, content prompts and BFCL entries, none of which trains.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.lab.tasks.bfcl_data import HELD_OUT_TASKS, TRAINED_DATASETS
from asynclm_tui.lab.tasks.toolsets import PROMPT_STYLE, ToolsetMaker
from asynclm_tui.lab.train.example import MAX_TOKENS, Context, Example
from asynclm_tui.lab.train.mix import GENERATORS, MIX
from asynclm_tui.lab.train.simulate import Tokenizer

__all__ = ["MAX_TOKENS", "MIX", "PROMPT_STYLE", "Example", "TrainingSet", "build", "write"]

BANK = {"train": 160, "heldout": 24}
"""Tool lists per split: each example takes one, so examples share system
prompts (and the trainer runs a shared prompt once per batch)."""
HELD_OUT_DOCS = 10
"""Every tenth BFCL function-document entry is held out."""
IRRELEVANT_STEP = 16
"""Every sixteenth BFCL question that no function fits is answered (distilled)."""
NO_TOOL_STEP = 4
"""Greetings and the first no-tool prompts are all answered, every fourth of the rest:
the base model's answers cost seconds each on a shared 2-core CPU."""


def distill_prompts() -> dict[str, tuple[int, int]]:
    """Every prompt whose base-model answer the set needs: prompt ->
    (answers, most tokens each).  Prompts outside it are not drawn (a generator
    that finds no answer draws again)."""
    from asynclm_tui.lab.tasks.bfcl_docs import doc_tasks
    from asynclm_tui.lab.tasks.requests import GREETINGS, NO_TOOL_PROMPTS, no_tool_prompts
    from asynclm_tui.lab.tasks.steering import content_prompts
    from asynclm_tui.lab.tasks.toolsets import TRAIN_KINDS

    out: dict[str, tuple[int, int]] = {p: (2, 224) for p in content_prompts()}
    first = [*GREETINGS, *NO_TOOL_PROMPTS]
    rest = [p for p in no_tool_prompts() if p not in set(first)]
    for prompt in [*first, *rest[::NO_TOOL_STEP]]:
        out.setdefault(prompt, (1, 160))
    for kind in TRAIN_KINDS:
        out.update({t: (1, 160) for t in kind.topics[:1] if t not in out})
    for task in doc_tasks("none")[::IRRELEVANT_STEP]:
        out.setdefault(task.question, (1, 160))
    return out


def distill_all(
    backend: Any, model: Path, seed: int, progress: Callable[[str, int, int], None] | None
) -> dict[str, list[str]]:
    """The base model's answers to :func:`distill_prompts` (cached per model)."""
    from asynclm_tui.lab.train.distill import cache_file, distill

    groups: dict[tuple[int, int], list[str]] = {}
    for prompt, shape in distill_prompts().items():
        groups.setdefault(shape, []).append(prompt)
    total = sum(len(v) for v in groups.values())
    done = 0
    out: dict[str, list[str]] = {}
    for (variants, max_tokens), prompts in groups.items():
        base = done

        def step(d: int, _n: int, base: int = base) -> None:
            if progress is not None:
                progress("distill", base + d, total)

        out.update(
            distill(
                prompts,
                backend,
                seed,
                variants,
                step,
                max_tokens=max_tokens,
                cache=cache_file(model),
            )
        )
        done += len(prompts)
    return out


@dataclass
class TrainingSet:
    """What :func:`build` made, for the manifest and the CLI's summary."""

    train: list[Example]
    heldout: list[Example]
    manifest: dict[str, Any]


def engine_backend(model: Path | None = None) -> tuple[Any, Path]:
    """The bundled (or given) model with no adapter, loaded as the engine loads it."""
    from asynclm_tui.core.backends import load_llama, model_path
    from asynclm_tui.core.settings.config import Settings

    settings = Settings()
    settings.model.lora = "off"  # the base model's tokens and answers
    if model is not None:
        settings.model.path = model
    return load_llama(settings), model_path(settings)


def engine_tokenizer(backend: Any) -> Tokenizer:
    """The engine's chat template, tokenizer and detokenizer over ``backend``."""
    end = backend.tokenize("<|im_end|>", special=True)
    eos = end[0] if len(end) == 1 and end[0] in backend.eos_tokens() else min(backend.eos_tokens())

    def detokenize(ids: Any) -> str:
        return b"".join(backend.piece(t) for t in ids).decode("utf-8", errors="replace")

    return Tokenizer(
        backend.render_chat, lambda t, s: backend.tokenize(t, special=s), eos, detokenize
    )


def shipped_registry() -> ToolRegistry:
    """The shipped tools, in the order the engine lists them."""
    from asynclm_tui.lab.tasks.toolsets import shipped_registry as shipped

    return shipped()


def build(
    count: int,
    *,
    seed: int = 0,
    heldout: int = 80,
    model: Path | None = None,
    distilled: dict[str, list[str]] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> TrainingSet:
    """``count`` training examples and ``heldout`` held-out ones, reproducible from ``seed``."""
    from asynclm_tui.lab.tasks.bfcl_data import load_tasks
    from asynclm_tui.lab.tasks.bfcl_docs import doc_tasks

    backend, model = engine_backend(model)
    tok = engine_tokenizer(backend)
    if distilled is None:
        distilled = distill_all(backend, model, seed, progress)
    pools = {name: load_tasks(name) for name in TRAINED_DATASETS}
    bfcl = {
        "train": [t for name in TRAINED_DATASETS for t in pools[name][HELD_OUT_TASKS:]],
        "heldout": [t for name in TRAINED_DATASETS for t in pools[name][:HELD_OUT_TASKS]],
    }
    docs, irrelevant = doc_tasks("call"), doc_tasks("none")

    def part(items: tuple[Any, ...], split: str) -> list[Any]:
        held = split == "heldout"
        return [t for i, t in enumerate(items) if (i % HELD_OUT_DOCS == 0) == held]

    out: dict[str, list[Example]] = {"train": [], "heldout": []}
    for split, n in (("train", count), ("heldout", heldout)):
        rng = random.Random(f"train-data:{split}:{seed}")
        tools = ToolsetMaker(split, seed)
        ctx = Context(
            tok,
            split,
            rng,
            tools,
            [tools.random_toolset() for _ in range(BANK[split])],
            distilled,
            bfcl[split],
            part(docs, split),
            part(irrelevant, split),
        )
        kinds = list(MIX)
        tries = 0
        while len(out[split]) < n and tries < n * 8:
            tries += 1
            kind = rng.choices(kinds, weights=[MIX[k] for k in kinds])[0]
            ex = GENERATORS[kind](ctx, len(out[split]))
            if ex is not None:
                ex.id = f"{split}-{ex.id}"
                out[split].append(ex)
                if progress is not None:
                    progress(split, len(out[split]), n)
    manifest = {
        "seed": seed,
        "prompt_style": PROMPT_STYLE,
        "model": model.name,
        "counts": {s: len(v) for s, v in out.items()},
        "kinds": {s: {k: sum(1 for e in out[s] if e.kind == k) for k in MIX} for s in out},
        "tokens": {s: sum(len(e.tokens) for e in v) for s, v in out.items()},
        "trained_tokens": {
            s: sum(b - a for e in v for a, b in e.train_spans) for s, v in out.items()
        },
        "system_prompts": {
            s: len({tuple(e.tokens[: e.prefix_len]) for e in v}) for s, v in out.items()
        },
        "bfcl": {"sets": list(TRAINED_DATASETS), "held_out_first": HELD_OUT_TASKS},
        "max_tokens": MAX_TOKENS,
    }
    return TrainingSet(out["train"], out["heldout"], manifest)


def write(path: Path, data: TrainingSet) -> None:
    """``train.jsonl``, ``heldout.jsonl`` and ``manifest.json`` under ``path``.

    Raises:
        OSError: the folder cannot be written.
    """
    path.mkdir(parents=True, exist_ok=True)
    for name, examples in (("train", data.train), ("heldout", data.heldout)):
        with (path / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            for ex in examples:
                fh.write(json.dumps(ex.to_json(), ensure_ascii=False) + "\n")
    (path / "manifest.json").write_text(
        json.dumps(data.manifest, indent=2) + "\n", encoding="utf-8"
    )
