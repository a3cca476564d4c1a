"""Tool lists for prompts: a random few tools, sometimes beside the shipped ones.

A :class:`Toolset` is what one prompt offers: the shipped tools (all of them,
as a user without tools of their own has them), tools written from kinds
(``kinds_*``), BFCL's documented functions, or a mix, in the order the engine
would list them (shipped tools first, then the user's or an MCP server's).
Its system prompt is written by the engine's own prompt builder in the
compact style the adapter is trained on, so training matches inference.

Each offer knows how to ask for itself (a :class:`ToolAsk` with the call it
needs), so the training data and the benchmark draw requests the same way.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from asynclm_tui.core.cml.prompt import launch_system_prompt
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.lab.tasks.kinds import Kind, Tool, split_phrases, tool_of
from asynclm_tui.lab.tasks.kinds_dev import DEV_KINDS
from asynclm_tui.lab.tasks.kinds_heldout import HELDOUT_KINDS
from asynclm_tui.lab.tasks.kinds_home import HOME_KINDS
from asynclm_tui.lab.tasks.kinds_world import BROAD, WORLD_KINDS
from asynclm_tui.lab.tasks.requests import RequestMaker, ToolAsk

PROMPT_STYLE = "compact"
"""The system prompt the adapter is trained on (what ``prompt_style: auto`` picks with it)."""
TRAIN_KINDS: tuple[Kind, ...] = (*HOME_KINDS, *WORLD_KINDS, *DEV_KINDS)
"""Kinds the training set may show."""
SERVERS = ("home", "work", "mcp", "assistant", "tools", "util", "office", "hub")
"""Prefixes an MCP server's tools might carry (``home.set_timer``)."""
SHIPPED_NAMES = ("calc", "clock", "echo", "list_dir", "save_note", "sleep", "weather")


@cache
def shipped_registry() -> ToolRegistry:
    """The shipped tools, in the order the engine lists them."""
    from asynclm_tui.core.settings.paths import shipped_tools_dir

    return ToolRegistry.load([shipped_tools_dir()])


@dataclass(frozen=True)
class Offer:
    """One tool of a prompt that is not a shipped one."""

    name: str
    description: str
    schema: dict[str, Any]
    estimated_ms: float
    tool: Tool | None = None
    """The kind's tool it was written from (None: a BFCL function)."""


@dataclass(frozen=True)
class Toolset:
    """The tools one prompt offers."""

    shipped: tuple[str, ...]
    """Shipped tools in the prompt (all or none), in the engine's order."""
    offers: tuple[Offer, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Every tool name, in prompt order."""
        return (*self.shipped, *(o.name for o in self.offers))

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """Kinds among the offers."""
        return tuple(o.tool.kind for o in self.offers if o.tool is not None)

    def registry(self, runner: Callable[[str], Callable[..., Any]] | None = None) -> ToolRegistry:
        """The tools as the engine loads them; ``runner(name)`` runs an offer
        (default: one that says it is not available offline)."""
        reg = ToolRegistry()
        shipped = shipped_registry()
        for name in self.shipped:
            reg.tools[name] = shipped.tools[name]
        for offer in self.offers:
            fn = runner(offer.name) if runner is not None else _not_here(offer.name)
            reg.add_function(
                offer.name,
                fn,
                description=offer.description,
                parameters=offer.schema,
                estimated_ms=offer.estimated_ms,
            )
        return reg

    def system(self) -> str:
        """The system prompt the engine writes for these tools (compact style)."""
        return launch_system_prompt(self.registry().tools, style=PROMPT_STYLE)

    def offer(self, name: str) -> Offer | None:
        """The offer called ``name``."""
        return next((o for o in self.offers if o.name == name), None)


def _not_here(name: str) -> Callable[..., str]:
    def run(**_kwargs: Any) -> str:
        return f"error: {name} is not available offline"

    return run


def kind_offer(tool: Tool) -> Offer:
    """A kind's tool as a prompt offer."""
    return Offer(tool.name, tool.description, tool.schema(), tool.estimated_ms, tool)


@dataclass
class ToolsetMaker:
    """Draws toolsets and requests from one split.

    ``train``: training kinds (their trained phrasings) and BFCL documents;
    ``heldout``: the held-out kinds, beside the shipped tools, for the benchmark."""

    split: str
    seed: int = 0
    rng: random.Random = field(init=False)
    phrases: dict[str, list[str]] = field(init=False)
    kinds: tuple[Kind, ...] = field(init=False)
    shipped_asks: RequestMaker = field(init=False)

    def __post_init__(self) -> None:
        if self.split not in ("train", "heldout"):
            raise ValueError(f"split must be train or heldout, not {self.split!r}")
        self.rng = random.Random(f"toolsets:{self.split}:{self.seed}")
        if self.split == "train":
            self.kinds = TRAIN_KINDS
            self.phrases = split_phrases(TRAIN_KINDS).train
        else:
            self.kinds = HELDOUT_KINDS
            self.phrases = {k.id: list(k.asks) for k in HELDOUT_KINDS}
        self.shipped_asks = RequestMaker(self.split, self.seed)

    def toolset(self, *, shipped: bool, n_kinds: int, server: bool = False) -> Toolset:
        """Shipped tools (or not) and ``n_kinds`` distinct kinds, each written
        one of its ways; ``server``: one MCP server's prefix on all of them."""
        rng = self.rng
        prefix = rng.choice(SERVERS) if server else ""
        picked = rng.sample(list(self.kinds), min(n_kinds, len(self.kinds)))
        offers = [kind_offer(tool_of(k, rng, server=prefix)) for k in picked]
        names = set(SHIPPED_NAMES if shipped else ())
        unique: list[Offer] = []
        for offer in offers:  # a kind's name may equal a shipped one's; keep the first
            if offer.name not in names:
                names.add(offer.name)
                unique.append(offer)
        return Toolset(SHIPPED_NAMES if shipped else (), tuple(unique))

    def random_toolset(self) -> Toolset:
        """One prompt's tools: shipped only, shipped plus a few, or new ones only."""
        rng = self.rng
        shape = rng.choices(["shipped", "mixed", "new"], weights=[3, 4, 3])[0]
        if shape == "shipped":
            return Toolset(SHIPPED_NAMES)
        n = rng.randint(1, 5) if shape == "mixed" else rng.randint(2, 7)
        return self.toolset(shipped=shape == "mixed", n_kinds=n, server=rng.random() < 0.3)

    def ask(self, toolset: Toolset, name: str) -> ToolAsk:
        """A request for tool ``name`` of ``toolset``."""
        offer = toolset.offer(name)
        if offer is None:
            kinds = toolset.kinds
            ask = self.shipped_asks.one(name)
            for _ in range(10):  # "a 5 second timer" is the timer's beside a timer tool
                if not any(k.claimed(ask.text) for k in kinds):
                    break
                ask = self.shipped_asks.one(name)
            return ask
        if offer.tool is None:
            raise ValueError(f"{name} is a BFCL function: its request comes with its task")
        return offer.tool.ask(self.rng, self.phrases[offer.tool.kind.id])

    def askable(self, toolset: Toolset) -> list[str]:
        """Tools of ``toolset`` this maker can write a request for."""
        return [*toolset.shipped, *(o.name for o in toolset.offers if o.tool is not None)]


def allows_no_tool(toolset: Toolset, prompt: str) -> bool:
    """Whether ``prompt`` truly needs no tool of ``toolset``: no tool that could
    answer anything (web search, Wikipedia, news), and no word a listed
    kind claims (a translator beside "translate ...")."""
    if {k.id for k in toolset.kinds} & BROAD:
        return False
    return not any(k.claimed(prompt) for k in toolset.kinds)


def with_doc_tools(
    toolset: Toolset, docs: Sequence[Offer], rng: random.Random, *, first: bool = False
) -> Toolset:
    """``toolset`` with BFCL functions added (at a random place among the offers,
    or first)."""
    offers = list(toolset.offers)
    taken = set(toolset.names)
    for doc in docs:
        if doc.name in taken:
            continue
        taken.add(doc.name)
        offers.insert(0 if first else rng.randint(0, len(offers)), doc)
    return Toolset(toolset.shipped, tuple(offers))
