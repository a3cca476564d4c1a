"""Generators: requests for tools, and prompts that need none.

- ``single``: one request for one tool of a random tool list (shipped, new or
  both), decided by the tool's description;
- ``multi``: two or three requests in one message, each its one call (longest
  estimated first), sometimes the same tool twice with different arguments;
- ``failed``: one call that fails, is declined or times out, said as such;
- ``doc``: a BFCL question beside its documented functions;
- ``none``: a prompt no tool of the list fits (thanks, opinions, knowledge,
  writing, how a tool's subject works), answered as the base model answers it;
- ``none_doc``: a BFCL question that none of its offered functions fits.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from asynclm_tui.lab.tasks.bfcl_docs import doc_ask
from asynclm_tui.lab.tasks.kinds_world import BROAD
from asynclm_tui.lab.tasks.requests import MULTI_OPENERS, OPENERS, PAIR_JOINERS, ToolAsk
from asynclm_tui.lab.tasks.toolsets import (
    SHIPPED_NAMES,
    Offer,
    Toolset,
    allows_no_tool,
    with_doc_tools,
)
from asynclm_tui.lab.train.example import Context, Example, example
from asynclm_tui.lab.train.play import Answer
from asynclm_tui.lab.train.simulate import DENIED, FAILURES, TIMEOUT_S

TRIPLE_JOINERS = (
    "{a} {b} {c}", "{a} Also, {b} And {c}", "{a0}, {b0}, and {c}", "{a} Then {b} And also {c}",
    "Three things: {a} {b} {c}", "{a} Plus, {b} Oh, and {c}",
)  # fmt: skip
"""``{a0}`` and ``{b0}``: the request without its final mark."""


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def join_requests(texts: Sequence[str], rng: random.Random) -> str:
    """Two or three requests written as one message."""
    texts = [t if t.rstrip()[-1:] in ".?!" else t.rstrip() + "." for t in texts]
    bare = [t.rstrip("?.! ") for t in texts]
    if len(texts) == 2:
        joiner = rng.choice(PAIR_JOINERS)
        lower = "{a} {b}" not in joiner or rng.random() < 0.3
        b = _lower(texts[1]) if lower else texts[1]
        return joiner.format(a=texts[0], a0=bare[0], b=b)
    joiner = rng.choice(TRIPLE_JOINERS)
    b = texts[1] if "{a} {b}" in joiner else _lower(texts[1])
    c = texts[2] if "{b} {c}" in joiner else _lower(texts[2])
    return joiner.format(a=texts[0], a0=bare[0], b=b, b0=_lower(bare[1]), c=c)


def pick_target(ctx: Context, toolset: Toolset) -> str:
    """A tool to ask for: a new one more often than a shipped one."""
    new = [o.name for o in toolset.offers if o.tool is not None]
    if new and (not toolset.shipped or ctx.rng.random() < 0.7):
        return ctx.rng.choice(new)
    return ctx.rng.choice(list(toolset.shipped))


Turn = tuple[str, Answer]
"""A user message and the answer to play for it."""


def single_turn(ctx: Context, toolset: Toolset) -> Turn | None:
    """One request, its one call, the answer built on the result."""
    ask = ctx.tools.ask(toolset, pick_target(ctx, toolset))
    opener = ask.opener if ask.needs[0].tool in SHIPPED_NAMES else ctx.rng.choice(OPENERS)
    return ask.text, Answer(ask.needs, opener)


def single(ctx: Context, index: int) -> Example | None:
    """Generator: :func:`single_turn` with a toolset of the bank."""
    return _one(ctx, index, "single", single_turn)


def distinct_asks(ctx: Context, toolset: Toolset, n: int) -> list[ToolAsk] | None:
    """``n`` requests for tools of ``toolset``: different tools, or (a fifth
    of the time) one tool twice with different arguments; never the same call twice."""
    names = ctx.tools.askable(toolset)
    rng = ctx.rng
    if rng.random() < 0.2 and names:
        tool = rng.choice(names)
        others = [t for t in names if t != tool]
        if len(others) < n - 2:
            return None
        targets = [tool, tool, *rng.sample(others, n - 2)]
    elif len(names) >= n:
        targets = rng.sample(names, n)
    else:
        return None
    asks: list[ToolAsk] = []
    seen: set[tuple[str, str]] = set()
    for name in targets:
        for _ in range(8):
            ask = ctx.tools.ask(toolset, name)
            key = (ask.needs[0].tool, repr(sorted(ask.needs[0].kwargs.items())))
            if key not in seen and ask.text not in (a.text for a in asks):
                seen.add(key)
                asks.append(ask)
                break
        else:
            return None
    return asks


def multi_turn(ctx: Context, toolset: Toolset) -> Turn | None:
    """Two or three requests in one message: every one its call."""
    n = 2 if ctx.rng.random() < 0.6 else 3
    asks = distinct_asks(ctx, toolset, n)
    if asks is None:
        return None
    text = join_requests([a.text for a in asks], ctx.rng)
    needs = tuple(need for a in asks for need in a.needs)
    openers = [o for o in MULTI_OPENERS if n == 2 or "both" not in o]
    return text, Answer(needs, ctx.rng.choice(openers))


def multi(ctx: Context, index: int) -> Example | None:
    """Generator: :func:`multi_turn`."""
    return _one(ctx, index, "multi", multi_turn)


def failed_turn(ctx: Context, toolset: Toolset) -> Turn | None:
    """A call that fails, is declined or times out: the answer says so."""
    ask = ctx.tools.ask(toolset, pick_target(ctx, toolset))
    need = ask.needs[0]
    if need.tool in ("clock", "calc", "echo"):
        return None
    if need.acts or need.tool == "save_note":
        value = DENIED
    else:
        value = ctx.rng.choice([f"error: timed out after {TIMEOUT_S} s", *FAILURES])
    return ask.text, Answer(ask.needs, ctx.rng.choice(OPENERS), outcome=lambda _need: value)


def failed(ctx: Context, index: int) -> Example | None:
    """Generator: :func:`failed_turn`."""
    return _one(ctx, index, "failed", failed_turn)


def none_turn(ctx: Context, toolset: Toolset) -> Turn | None:
    """No call: the base model's own answer to a prompt no listed tool fits."""
    if {k.id for k in toolset.kinds} & BROAD:
        return None
    prompt = no_tool_prompt(ctx, toolset)
    text = ctx.answer_to(prompt) if prompt else None
    if prompt is None or text is None:
        return None
    return prompt, Answer(content=[text])


def none(ctx: Context, index: int) -> Example | None:
    """Generator: :func:`none_turn` (a tool list that could answer anything
    is swapped for its shipped part)."""
    toolset = ctx.toolset()
    if {k.id for k in toolset.kinds} & BROAD:
        toolset = Toolset(toolset.shipped)
    turn = none_turn(ctx, toolset)
    if turn is None:
        return None
    return example(ctx, toolset, turn[0], turn[1], "none", index)


def _one(
    ctx: Context, index: int, kind: str, make: Callable[[Context, Toolset], Turn | None]
) -> Example | None:
    toolset = ctx.toolset()
    turn = make(ctx, toolset)
    if turn is None:
        return None
    return example(ctx, toolset, turn[0], turn[1], kind, index)


def doc_offers(task_tools: Sequence[object]) -> list[Offer]:
    """A BFCL task's functions as prompt offers."""
    from asynclm_tui.lab.tasks.bfcl_docs import DocTool

    return [
        Offer(t.name, t.description, t.schema, t.estimated_ms)
        for t in task_tools
        if isinstance(t, DocTool)
    ]


def _doc_toolset(ctx: Context, tools: Sequence[object]) -> Toolset:
    rng = ctx.rng
    base = Toolset(SHIPPED_NAMES) if rng.random() < 0.4 else Toolset(())
    if rng.random() < 0.3:
        extra = ctx.tools.toolset(shipped=bool(base.shipped), n_kinds=rng.randint(1, 2))
        base = Toolset(base.shipped, extra.offers)
    return with_doc_tools(base, doc_offers(tools), rng)


def doc(ctx: Context, index: int) -> Example | None:
    """A BFCL question and its call among the documented functions."""
    if not ctx.docs:
        return None
    task = ctx.rng.choice(ctx.docs)
    toolset = _doc_toolset(ctx, task.tools)
    ask = doc_ask(task, ctx.rng)
    return example(ctx, toolset, ask.text, Answer(ask.needs), "doc", index)


def no_tool_prompt(ctx: Context, toolset: Toolset) -> str | None:
    """A prompt that needs no tool of ``toolset``, with a distilled answer:
    sometimes one about a listed tool's own subject (``How does a timer work?``)."""
    rng = ctx.rng
    topics = [t for k in toolset.kinds for t in k.topics if t in ctx.distilled]
    for _ in range(6):
        if topics and rng.random() < 0.35:
            prompt = rng.choice(topics)
        else:
            prompt = ctx.tools.shipped_asks.no_tool()
        if ctx.distilled.get(prompt) and allows_no_tool(toolset, prompt):
            return prompt
    return None


def none_doc(ctx: Context, index: int) -> Example | None:
    """A BFCL question no offered function fits: no call."""
    if not ctx.irrelevant:
        return None
    task = ctx.rng.choice(ctx.irrelevant)
    text = ctx.answer_to(task.question)
    if text is None:
        return None
    toolset = _doc_toolset(ctx, task.tools)
    if {k.id for k in toolset.kinds} & BROAD:
        return None
    return example(ctx, toolset, task.question, Answer(content=[text]), "none_doc", index)
