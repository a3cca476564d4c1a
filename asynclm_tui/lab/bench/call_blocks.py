"""Call blocks with and without jump-forward, side by side, on real calls.

The held-out tool requests (``bench tools``' single- and two-tool ones) are
answered by the loaded model, greedily, with the shipped tools' offline
stand-ins, once with jump-forward (and the drafts that come with it) and
once without (the order alternates per request); the engine's done event says
how many tokens each call block sampled in a step of their own, how many the
grammar forced and how many drafted ones the model kept, and how long each
block took to write.  Sync mode makes a result land at the same place on both sides, so
the two answers can be compared word for word.

The runs without jump-forward also measure the boundary rules
(:data:`~asynclm_tui.core.decode.jump_forward.RULES`): at every point where
the grammar forces text, does a rule append exactly the tokens the model
itself went on to write?  Where it does, the KV cache is the one the model
would have built, so its next-token distribution is untouched.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asynclm_tui.core.api.enums import Mode
from asynclm_tui.core.api.events import (
    CallIssued,
    Configure,
    Event,
    NewSession,
    Prefilled,
    SendMessage,
    TurnDone,
    TurnFailed,
)
from asynclm_tui.core.backends import backend_factory
from asynclm_tui.core.backends.base import Backend, ModelLoadError, Pieces, ProgressFn
from asynclm_tui.core.cml.constrain import BlockGrammar, ToolShape, tool_shape
from asynclm_tui.core.cml.syntax import CallBlock, CMLParser
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.decode.jump_forward import RULES, GrammarFollower, JumpForward, Rule
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.lab.bench.bootstrap import ratio_ci95
from asynclm_tui.lab.bench.tools_eval import offline_registry
from asynclm_tui.lab.tasks.requests import heldout_requests

CALL_REQUESTS = 16
"""Held-out requests per side by default (single- and two-tool in turn)."""
TURN_TIMEOUT_S = 300.0
MAX_TOKENS = 160


@dataclass
class CallRun:
    """One answer: its call blocks' counts and what the model wrote."""

    request: str
    jump: bool
    blocks: int = 0
    sampled: int = 0
    """Tokens sampled in its call blocks, each in a decode step of its own."""
    forced: int = 0
    """Tokens forced in its call blocks."""
    drafted: int = 0
    """Drafted tokens kept in its call blocks."""
    block_ms: float = 0.0
    """Time spent writing its call blocks."""
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    text: str = ""
    tokens: list[int] = field(default_factory=list)
    """The answer's tokens as they are in the KV cache (interrupts included)."""
    block_tokens: list[list[int]] = field(default_factory=list)
    """The tokens of each call block, opener to ``[END]``."""
    error: str | None = None


@dataclass
class RuleTally:
    """How one boundary rule fares against what the model wrote."""

    rule: str
    points: int = 0
    """Places where the grammar forced text and the rule appends something."""
    agree: int = 0
    """Of those, where the rule's tokens are exactly the model's next tokens."""
    forced: int = 0
    """Tokens the rule appends where it agrees."""
    examples: list[tuple[str, str]] = field(default_factory=list)
    """(the model's text, the rule's text) where they differ (a few)."""


class _Sink:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.run: CallRun | None = None
        self.n_prompt = 0

    def __call__(self, event: Event) -> None:
        run = self.run
        if run is None:
            return
        match event:
            case Prefilled():
                self.n_prompt = event.n_prompt
            case CallIssued():
                run.calls.append((event.fn, event.args, dict(event.kwargs)))
            case TurnFailed():
                run.error = event.message
            case TurnDone():
                run.text = event.text
                run.blocks, run.sampled = event.call_blocks, event.block_sampled
                run.forced, run.block_ms = event.block_forced, event.block_ms
                run.drafted = event.block_drafted
                self.done.set()


def measure_calls(
    settings: Settings, n: int, seed: int = 0
) -> tuple[list[CallRun], list[RuleTally]]:
    """Answer ``n`` held-out tool requests with jump-forward on and off, and
    tally the boundary rules against the answers without it.

    Raises:
        ModelLoadError: the model did not load.
    """
    s = settings.model_copy(deep=True)
    s.tools.approval = "always"
    gen = s.generation.model_copy(
        update={"temperature": 0.0, "max_tokens": MAX_TOKENS, "constrain_calls": True}
    )
    holder: list[Backend] = []
    factory = backend_factory(s)

    def build(progress: ProgressFn) -> Backend:
        holder.append(factory(progress))
        return holder[-1]

    engine = Engine(s, offline_registry(), build)
    sink = _Sink()
    engine.subscribe(sink)
    engine.start()
    try:
        if not engine.wait_loaded() or not holder:
            raise ModelLoadError(engine.snapshot().load_error or "the model failed to load")
        backend = holder[-1]
        requests = [r for r in heldout_requests(seed) if r.kind in ("single", "pair")]
        singles = [r for r in requests if r.kind == "single"]
        pairs = [r for r in requests if r.kind == "pair"]
        chosen = [r for pair in zip(singles, pairs, strict=False) for r in pair][:n]
        runs: list[CallRun] = []
        for i, request in enumerate(chosen):
            for jump in (False, True) if i % 2 == 0 else (True, False):
                runs.append(_answer(engine, sink, backend, request.text, gen, jump))
        # Before the engine closes: the tallies tokenize with the loaded model.
        return runs, rule_tallies(runs, backend, shapes_of_offline_tools())
    finally:
        engine.close()


def _answer(
    engine: Engine, sink: _Sink, backend: Backend, text: str, gen: Any, jump: bool
) -> CallRun:
    run = CallRun(text, jump)
    engine.post(NewSession())
    engine.post(Configure(mode=Mode.SYNC, generation=gen.model_copy(update={"jump_forward": jump})))
    engine.wait_idle()
    sink.run, sink.n_prompt = run, 0
    sink.done.clear()
    engine.post(SendMessage(text))
    if not sink.done.wait(TURN_TIMEOUT_S):
        run.error = f"no answer within {TURN_TIMEOUT_S:.0f} s"
    engine.wait_idle()
    sink.run = None
    run.tokens = list(backend.tokens[sink.n_prompt :])  # the decode thread is idle now
    run.block_tokens = call_block_tokens(run.tokens, backend)
    return run


def call_block_tokens(tokens: Sequence[int], vocab: Pieces) -> list[list[int]]:
    """The tokens of each call block in ``tokens`` (from the token that began
    its opener to the one that ended it)."""
    parser = CMLParser()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    blocks: list[list[int]] = []
    current: list[int] = []
    for token in tokens:
        _, events = parser.feed(decoder.decode(vocab.piece(token)))
        if parser.in_block or events:
            current.append(token)
        if any(isinstance(e, CallBlock) for e in events):
            blocks.append(current)
        if not parser.in_block:
            current = []
    return blocks


def rule_tallies(
    runs: Sequence[CallRun], vocab: Pieces, shapes: Mapping[str, ToolShape]
) -> list[RuleTally]:
    """Each boundary rule against the tokens the model wrote without jump-forward."""
    tallies = {rule: RuleTally(rule) for rule in RULES}
    for run in runs:
        if run.jump or run.error:
            continue
        for rule in RULES:
            _replay(run.tokens, vocab, shapes, rule, tallies[rule])
    return list(tallies.values())


def _replay(
    tokens: Sequence[int],
    vocab: Pieces,
    shapes: Mapping[str, ToolShape],
    rule: Rule,
    tally: RuleTally,
) -> None:
    """Follow ``tokens`` through the parser and grammar as a turn does; where
    the grammar forces text, compare the rule's tokens with the next ones."""
    jump = JumpForward(vocab, rule)
    parser = CMLParser()
    follower = GrammarFollower(shapes)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    i = 0
    while i < len(tokens):
        parser.feed(decoder.decode(vocab.piece(tokens[i])))
        follower.follow(parser)
        i += 1
        grammar = follower.active
        text = grammar.forced() if grammar is not None else ""
        planned = jump.plan(text, _following(grammar, text)) if grammar and text else []
        if not planned:
            continue
        tally.points += 1
        actual = list(tokens[i : i + len(planned)])
        if actual == planned:
            tally.agree += 1
            tally.forced += len(planned)
            # The engine appends these at once: no decision point inside them.
            parser.feed(decoder.decode(b"".join(vocab.piece(t) for t in planned)))
            follower.follow(parser)
            i += len(planned)
        elif len(tally.examples) < 6:
            shown = b"".join(vocab.piece(t) for t in actual).decode("utf-8", "replace")
            want = b"".join(vocab.piece(t) for t in planned).decode("utf-8", "replace")
            tally.examples.append((shown, want))


def _following(grammar: BlockGrammar, text: str) -> Callable[[], str | None]:
    return lambda: grammar.viable_after(text)


def shapes_of_offline_tools() -> dict[str, ToolShape]:
    """The grammar's view of the tools :func:`measure_calls` offers."""
    return {name: tool_shape(spec.parameters) for name, spec in offline_registry().tools.items()}


def summary(runs: Sequence[CallRun], tallies: Sequence[RuleTally]) -> dict[str, Any]:
    """The ``call_blocks`` object of ``bench decode --json``."""
    pairs = _pairs(runs)
    out: dict[str, Any] = {"requests": len(pairs), "mode": "sync", "temperature": 0.0}
    for jump, name in ((False, "off"), (True, "on")):
        mine = [run for run in runs if run.jump is jump and not run.error]
        blocks = sum(run.blocks for run in mine)
        out[name] = {
            "blocks": blocks,
            "sampled_per_block": _per(sum(r.sampled for r in mine), blocks),
            "forced_per_block": _per(sum(r.forced for r in mine), blocks),
            "drafted_per_block": _per(sum(r.drafted for r in mine), blocks),
            "ms_per_block": _per(sum(r.block_ms for r in mine), blocks),
        }
    # Paired by request, where both sides wrote as many blocks.
    both = [(off, on) for off, on in pairs if off.blocks and off.blocks == on.blocks]
    sampled_on = [float(on.sampled) for _, on in both]
    sampled_off = [float(off.sampled) for off, _ in both]
    ms_on = [on.block_ms for _, on in both]
    ms_off = [off.block_ms for off, _ in both]
    out["paired_requests"] = len(both)
    out["sampled_ratio"] = _ratio(sampled_on, sampled_off)
    out["sampled_ratio_ci95"] = _ci(sampled_on, sampled_off)
    out["ms_ratio"] = _ratio(ms_on, ms_off)
    out["ms_ratio_ci95"] = _ci(ms_on, ms_off)
    out["same_calls"] = sum(off.calls == on.calls for off, on in pairs)
    out["same_block_tokens"] = sum(off.block_tokens == on.block_tokens for off, on in pairs)
    out["same_text"] = sum(off.text == on.text for off, on in pairs)
    out["rules"] = [
        {
            "rule": t.rule,
            "points": t.points,
            "agree": t.agree,
            "agreement": round(t.agree / t.points, 4) if t.points else None,
            "forced_tokens": t.forced,
            "examples": t.examples,
        }
        for t in tallies
    ]
    return out


def _pairs(runs: Sequence[CallRun]) -> list[tuple[CallRun, CallRun]]:
    by: dict[str, dict[bool, CallRun]] = {}
    for run in runs:
        if not run.error:
            by.setdefault(run.request, {})[run.jump] = run
    return [(sides[False], sides[True]) for sides in by.values() if len(sides) == 2]


def _per(total: float, count: int) -> float | None:
    return round(total / count, 3) if count else None


def _ratio(num: Sequence[float], den: Sequence[float]) -> float | None:
    return round(sum(num) / sum(den), 4) if num and sum(den) > 0 else None


def _ci(num: Sequence[float], den: Sequence[float]) -> list[float] | None:
    ci = ratio_ci95(num, den)
    return None if ci is None else [round(ci[0], 4), round(ci[1], 4)]


def print_call_blocks(data: Mapping[str, Any]) -> None:
    """The call-block tables of ``bench decode``."""
    from rich.table import Table

    from asynclm_tui.headless.tables import print_table

    def f(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    def ci(value: float | None, interval: list[float] | None) -> str:
        shown = f(value, ".3f")
        return shown if interval is None else f"{shown} [{interval[0]:.3f}-{interval[1]:.3f}]"

    table = Table(
        "jump-forward",
        "blocks",
        "sampled/block",
        "forced/block",
        "drafted/block",
        "ms/block",
        title=f"call blocks: {data['requests']} held-out tool requests, greedy, sync mode",
    )
    for name in ("off", "on"):
        side = data[name]
        table.add_row(
            name,
            str(side["blocks"]),
            f(side["sampled_per_block"], ".1f"),
            f(side["forced_per_block"], ".1f"),
            f(side.get("drafted_per_block"), ".1f"),
            f(side["ms_per_block"], ".0f"),
        )
    print_table(table)
    print(
        f"on/off, paired over {data['paired_requests']} requests [95 % interval]: "
        f"tokens sampled {ci(data['sampled_ratio'], data['sampled_ratio_ci95'])}, "
        f"time per block {ci(data['ms_ratio'], data['ms_ratio_ci95'])}; "
        f"same calls {data['same_calls']}/{data['requests']}, same call-block tokens "
        f"{data['same_block_tokens']}/{data['requests']}, "
        f"same answer {data['same_text']}/{data['requests']}"
    )
    rules = Table(
        "rule",
        "points",
        "agree",
        "agreement",
        "tokens forced",
        title="boundary rules against the model's own greedy tokens (jump-forward off)",
    )
    for r in data["rules"]:
        rules.add_row(
            r["rule"],
            str(r["points"]),
            str(r["agree"]),
            f(r["agreement"], ".3f"),
            str(r["forced_tokens"]),
        )
    print_table(rules)
