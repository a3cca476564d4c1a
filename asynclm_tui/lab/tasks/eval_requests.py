"""The requests ``asynclm bench tools`` asks, one kind of behaviour each.

Everything here is held out of training: the shipped tools' held-out
phrasings, the held-out tool kinds (``kinds_heldout``: names, descriptions,
schemas and phrasings that never train), the held-out no-tool prompts,
steering content and message wordings.

- ``single``: one request for a shipped tool;
- ``unseen``: one request for a held-out kind, listed beside the shipped tools
  and a few other held-out kinds (near-misses of shipped tools among them);
- ``multi``: two or three requests in one message (shipped and unseen tools,
  sometimes one tool twice with different arguments);
- ``none``: a prompt no listed tool fits (with the shipped tools, or beside
  unseen ones whose own subject it asks about);
- ``steer``: a long answer (a story, a list, a guide) and a message typed after
  a random token of it: a detail corrected, a new subject, something to
  mention, a stop, or a request that needs a call.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from asynclm_tui.lab.tasks import steering as S
from asynclm_tui.lab.tasks.requests import PAIR_JOINERS, RequestMaker, ToolAsk
from asynclm_tui.lab.tasks.toolsets import SHIPPED_NAMES, Toolset, ToolsetMaker, allows_no_tool

KINDS = ("single", "unseen", "multi", "none", "steer")
STEER_TYPES = ("correct", "switch", "mention", "stop", "call")
FIRST_TOKEN, LAST_TOKEN = 4, 40
"""A steering message is typed after a visible token in this range."""


@dataclass(frozen=True)
class Probe:
    """A steering message: when it is typed and how to tell it was taken up."""

    message: str
    at_token: int
    """Typed right after the answer's ``at_token``-th visible token."""
    type: str
    """One of :data:`STEER_TYPES`."""
    word: str = ""
    """``correct``, ``switch``, ``mention``: the word the rest of the answer holds."""
    tool: str = ""
    """``call``: the tool the rest of the answer calls."""


@dataclass(frozen=True)
class EvalRequest:
    """One request of the benchmark (``tools_score.RequestLike``)."""

    text: str
    kind: str
    tools: tuple[str, ...] = ()
    """Expected calls' tools (a tool twice when it is asked twice); empty: none."""
    toolset: Toolset = field(default_factory=lambda: Toolset(SHIPPED_NAMES))
    results: tuple[tuple[str, str, str], ...] = ()
    """(tool, what its stand-in returns, the key value an answer repeats)."""
    probe: Probe | None = None

    def result_of(self, tool: str) -> tuple[str, str] | None:
        """(value, key) the stand-in of ``tool`` returns, if the request set one."""
        return next(((v, k) for t, v, k in self.results if t == tool), None)


def _results(ask: ToolAsk, toolset: Toolset) -> tuple[tuple[str, str, str], ...]:
    """What the stand-ins of the request's unseen tools return, and the key
    value an answer that uses the result repeats (shipped tools: their own
    offline stand-ins answer)."""
    return tuple(
        (need.tool, need.result(random.Random(0)), need.key)
        for need in ask.needs
        if (offer := toolset.offer(need.tool)) is not None and offer.tool is not None
    )


class BenchRequests:
    """Draws every kind of benchmark request from the held-out material."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(f"bench-tools:{seed}")
        self.shipped = RequestMaker("heldout", seed)
        self.tools = ToolsetMaker("heldout", seed)

    def unseen_toolset(self) -> Toolset:
        """The shipped tools and 2-5 held-out kinds (one MCP server's names sometimes)."""
        rng = self.rng
        return self.tools.toolset(
            shipped=True, n_kinds=rng.randint(2, 5), server=rng.random() < 0.3
        )

    def single(self) -> EvalRequest:
        ask = self.shipped.one()
        return EvalRequest(ask.text, "single", (ask.needs[0].tool,))

    def unseen(self) -> EvalRequest:
        toolset = self.unseen_toolset()
        offer = self.rng.choice([o for o in toolset.offers if o.tool is not None])
        ask = self.tools.ask(toolset, offer.name)
        return EvalRequest(ask.text, "unseen", (offer.name,), toolset, _results(ask, toolset))

    def multi(self) -> EvalRequest | None:
        rng = self.rng
        toolset = self.unseen_toolset() if rng.random() < 0.6 else Toolset(SHIPPED_NAMES)
        names = self.tools.askable(toolset)
        n = 2 if rng.random() < 0.6 else 3
        if rng.random() < 0.2:
            tool = rng.choice(names)
            targets = [tool, tool, *rng.sample([t for t in names if t != tool], n - 2)]
        else:
            targets = rng.sample(names, n)
        asks: list[ToolAsk] = []
        for name in targets:
            for _ in range(10):
                ask = self.tools.ask(toolset, name)
                if all(a.needs[0].kwargs != ask.needs[0].kwargs for a in asks):
                    asks.append(ask)
                    break
            else:
                return None
        text = join(asks, rng)
        results = tuple(r for a in asks for r in _results(a, toolset))
        return EvalRequest(text, "multi", tuple(a.needs[0].tool for a in asks), toolset, results)

    def none(self) -> EvalRequest:
        rng = self.rng
        if rng.random() < 0.3:
            toolset = self.unseen_toolset()
            topics = [t for k in toolset.kinds for t in k.topics]
            prompt = rng.choice(topics) if topics and rng.random() < 0.6 else self.shipped.no_tool()
            if allows_no_tool(toolset, prompt):
                return EvalRequest(prompt, "none", (), toolset)
        return EvalRequest(self.shipped.no_tool(), "none")

    def steer(self) -> EvalRequest | None:
        rng = self.rng
        content = rng.choice(S.split_contents("heldout"))
        kind = rng.choice(STEER_TYPES)
        at = rng.randint(FIRST_TOKEN, LAST_TOKEN)
        toolset = Toolset(SHIPPED_NAMES)
        if kind == "correct":
            if not content.detail:
                return None
            new = rng.choice(content.others)
            line = rng.choice(S.split_half(S.CORRECT_LINES, "heldout", "correct"))
            text = line.format(what=content.what, new=new, old=content.detail)
            probe = Probe(text, at, kind, word=new)
        elif kind == "switch":
            subject, word, _prompt = rng.choice(S.SWITCH_SUBJECTS)
            line = rng.choice(S.split_half(S.SWITCH_LINES, "heldout", "switch"))
            probe = Probe(line.format(subject=subject), at, kind, word=word)
        elif kind == "mention":
            thing, word = rng.choice(S.MENTIONS)
            line = rng.choice(S.split_half(S.MENTION_LINES, "heldout", "mention"))
            probe = Probe(line.format(thing=thing), at, kind, word=word)
        elif kind == "stop":
            probe = Probe(rng.choice(S.split_half(S.STOP_LINES, "heldout", "stop")), at, kind)
        else:
            if rng.random() < 0.5:
                toolset = self.unseen_toolset()
            name = rng.choice(self.tools.askable(toolset))
            ask = self.tools.ask(toolset, name)
            lead = rng.choice(S.CALL_LEADS)
            message = lead + (ask.text[:1].lower() + ask.text[1:] if lead else ask.text)
            probe = Probe(message, at, kind, tool=name)
            return EvalRequest(
                content.prompt, "steer", (name,), toolset, _results(ask, toolset), probe
            )
        return EvalRequest(content.prompt, "steer", (), toolset, (), probe)


def join(asks: list[ToolAsk], rng: random.Random) -> str:
    """Requests written as one message (the joiners of the training set's own
    shape; the held-out phrasings make the difference)."""
    texts = [a.text if a.text.rstrip()[-1:] in ".?!" else a.text.rstrip() + "." for a in asks]
    if len(texts) == 2:
        joiner = rng.choice(PAIR_JOINERS)
        b = texts[1][:1].lower() + texts[1][1:] if "{a} {b}" not in joiner else texts[1]
        return joiner.format(a=texts[0], a0=texts[0].rstrip("?.! "), b=b)
    return f"{texts[0]} {texts[1]} And {texts[2][:1].lower()}{texts[2][1:]}"


def bench_requests(seed: int = 0, *, per_kind: int = 40) -> list[EvalRequest]:
    """``per_kind`` distinct requests of each kind, in kind order."""
    maker = BenchRequests(seed)
    draws: dict[str, Callable[[], EvalRequest | None]] = {
        "single": maker.single,
        "unseen": maker.unseen,
        "multi": maker.multi,
        "none": maker.none,
        "steer": maker.steer,
    }
    out: list[EvalRequest] = []
    for kind in KINDS:
        seen: set[str] = set()
        for _ in range(per_kind * 30):
            req = draws[kind]()
            key = req.text + (req.probe.message if req and req.probe else "") if req else ""
            if req is None or key in seen:
                continue
            seen.add(key)
            out.append(req)
            if len(seen) == per_kind:
                break
    return out
