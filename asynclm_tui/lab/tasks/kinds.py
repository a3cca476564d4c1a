"""Tool kinds: tools the model has never seen, written from templates.

A *kind* is one sort of tool (a timer, a currency converter, a package
tracker).  It has several specs a user or an MCP server might write for it
(names, some dotted like ``timer.start``; descriptions; JSON Schemas with
required and optional parameters, enums and numbers), natural requests whose
slots fill the arguments, a plausible result and the sentence that reports
it.  The training set puts a random few kinds in each prompt, so what decides
the right tool is its description, not a name learned by heart; the held-out
kinds (``kinds_heldout``) never enter training and measure exactly that.

Arguments follow from the request's slots: a required parameter takes its
slot's value always, an optional one only when the request mentions its slot
(``{label}``), so a call never carries what the user did not say.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asynclm_tui.lab.tasks.requests import Need, ToolAsk

HELD_OUT_PHRASES = 0.25
"""Share of each training kind's phrasings kept out of training."""


@dataclass(frozen=True)
class P:
    """One parameter of a spec."""

    name: str
    type: str = "string"
    required: bool = True
    slot: str = ""
    """The request slot its value comes from (default: the parameter's name)."""
    said: tuple[str, ...] = ()
    """Slots that say it in a request (default: its slot); an optional
    parameter is passed when the request mentions one of them."""
    enum: tuple[str, ...] = ()
    about: str = ""

    @property
    def source(self) -> str:
        """The slot the value is read from."""
        return self.slot or self.name

    @property
    def cues(self) -> tuple[str, ...]:
        """Slots whose mention in a request passes this parameter."""
        return self.said or (self.source,)

    def schema(self) -> dict[str, Any]:
        """This parameter's JSON Schema."""
        out: dict[str, Any] = {"type": self.type}
        if self.enum:
            out["enum"] = list(self.enum)
        if self.about:
            out["description"] = self.about
        return out


@dataclass(frozen=True)
class Spec:
    """One way to write the kind's tool file: names, descriptions, parameters."""

    names: tuple[str, ...]
    about: tuple[str, ...]
    params: tuple[P, ...]

    def schema(self) -> dict[str, Any]:
        """The spec's ``parameters`` JSON Schema."""
        out: dict[str, Any] = {
            "type": "object",
            "properties": {p.name: p.schema() for p in self.params},
        }
        required = [p.name for p in self.params if p.required]
        if required:
            out["required"] = required
        return out


@dataclass(frozen=True)
class Kind:
    """A sort of tool, with everything needed to ask for it and answer."""

    id: str
    specs: tuple[Spec, ...]
    asks: tuple[str, ...]
    """Request templates; ``{slot}`` fields are filled from the drawn slots."""
    pools: Mapping[str, Sequence[Any]]
    """Slot -> the values it is drawn from."""
    result: str
    """The tool's result, a template over the slots."""
    report: str
    """The answer sentence given a successful result, a template over the slots."""
    doing: str
    """What a failure stops (``I could not {doing}``)."""
    derive: Callable[[dict[str, Any], random.Random], dict[str, Any]] | None = None
    """Slots computed from the drawn ones (a converted amount, a price)."""
    ms: tuple[float, float] = (80.0, 600.0)
    """Range of the declared ``estimated_ms`` (and of the simulated run time)."""
    near: tuple[str, ...] = ()
    """Tools (shipped names or kind ids) a keyword might confuse it with."""
    topics: tuple[str, ...] = ()
    """Questions about the kind's topic that need no call (``How does a timer work?``)."""
    key: str = ""
    """The slot an answer that uses the result repeats (for the benchmark)."""
    acts: bool = False
    """It changes something (sends, books, writes): the user may decline it."""
    claims: tuple[str, ...] = ()
    """Words that make a request this kind's when it is listed (lower case):
    a shipped tool's request or a no-tool prompt with one is not drawn beside it."""

    def claimed(self, text: str) -> bool:
        """Whether ``text`` says one of the kind's :attr:`claims`."""
        lowered = text.lower()
        return any(word in lowered for word in self.claims)

    def slots(self, rng: random.Random) -> dict[str, Any]:
        """One draw of every slot (derived ones included)."""
        values = {name: rng.choice(list(pool)) for name, pool in self.pools.items()}
        if self.derive is not None:
            values.update(self.derive(values, rng))
        return values


@dataclass(frozen=True)
class Tool:
    """One kind written as one tool file: the name and description a prompt shows."""

    kind: Kind
    spec: Spec
    name: str
    description: str
    estimated_ms: float

    def schema(self) -> dict[str, Any]:
        """The tool's ``parameters``."""
        return self.spec.schema()

    def ask(self, rng: random.Random, phrases: Sequence[str]) -> ToolAsk:
        """A request for this tool from one of ``phrases``, with its one call."""
        template = rng.choice(list(phrases))
        slots = self.kind.slots(rng)
        return self.ask_with(template, slots)

    def ask_with(self, template: str, slots: dict[str, Any]) -> ToolAsk:
        """The request ``template`` filled with ``slots``, and its call."""
        text = template.format(**slots)
        kwargs = call_arguments(self.spec, template, slots)
        kind = self.kind
        result = kind.result.format(**slots)
        sentence = kind.report.format(**slots)
        need = Need(
            self.name,
            kwargs,
            lambda _rng: result,
            lambda _value: sentence,
            doing=kind.doing,
            acts=kind.acts,
            key=str(slots.get(kind.key, kind.key)),
        )
        return ToolAsk(text, (need,), "", template)


def mentioned(template: str, slot: str) -> bool:
    """Whether ``template`` has a ``{slot}`` field."""
    return "{" + slot + "}" in template


def call_arguments(spec: Spec, template: str, slots: Mapping[str, Any]) -> dict[str, Any]:
    """The call a request needs: required parameters always, optional ones
    only when the request says them."""
    out: dict[str, Any] = {}
    for p in spec.params:
        if p.required or any(mentioned(template, s) for s in p.cues):
            out[p.name] = slots[p.source]
    return out


def tool_of(kind: Kind, rng: random.Random, *, server: str = "") -> Tool:
    """The kind written one way (spec, name, description drawn); ``server``
    prefixes the name as an MCP server's tools are named (``server.tool``)."""
    spec = rng.choice(kind.specs)
    name = rng.choice(spec.names)
    if server and "." not in name:
        name = f"{server}.{name}"
    lo, hi = kind.ms
    ms = float(round(rng.uniform(lo, hi), -1 if hi > 100 else 0))
    return Tool(kind, spec, name, rng.choice(spec.about), max(1.0, ms))


@dataclass
class PhraseSplit:
    """Each kind's phrasings cut into train and held-out (a fixed split)."""

    train: dict[str, list[str]] = field(default_factory=dict)
    heldout: dict[str, list[str]] = field(default_factory=dict)


def split_phrases(kinds: Sequence[Kind]) -> PhraseSplit:
    """A fixed split of every kind's phrasings (at least one held out, one trained)."""
    out = PhraseSplit()
    for kind in kinds:
        fixed = random.Random(f"asynclm-kind-phrases:{kind.id}")
        asks = list(kind.asks)
        fixed.shuffle(asks)
        k = min(len(asks) - 1, max(1, round(len(asks) * HELD_OUT_PHRASES)))
        out.heldout[kind.id], out.train[kind.id] = asks[:k], asks[k:]
    return out


def check_kind(kind: Kind) -> list[str]:
    """What is wrong with a kind's templates (empty when nothing): every
    request says every required parameter of every spec, and every template
    fills from the slots."""
    problems: list[str] = []
    slots = kind.slots(random.Random(0))
    for spec in kind.specs:
        problems += [
            f"{kind.id}: no slot {p.source!r} for {p.name}"
            for p in spec.params
            if p.source not in slots
        ]
    for template in kind.asks:
        for spec in kind.specs:
            for p in spec.params:
                if p.required and not any(mentioned(template, s) for s in p.cues):
                    problems.append(f"{kind.id}: {template!r} does not say {p.name}")
        for text in (template, kind.result, kind.report):
            try:
                text.format(**slots)
            except (KeyError, IndexError, ValueError) as exc:
                problems.append(f"{kind.id}: {text!r}: {exc!r}")
    return problems
