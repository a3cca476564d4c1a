"""``asynclm train data``: the CML training set, in the engine's exact tokens.

Every example is what the engine would feed llama.cpp at run time: the
conversation rendered with the model's own chat template and the compact
system prompt (``prompt_style: compact``, what ``auto`` picks with an
adapter), then the model's pieces and the system's ``[INTR]`` blocks, each
tokenized on its own as the engine does (the model samples its tokens; an
interrupt is tokenized by itself and appended after a model token).  Only the
model-written tokens and the closing end-of-turn token enter the loss.

Where interrupts land is decided by :mod:`asynclm_tui.lab.train.simulate`.

Kinds of examples: shipped-tool requests (one or two calls), user interrupts
that switch or add a request mid-answer, prompts no tool fits (answered as the
base model answers them, so free chat stays as it was), two-turn chats, and
BFCL tasks (``parallel`` and ``parallel_multiple`` from index 100 on; the
first 100 and every other set stay out, for ``asynclm bench bfcl``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asynclm_tui.core.cml.prompt import launch_system_prompt
from asynclm_tui.core.cml.syntax import format_interrupt
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.lab.tasks.bfcl_data import HELD_OUT_TASKS, TRAINED_DATASETS
from asynclm_tui.lab.tasks.requests import CITIES, Need, RequestMaker, ToolAsk
from asynclm_tui.lab.train.simulate import IdMaker, Simulator, Tokenizer, play_tools, render_call

PROMPT_STYLE = "compact"
"""The system prompt the adapter is trained on (what ``prompt_style: auto`` picks with it)."""
MAX_TOKENS = 768
"""Longer examples are dropped (they cost training time out of proportion)."""


@dataclass
class Example:
    """One training sequence: tokens and the spans that enter the loss."""

    id: str
    kind: str
    tokens: list[int] = field(default_factory=list)
    train_spans: list[list[int]] = field(default_factory=list)
    prefix_len: int = 0
    """Leading tokens shared with every example of the same system prompt."""
    text: str = ""
    """The assistant's text as the engine stores it (model pieces and interrupts)."""
    messages: list[dict[str, str]] = field(default_factory=list)
    """The rendered conversation (system prompt, earlier turns, the user's message)."""

    def to_json(self) -> dict[str, Any]:
        """The JSONL record the trainer reads."""
        return {
            "id": self.id,
            "kind": self.kind,
            "tokens": self.tokens,
            "train_spans": self.train_spans,
            "prefix_len": self.prefix_len,
            "user": self.messages[-1]["content"] if self.messages else "",
            "text": self.text,
        }


SWITCH_LINES = [
    "Actually, make it {c}.",
    "Sorry, I meant {c}.",
    "Wait, {c} instead.",
    "No, {c} please.",
    "Oops, I meant {c}, not that.",
]


def _switch(ask: ToolAsk, rng: random.Random, maker: RequestMaker) -> tuple[str, ToolAsk] | None:
    """A user message that replaces the request's place, length or text."""
    need = ask.needs[0]
    for _ in range(20):
        other = maker.one(need.tool)
        kw = other.needs[0].kwargs
        if kw and kw != need.kwargs:
            break
    else:
        return None
    match need.tool:
        case "weather":
            what = str(kw["city"])
        case "clock":
            found = [c for c, z in CITIES.items() if z == kw.get("timezone")]
            if not found or "timezone" not in need.kwargs:
                return None
            what = found[0]
        case "sleep":
            what = f"{kw['ms']} ms"
        case "save_note":
            return f"Sorry, the note should say: {kw['text']}", other
        case _:
            return None
    return rng.choice(SWITCH_LINES).format(c=what), other


def shipped_example(
    tok: Tokenizer,
    system: str,
    reg: ToolRegistry,
    maker: RequestMaker,
    rng: random.Random,
    kind: str,
    index: int,
    distilled: dict[str, list[str]],
) -> Example | None:
    """One example with the shipped tools."""

    def estimate(need: Need) -> float:
        return reg.tools[need.tool].expected_ms((), need.kwargs)

    messages = [{"role": "system", "content": system}]
    ids = IdMaker()
    label = kind
    if kind == "two_turn":  # an earlier exchange, as the engine keeps it
        first = maker.one() if rng.random() < 0.7 else maker.pair()
        sim0 = Simulator(tok, rng)
        play_tools(sim0, first, estimate, ids)
        messages += [
            {"role": "user", "content": first.text},
            {"role": "assistant", "content": "".join(sim0.text)},
        ]
        kind = rng.choice(["single", "pair", "none"])
    sim = Simulator(tok, rng)
    match kind:
        case "none":
            text = maker.no_tool()
            answers = distilled.get(text)
            if not answers:
                return None
            user = text
            sim.write(rng.choice(answers))
            sim.end()
        case "single" | "pair":
            ask = maker.one() if kind == "single" else maker.pair()
            user = ask.text
            play_tools(sim, ask, estimate, ids)
        case "user_switch" | "user_add":
            ask = maker.one(rng.choice(["weather", "clock", "sleep", "save_note"]))
            late: list[tuple[float, ToolAsk, bool]] = []
            switched = _switch(ask, rng, maker) if kind == "user_switch" else None
            if switched is not None:
                line, new = switched
                late.append((rng.uniform(5.0, 250.0), ToolAsk(line, new.needs), True))
            else:
                extra = maker.one(rng.choice(["calc", "clock", "weather", "echo", "list_dir"]))
                lead = rng.choice(["Also, ", "And ", "Oh, and ", "One more thing: ", ""])
                line = lead + (extra.text[0].lower() + extra.text[1:] if lead else extra.text)
                late.append((rng.uniform(5.0, 400.0), ToolAsk(line, extra.needs), False))
            user = ask.text
            play_tools(sim, ask, estimate, ids, late=late)
        case _:
            raise ValueError(kind)
    messages.append({"role": "user", "content": user})
    return _assemble(tok, messages, sim, f"{label}-{index}", label)


def _assemble(
    tok: Tokenizer, messages: list[dict[str, str]], sim: Simulator, ex_id: str, kind: str
) -> Example | None:
    prompt = tok.tokenize(tok.render(messages), True)
    n = len(prompt)
    alone = tok.tokenize(tok.render(messages[:1]), True)
    shared = next(
        (k for k, (a, b) in enumerate(zip(prompt, alone, strict=False)) if a != b),
        min(len(prompt), len(alone)),
    )
    ex = Example(
        ex_id,
        kind,
        prompt + sim.tokens,
        [[a + n, b + n] for a, b in sim.merged_spans()],
        shared,
        "".join(sim.text),
        messages,
    )
    return ex if len(ex.tokens) <= MAX_TOKENS else None


def bfcl_example(
    tok: Tokenizer, task: Any, rng: random.Random, index: int, *, sync: bool = False
) -> Example | None:
    """A BFCL task played the way ``asynclm bench bfcl --driver model`` prompts it.

    ``sync``: as the sync strategy runs it, each result injected right after its
    call block (decoding waits for it), so the model learns to go on with the
    calls still to make after a result; otherwise the async engine's timing, LPT
    order on the prompt's estimates."""
    from asynclm_tui.lab.tasks.bfcl_tools import TaskTools
    from asynclm_tui.lab.tasks.latency import LatencyModel
    from asynclm_tui.lab.tasks.oracle import answer_text

    tools = TaskTools(task, LatencyModel(rng.randrange(10_000)), strict_schemas=True)
    reg = tools.registry()
    system = launch_system_prompt(reg.tools, style=PROMPT_STYLE)
    durations = tools.durations()
    sim = Simulator(tok, rng)
    sim.on_event = lambda kind, payload: format_interrupt(payload[0], payload[1])
    ids = IdMaker()
    estimates = [reg.tools[c.name].estimated_ms for c in task.calls]
    order = (
        range(len(task.calls))
        if sync
        else sorted(range(len(task.calls)), key=lambda i: -estimates[i])
    )  # LPT on what the prompt says (ties keep the asked order)
    for i in order:
        call = task.calls[i]
        cid = ids(call.name)
        sim.write(render_call(cid, call.name, call.args, dict(call.kwargs)), block=True)
        value = tools.execute(call.group, call.name, dict(call.kwargs))
        if sync:
            sim.schedule(sim.clock, "result", (cid, value))
            sim.flush()
        else:
            sim.schedule(sim.clock + durations[i], "result", (cid, value))
    while sim.pending:
        sim.trap()
    sim.write(answer_text(task))
    sim.end()
    messages = [{"role": "system", "content": system}, {"role": "user", "content": task.prompt}]
    kind = "bfcl_sync" if sync else "bfcl"
    return _assemble(tok, messages, sim, f"{kind}-{task.id}-{index}", kind)


MIX: dict[str, float] = {
    "single": 0.21, "pair": 0.25, "user_switch": 0.05, "user_add": 0.06, "none": 0.26,
    "two_turn": 0.05, "bfcl": 0.07, "bfcl_sync": 0.05,
}  # fmt: skip
"""Share of each kind of example."""


def distill(
    prompts: Sequence[str],
    backend: Any,
    seed: int,
    variants: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[str]]:
    """The base model's own answers to prompts no tool fits (its chat template,
    no tools), so the adapter keeps free chat as it was.  ``backend`` is a
    :class:`~asynclm_tui.core.backends.llama_cpp.LlamaCppBackend` with no adapter."""
    import codecs

    from asynclm_tui.core.backends.base import SamplingParams

    eos = backend.eos_tokens()
    out: dict[str, list[str]] = {}
    for done, prompt in enumerate(prompts, start=1):
        answers: list[str] = []
        for v in range(variants):
            backend.truncate(0)
            backend.append(
                backend.tokenize(
                    backend.render_chat([{"role": "user", "content": prompt}]), special=True
                )
            )
            backend.start_sampling(SamplingParams(temperature=0.6, seed=seed * 1000 + v))
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            pieces: list[str] = []
            finished = False
            for _ in range(160):
                token = backend.sample()
                if token in eos:
                    finished = True
                    break
                pieces.append(decoder.decode(backend.piece(token)))
                backend.append([token])
            text = "".join(pieces).strip()
            if not finished:  # cut at the last sentence end rather than mid-thought
                cut = max(text.rfind(". "), text.rfind(".\n"), text.rfind("! "), text.rfind("? "))
                text = text[: cut + 1] if cut > 20 else ""
            if text and "[CALL]" not in text and "[INTR]" not in text:
                answers.append(text)
        out[prompt] = answers
        if progress is not None:
            progress(done, len(prompts))
    backend.truncate(0)
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
    """The engine's chat template and tokenizer over ``backend``."""
    end = backend.tokenize("<|im_end|>", special=True)
    eos = end[0] if len(end) == 1 and end[0] in backend.eos_tokens() else min(backend.eos_tokens())
    return Tokenizer(backend.render_chat, lambda t, s: backend.tokenize(t, special=s), eos)


def shipped_registry() -> ToolRegistry:
    """The shipped tools, in the order the engine lists them."""
    from asynclm_tui.core.settings.paths import shipped_tools_dir

    return ToolRegistry.load([shipped_tools_dir()])


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

    backend, model = engine_backend(model)
    tok = engine_tokenizer(backend)
    reg = shipped_registry()
    system = launch_system_prompt(reg.tools, style=PROMPT_STYLE)
    makers = {"train": RequestMaker("train", seed), "heldout": RequestMaker("heldout", seed)}
    if distilled is None:
        from asynclm_tui.lab.tasks.requests import no_tool_prompts

        distilled = distill(
            no_tool_prompts(),
            backend,
            seed,
            progress=(lambda d, n: progress("distill", d, n)) if progress else None,
        )
    pools = {name: load_tasks(name) for name in TRAINED_DATASETS}
    bfcl_train = [t for name in TRAINED_DATASETS for t in pools[name][HELD_OUT_TASKS:]]
    bfcl_held = [t for name in TRAINED_DATASETS for t in pools[name][:HELD_OUT_TASKS]]
    out: dict[str, list[Example]] = {"train": [], "heldout": []}
    for split, n in (("train", count), ("heldout", heldout)):
        rng = random.Random(f"train-data:{split}:{seed}")
        kinds = list(MIX)
        tries = 0
        while len(out[split]) < n and tries < n * 5:
            tries += 1
            kind = rng.choices(kinds, weights=[MIX[k] for k in kinds])[0]
            index = len(out[split])
            if kind in ("bfcl", "bfcl_sync"):
                task = rng.choice(bfcl_train if split == "train" else bfcl_held)
                ex = bfcl_example(tok, task, rng, index, sync=kind == "bfcl_sync")
            else:
                ex = shipped_example(tok, system, reg, makers[split], rng, kind, index, distilled)
            if ex is not None:
                ex.id = f"{split}-{ex.id}"
                out[split].append(ex)
                if progress is not None:
                    progress(split, len(out[split]), n)
    kinds_count = {s: {k: sum(1 for e in out[s] if e.kind == k) for k in MIX} for s in out}
    manifest = {
        "seed": seed,
        "prompt_style": PROMPT_STYLE,
        "model": model.name,
        "counts": {s: len(v) for s, v in out.items()},
        "kinds": kinds_count,
        "tokens": {s: sum(len(e.tokens) for e in v) for s, v in out.items()},
        "trained_tokens": {
            s: sum(b - a for e in v for a, b in e.train_spans) for s, v in out.items()
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
