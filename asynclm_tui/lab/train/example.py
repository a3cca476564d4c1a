"""One training example, and what every generator of examples is given.

An example is what the engine would feed llama.cpp at run time: the
conversation rendered with the model's own chat template and the compact
system prompt of its tools, then the model's pieces and the system's
``[INTR]`` blocks, each tokenized on its own as the engine does (the model
samples its tokens; an interrupt is tokenized by itself and appended after a
model token).  Only the model-written tokens and the closing end-of-turn
token enter the loss.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asynclm_tui.lab.tasks.bfcl_data import Task
from asynclm_tui.lab.tasks.bfcl_docs import DocTask
from asynclm_tui.lab.tasks.requests import Need
from asynclm_tui.lab.tasks.toolsets import Toolset, ToolsetMaker
from asynclm_tui.lab.train.play import Answer, play
from asynclm_tui.lab.train.simulate import IdMaker, Simulator, Tokenizer

MAX_TOKENS = 1024
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


@dataclass
class Context:
    """What a generator draws from: one split's tools, requests and answers."""

    tok: Tokenizer
    split: str
    rng: random.Random
    tools: ToolsetMaker
    bank: list[Toolset]
    """The toolsets examples draw from (few, so batches share system prompts)."""
    distilled: Mapping[str, Sequence[str]]
    """The base model's own answers to prompts that need no tool."""
    bfcl: list[Task] = field(default_factory=list)
    """BFCL ``parallel`` / ``parallel_multiple`` tasks of this split."""
    docs: list[DocTask] = field(default_factory=list)
    """BFCL function documents with a question and its call."""
    irrelevant: list[DocTask] = field(default_factory=list)
    """BFCL questions no offered function fits."""

    def toolset(self) -> Toolset:
        """One of the bank's toolsets."""
        return self.rng.choice(self.bank)

    def answer_to(self, prompt: str) -> str | None:
        """One of the base model's answers to ``prompt`` (None: none kept)."""
        answers = self.distilled.get(prompt)
        return self.rng.choice(list(answers)) if answers else None


def estimator(toolset: Toolset) -> Any:
    """A call's declared estimate in ``toolset`` (what LPT orders by)."""
    reg = toolset.registry()

    def estimate(need: Need) -> float:
        spec = reg.tools.get(need.tool)
        return spec.expected_ms((), need.kwargs) if spec is not None else 100.0

    return estimate


def played(ctx: Context, toolset: Toolset, answer: Answer, ids: IdMaker | None = None) -> Simulator:
    """``answer`` written on a fresh simulated clock."""
    sim = Simulator(ctx.tok, ctx.rng)
    play(sim, answer, estimator(toolset), ids or IdMaker())
    return sim


def assemble(
    tok: Tokenizer, messages: list[dict[str, str]], sim: Simulator, ex_id: str, kind: str
) -> Example | None:
    """The example's tokens: the rendered prompt, then the answer as played;
    None when it is longer than :data:`MAX_TOKENS`."""
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


def example(
    ctx: Context,
    toolset: Toolset,
    user: str,
    answer: Answer,
    kind: str,
    index: int,
    *,
    history: Sequence[dict[str, str]] = (),
    ids: IdMaker | None = None,
) -> Example | None:
    """A one-turn example (after ``history``) with ``toolset``'s system prompt."""
    sim = played(ctx, toolset, answer, ids)
    messages = [
        {"role": "system", "content": toolset.system()},
        *history,
        {"role": "user", "content": user},
    ]
    return assemble(ctx.tok, messages, sim, f"{kind}-{index}", kind)
