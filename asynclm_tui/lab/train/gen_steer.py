"""Generators: messages typed mid-answer, taken up by the answer.

- ``steer_story``: a message lands at a random token of a story, a poem, a
  list or a guide (the base model's own answer): a detail corrected, a new
  subject, something to mention, a stop, or a request that needs a call; the
  answer acknowledges it briefly and goes on changed;
- ``steer_tool``: a message lands while a call runs or right after its result:
  the request changed (the old result left unreported), another request
  added, or an aside (``thanks``) acknowledged;
- ``follow_up``: the answer before ended right after a message without taking
  it up, and the engine's follow-up turn asks it again: answered now.
"""

from __future__ import annotations

import re
from dataclasses import replace

from asynclm_tui.core.cml.syntax import USER_ID, format_interrupt
from asynclm_tui.lab.tasks import steering as S
from asynclm_tui.lab.tasks.requests import ToolAsk
from asynclm_tui.lab.tasks.toolsets import Toolset
from asynclm_tui.lab.train.example import Context, Example, example
from asynclm_tui.lab.train.gen_tools import pick_target
from asynclm_tui.lab.train.play import Answer, Steer

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)|\n+")
ASIDES = (
    ("Thanks!", "You're welcome."), ("No rush.", "Thanks."), ("take your time", "Sure."),
    ("Cool, thanks.", "You're welcome."), ("ok", "Okay."),
)  # fmt: skip


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences, each but the first with a leading space."""
    parts = [p.strip() for p in _SENTENCE.split(text) if p.strip()]
    return [p if i == 0 else " " + p for i, p in enumerate(parts)]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def story_steer(ctx: Context, toolset: Toolset, content: S.Content, kind: str) -> Steer | None:
    """The message of ``kind`` about ``content``, and how the answer takes it up."""
    rng = ctx.rng
    split = ctx.split
    match kind:
        case "correct":
            if not content.detail or not content.others:
                return None
            new = rng.choice(content.others)
            line = rng.choice(S.split_half(S.CORRECT_LINES, split, "correct"))
            text = line.format(what=content.what, new=new, old=content.detail)
            old = content.detail
            return Steer(
                text,
                0.0,
                rng.choice(S.CORRECT_ACKS).format(new=new),
                transform=lambda s: S.replace_word(s, old, new),
            )
        case "switch":
            subject, _word, prompt = rng.choice(S.SWITCH_SUBJECTS)
            other = ctx.answer_to(prompt)
            if other is None:
                return None
            line = rng.choice(S.split_half(S.SWITCH_LINES, split, "switch"))
            ack = rng.choice(S.SWITCH_ACKS).format(subject=subject, Subject=_cap(subject))
            return Steer(line.format(subject=subject), 0.0, ack, content=tuple(sentences(other)))
        case "mention":
            thing, _word = rng.choice(S.MENTIONS)
            line = rng.choice(S.split_half(S.MENTION_LINES, split, "mention"))
            insert = rng.choice(
                ["There was also {thing}.", "And there was {thing}.", "{Thing} was there too."]
            ).format(thing=thing, Thing=_cap(thing))
            ack = rng.choice(S.MENTION_ACKS).format(thing=thing)
            return Steer(line.format(thing=thing), 0.0, ack, insert=insert)
        case "stop":
            line = rng.choice(S.split_half(S.STOP_LINES, split, "stop"))
            return Steer(line, 0.0, rng.choice(S.STOP_ACKS), stop=True)
        case _:
            names = ctx.tools.askable(toolset)
            if not names:
                return None
            ask = ctx.tools.ask(toolset, pick_target(ctx, toolset))
            return Steer(_added(ctx, ask), 0.0, rng.choice(S.CALL_ACKS), add=ask.needs)


def _added(ctx: Context, ask: ToolAsk) -> str:
    lead = ctx.rng.choice(S.CALL_LEADS)
    return lead + (ask.text[:1].lower() + ask.text[1:] if lead else ask.text)


STORY_KINDS = ("correct", "switch", "mention", "stop", "call")
STORY_WEIGHTS = (3, 2, 2, 2, 3)


def _story_with_steer(
    ctx: Context,
) -> tuple[S.Content, list[str], Toolset, Steer] | None:
    """A plain answer of three sentences or more, its tool list and a message
    of a drawn kind to steer it (None when the draw gives none)."""
    rng = ctx.rng
    content = rng.choice(S.split_contents(ctx.split))
    text = ctx.answer_to(content.prompt)
    parts = sentences(text) if text else []
    if len(parts) < 3:
        return None
    toolset = ctx.toolset()
    kind = rng.choices(STORY_KINDS, weights=STORY_WEIGHTS)[0]
    steer = story_steer(ctx, toolset, content, kind)
    if steer is None:
        return None
    return content, parts, toolset, steer


def steer_story(ctx: Context, index: int) -> Example | None:
    """A message at a random point of a long plain answer."""
    drawn = _story_with_steer(ctx)
    if drawn is None:
        return None
    content, parts, toolset, steer = drawn
    rng = ctx.rng
    n_tokens = len(ctx.tok.tokenize("".join(parts), False))
    if n_tokens < 12:
        return None
    at = rng.randint(3, n_tokens - 6)
    steer = replace(steer, at_token=at)
    answer = Answer(content=parts, steers=[steer])
    return example(ctx, toolset, content.prompt, answer, "steer_story", index)


def _changed(ctx: Context, toolset: Toolset, ask: ToolAsk) -> ToolAsk | None:
    """The same request with one argument changed (a new city, a new amount)."""
    need = ask.needs[0]
    for _ in range(12):
        other = ctx.tools.ask(toolset, need.tool)
        new = other.needs[0].kwargs
        diff = [k for k in new if k in need.kwargs and new[k] != need.kwargs[k]]
        if len(diff) == 1 and set(new) == set(need.kwargs):
            return ToolAsk(str(new[diff[0]]), other.needs, "", other.template)
    return None


SWITCH_TOOL_LINES = (
    "Actually, make it {v}.", "Sorry, I meant {v}.", "Wait, {v} instead.", "No, {v} please.",
    "Oops, I meant {v}, not that.", "Change that to {v}.",
)  # fmt: skip
SWITCH_TOOL_ACKS = ("Okay, {v} then.", "Sure, {v} instead.", "Got it, {v}.", "")


def steer_tool(ctx: Context, index: int) -> Example | None:
    """A message while a call runs or right after its result."""
    rng = ctx.rng
    toolset = ctx.toolset()
    ask = ctx.tools.ask(toolset, pick_target(ctx, toolset))
    delay = rng.uniform(5.0, 400.0)
    kind = rng.choices(["switch", "add", "aside"], weights=[3, 4, 1])[0]
    steer: Steer | None = None
    need = ask.needs[0]
    if kind == "switch" and (need.acts or need.tool == "save_note"):
        kind = "add"  # what was sent stays sent: a changed request is a new one
    if kind == "switch":
        changed = _changed(ctx, toolset, ask)
        if changed is not None:
            value = changed.text
            line = rng.choice(S.split_half(SWITCH_TOOL_LINES, ctx.split, "switch-tool"))
            ack = rng.choice(SWITCH_TOOL_ACKS).format(v=value)
            steer = Steer(line.format(v=value), delay, ack, changed.needs, drop_calls=True)
    elif kind == "add":
        extra = ctx.tools.ask(toolset, pick_target(ctx, toolset))
        same = extra.needs[0].tool == ask.needs[0].tool
        if not (same and extra.needs[0].kwargs == ask.needs[0].kwargs):
            steer = Steer(_added(ctx, extra), delay, rng.choice(S.CALL_ACKS), extra.needs)
    else:
        line, ack = rng.choice(ASIDES)
        steer = Steer(line, delay, ack)
    if steer is None:
        return None
    steer = replace(steer, after_first_call=True)
    answer = Answer(ask.needs, rng.choice(["", "", "Let me check.", "One moment."]), steers=[steer])
    return example(ctx, toolset, ask.text, answer, "steer_tool", index)


def follow_up(ctx: Context, index: int) -> Example | None:
    """The answer before stopped right after a message; the follow-up turn
    (the engine's rule) repeats it, and this answer takes it up."""
    drawn = _story_with_steer(ctx)
    if drawn is None:
        return None
    content, parts, toolset, steer = drawn
    rng = ctx.rng
    cut = rng.randint(1, len(parts) - 1)
    written = "".join(parts[:cut])
    if rng.random() < 0.5:  # stopped mid-sentence
        words = parts[cut].split()
        written += " " + " ".join(words[: rng.randint(1, max(1, len(words) - 1))])
    before = written.rstrip() + format_interrupt(USER_ID, steer.text)
    rest = parts[cut:]
    body: list[str] = []
    if steer.add or steer.stop:
        pass
    elif steer.content is not None:
        body = list(steer.content)
    else:
        body = [steer.transform(s) for s in parts] if steer.transform else rest
        if steer.insert:
            body = [" " + steer.insert, *body]
    answer = (
        Answer(steer.add, steer.ack)
        if steer.add
        else Answer(content=[" " + s.strip() for s in ([steer.ack] if steer.ack else []) + body])
    )
    history = [
        {"role": "user", "content": content.prompt},
        {"role": "assistant", "content": before},
    ]
    return example(ctx, toolset, steer.text, answer, "follow_up", index, history=history)
