"""``asynclm bench tools``' arithmetic: what one run did, how it scores, the shares.

No model here: :mod:`asynclm_tui.lab.bench.tools_eval` records each run of a
request as a :class:`RunRecord`, and this module scores and aggregates them
(tested on its own in tests/bench/test_tools_eval.py).

Measures, per side (base model, base + an adapter), each over the requests
of its kind (``lab/tasks/eval_requests``):

- ``steer_goes_on``: the answer went on after the message typed mid-answer (a
  call, or at least ``TAKE_UP_TOKENS`` visible tokens: the engine's follow-up
  rule did not have to answer it), among the runs whose message landed;
- ``steer_taken_up``: the text after the message did what it asked (holds the
  corrected detail, the new subject's word, the word to mention; calls the
  tool asked for; for a stop, ends within ``STOP_WITHIN`` visible tokens);
- ``shipped_right_first``: a shipped tool's request whose first call names it;
- ``unseen_right_first``: the same for tools of held-out kinds;
- ``multi_all_called``: two- and three-request messages with every request's
  call made (a tool asked twice called at least twice);
- ``repeated_calls``: requests for tools where the same call (name and
  arguments) was made twice or more (lower is better);
- ``none_calls``: no-tool prompts that drew a call attempt (lower is better);
- ``valid_calls``: call attempts that parsed and fit the tool's schema;
- ``answers_use_result``: results with a key value (a clock's hour, a sum, a
  converted amount) whose value the text written after them repeats.

Each share comes with its counts and a 95 % Wilson interval (null, never NaN,
without a sample).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Z95 = 1.959963984540054
"""The standard normal quantile of a two-sided 95 % interval."""
KEY_VALUE_TOOLS = ("calc", "clock")
"""Shipped tools whose results have a key value the answer should repeat."""
TARGETS: dict[str, tuple[str, float]] = {
    "steer_goes_on": (">=", 0.9),
    "steer_taken_up": (">=", 0.7),
    "shipped_right_first": (">=", 0.9),
    "unseen_right_first": (">=", 0.75),
    "multi_all_called": (">=", 0.6),
    "repeated_calls": ("<=", 0.05),
    "none_calls": ("<=", 0.05),
}
"""The issue's targets (adapter, default settings)."""
METRICS = (
    "steer_goes_on", "steer_taken_up", "shipped_right_first", "unseen_right_first",
    "multi_all_called", "repeated_calls", "none_calls", "valid_calls", "answers_use_result",
)  # fmt: skip
LOWER_IS_BETTER = frozenset({"repeated_calls", "none_calls"})
TAKE_UP_TOKENS = 4
"""As the engine's rule (``core.decode.follow_up``): fewer visible tokens after a
message, and no call, is an answer that did not go on."""
STOP_WITHIN = 30


class ProbeLike(Protocol):
    """What the scorer reads of a steering message (``eval_requests.Probe``)."""

    @property
    def message(self) -> str:
        """The message typed mid-answer."""

    @property
    def type(self) -> str:
        """``correct``, ``switch``, ``mention``, ``stop`` or ``call``."""

    @property
    def word(self) -> str:
        """The word the rest of the answer should hold."""

    @property
    def tool(self) -> str:
        """The tool the rest of the answer should call."""


class RequestLike(Protocol):
    """What the scorer reads of a benchmark request (``eval_requests.EvalRequest``)."""

    @property
    def text(self) -> str:
        """The user's message."""

    @property
    def tools(self) -> tuple[str, ...]:
        """Expected calls' tools; empty: no tool should be called."""

    @property
    def kind(self) -> str:
        """``single``, ``unseen``, ``multi``, ``none`` or ``steer``."""


@dataclass(frozen=True)
class Attempt:
    """One call block the model wrote."""

    name: str | None
    """The tool it names; None when the block did not parse."""
    valid: bool
    """It parsed, names a known tool and its arguments fit the schema."""
    call: str = ""
    """The call as written (name and arguments), to find repeats."""
    after_message: bool = False
    """Written after the steering message landed."""
    turn: int = 1


@dataclass(frozen=True)
class ResultSeen:
    """A call's result that reached the model, and what the model wrote after."""

    tool: str
    value: str
    ok: bool
    after: str = ""
    """The plain answer text written after the result was injected (that turn)."""
    key: str = ""
    """The value an answer that uses the result repeats ('' : the tool's own rule)."""


@dataclass
class SteerSeen:
    """What became of a steering message."""

    landed: bool = False
    """It reached the model mid-answer (the answer had not ended before its token)."""
    after: str = ""
    """Visible text written after it, in that answer."""
    tokens_after: int = 0
    """Visible tokens written after it, in that answer."""
    stop: str = ""
    """How that answer ended."""
    follow_up: bool = False
    """The engine answered it in a turn of its own (the answer did not go on)."""


@dataclass
class RunRecord:
    """One request answered once on one side."""

    text: str
    kind: str
    expected: tuple[str, ...]
    side: str
    attempts: list[Attempt] = field(default_factory=list)
    results: list[ResultSeen] = field(default_factory=list)
    answer: str = ""
    """The whole plain answer (CML blocks left out; later turns included)."""
    n_generated: int = 0
    stop: str = ""
    error: str | None = None
    """Why the turn failed, if it did (it is still scored on what it wrote)."""
    ms: float = 0.0
    probe: ProbeLike | None = None
    steer: SteerSeen | None = None

    def to_json(self) -> dict[str, Any]:
        """This run's entry in ``--json`` ``runs``."""
        out: dict[str, Any] = {
            "side": self.side,
            "text": self.text,
            "kind": self.kind,
            "expected": list(self.expected),
            "calls": [a.call or a.name for a in self.attempts],
            "valid": [a.valid for a in self.attempts],
            "results": [{"tool": r.tool, "value": r.value, "ok": r.ok} for r in self.results],
            "answer": self.answer,
            "scores": {name: score(self) for name, score in SCORES.items()},
            "n_generated": self.n_generated,
            "stop": self.stop,
            "error": self.error,
            "ms": round(self.ms, 1),
        }
        if self.probe is not None and self.steer is not None:
            out["steer"] = {
                "message": self.probe.message,
                "type": self.probe.type,
                "landed": self.steer.landed,
                "tokens_after": self.steer.tokens_after,
                "after": self.steer.after,
                "follow_up": self.steer.follow_up,
            }
        return out


# ------------------------------------------------------------------ per run


def _first_turn(run: RunRecord) -> list[Attempt]:
    return [a for a in run.attempts if a.turn == 1]


def shipped_right_first(run: RunRecord) -> bool | None:
    """Shipped-tool requests: the first attempt names the expected tool."""
    if run.kind != "single":
        return None
    first = _first_turn(run)
    return bool(first) and first[0].name in run.expected


def unseen_right_first(run: RunRecord) -> bool | None:
    """Held-out kinds' requests: the first attempt names the expected tool."""
    if run.kind != "unseen":
        return None
    first = _first_turn(run)
    return bool(first) and first[0].name in run.expected


def multi_all_called(run: RunRecord) -> bool | None:
    """Two- and three-request messages: every expected call was made."""
    if run.kind != "multi":
        return None
    called = Counter(a.name for a in _first_turn(run) if a.name is not None)
    return all(called[tool] >= n for tool, n in Counter(run.expected).items())


def repeated_calls(run: RunRecord) -> bool | None:
    """Requests for tools: the same call (name and arguments) made twice or more."""
    if run.kind not in ("single", "unseen", "multi"):
        return None
    calls = [a.call for a in _first_turn(run) if a.call]
    return len(calls) != len(set(calls))


def none_calls(run: RunRecord) -> bool | None:
    """No-tool prompts: any call attempt at all."""
    if run.kind != "none":
        return None
    return bool(run.attempts)


def steer_goes_on(run: RunRecord) -> bool | None:
    """Steering: the answer went on after the message (None: it never landed)."""
    if run.kind != "steer" or run.steer is None or not run.steer.landed:
        return None
    seen = run.steer
    called = any(a.after_message for a in _first_turn(run))
    return called or seen.tokens_after >= TAKE_UP_TOKENS


def steer_taken_up(run: RunRecord) -> bool | None:
    """Steering: the text after the message did what it asked."""
    if run.kind != "steer" or run.steer is None or run.probe is None or not run.steer.landed:
        return None
    seen, probe = run.steer, run.probe
    match probe.type:
        case "stop":
            return seen.stop == "eos" and seen.tokens_after <= STOP_WITHIN
        case "call":
            return any(a.after_message and a.name == probe.tool for a in _first_turn(run))
        case _:
            return re.search(rf"\b{re.escape(probe.word)}", seen.after, re.IGNORECASE) is not None


def answers_use_result(run: RunRecord) -> bool | None:
    """Results with a key value (the first successful one per tool): the text
    written after each repeats it; None when no such result came back (the
    other measures count the missing call)."""
    checked = False
    seen: set[str] = set()
    for res in run.results:
        if not res.ok or res.tool in seen or res.tool not in run.expected:
            continue
        if not res.key and res.tool not in KEY_VALUE_TOOLS:
            continue
        seen.add(res.tool)
        checked = True
        if res.key:
            if res.key.lower() not in res.after.lower():
                return False
        elif not mentions_key_value(res.tool, res.value, res.after):
            return False
    return True if checked else None


SCORES: dict[str, Callable[[RunRecord], bool | None]] = {
    "steer_goes_on": steer_goes_on,
    "steer_taken_up": steer_taken_up,
    "shipped_right_first": shipped_right_first,
    "unseen_right_first": unseen_right_first,
    "multi_all_called": multi_all_called,
    "repeated_calls": repeated_calls,
    "none_calls": none_calls,
    "answers_use_result": answers_use_result,
}
"""Per-run scores (``valid_calls`` counts attempts, not runs)."""


# ------------------------------------------------------------------ key values

_CLOCK = re.compile(r"\b\d{4}-\d{2}-\d{2} (\d{2}):(\d{2})")


def _number_forms(value: str) -> list[str]:
    """How an answer may write the number ``value``: as given, with thousands
    separators, rounded to 0-4 decimals."""
    text = value.strip()
    forms = [text]
    try:
        number = float(text)
    except ValueError:
        return forms
    if math.isfinite(number):
        if number.is_integer() and abs(number) >= 1000:
            forms.append(f"{int(number):,}")
        if not number.is_integer():
            forms += [f"{number:.{d}f}" for d in range(0, 5)]
            forms += [f"{number:,.{d}f}" for d in range(0, 3)]
    return list(dict.fromkeys(forms))


def mentions_key_value(tool: str, value: str, text: str) -> bool:
    """Whether ``text`` repeats the key value of ``tool``'s result ``value``.

    ``calc``: the number (as returned, with thousands separators, or rounded;
    not as part of a longer number).  ``clock``: the hour, written ``H:MM``
    (24-hour, leading zero optional), or on the 12-hour clock with am/pm or
    ``o'clock``.  Other tools have no key value (False).
    """
    if tool == "calc":
        return any(
            re.search(rf"(?<![\d.]){re.escape(form)}(?![\d]|\.\d)", text)
            for form in _number_forms(value)
            if form
        )
    if tool == "clock":
        found = _CLOCK.search(value)
        if found is None:
            return False
        hour = int(found.group(1))
        h12 = hour % 12 or 12
        patterns = [
            rf"(?<!\d)0?{hour}:\d\d",
            rf"(?<!\d)0?{h12}(?::\d\d)?\s*(?:[ap]\.?\s?m\b|o'clock)",
        ]
        return any(re.search(p, text, re.IGNORECASE) for p in patterns)
    return False


# ------------------------------------------------------------------ shares


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of the share ``k / n`` (None when ``n`` is 0).

    Raises:
        ValueError: ``k`` outside ``0..n``.
    """
    if not 0 <= k <= n:
        raise ValueError(f"k must be within 0..n (k={k}, n={n})")
    if n == 0:
        return None
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)  # exact at the ends (no 0.9999...)
    return lo, hi


@dataclass(frozen=True)
class Share:
    """``k`` of ``n``, with its 95 % Wilson interval."""

    k: int
    n: int

    @property
    def value(self) -> float | None:
        """``k / n``; None without a sample."""
        return self.k / self.n if self.n else None

    @property
    def ci95(self) -> tuple[float, float] | None:
        """The 95 % Wilson interval; None without a sample."""
        return wilson(self.k, self.n)

    def to_json(self) -> dict[str, Any]:
        """``{"k", "n", "share", "ci95"}`` (null share and interval when n is 0)."""
        ci = self.ci95
        value = self.value
        return {
            "k": self.k,
            "n": self.n,
            "share": None if value is None else round(value, 4),
            "ci95": None if ci is None else [round(ci[0], 4), round(ci[1], 4)],
        }

    def cell(self) -> str:
        """``0.67 (2/3) [0.21-0.94]`` for the table; ``-`` without a sample."""
        value, ci = self.value, self.ci95
        if value is None or ci is None:
            return "- (0/0)"
        return f"{value:.2f} ({self.k}/{self.n}) [{ci[0]:.2f}-{ci[1]:.2f}]"


def count(flags: Sequence[bool | None]) -> Share:
    """The share of True among the flags that are not None."""
    scored = [f for f in flags if f is not None]
    return Share(sum(scored), len(scored))


@dataclass
class SideSummary:
    """Every measure of one side over its runs."""

    side: str
    shares: dict[str, Share]
    requests: dict[str, int]
    """Runs per request kind."""
    calls: int
    """Call attempts in all runs."""
    failed: int
    """Runs whose turn failed (still scored)."""
    tokens: int
    seconds: float
    landed: Share = field(default_factory=lambda: Share(0, 0))
    """Steering messages that reached the model mid-answer."""
    follow_ups: int = 0
    """Steering messages the engine answered in a turn of their own."""

    def to_json(self) -> dict[str, Any]:
        """This side's entry in ``--json`` ``sides``."""
        return {
            "side": self.side,
            "requests": self.requests,
            "runs": sum(self.requests.values()),
            "calls": self.calls,
            "failed_turns": self.failed,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 2),
            **{name: share.to_json() for name, share in self.shares.items()},
            "steer_landed": self.landed.to_json(),
            "steer_follow_ups": self.follow_ups,
            "targets": {
                name: {"op": op, "value": value, "met": met(op, value, self.shares[name])}
                for name, (op, value) in TARGETS.items()
            },
        }


def met(op: str, value: float, share: Share) -> bool | None:
    """Whether ``share`` meets ``op value`` (None without a sample)."""
    if share.value is None:
        return None
    return share.value >= value if op == ">=" else share.value <= value


def summarize(side: str, runs: Sequence[RunRecord]) -> SideSummary:
    """Aggregate one side's runs."""
    shares = {name: count([score(r) for r in runs]) for name, score in SCORES.items()}
    attempts = [a for r in runs for a in r.attempts]
    shares["valid_calls"] = Share(sum(a.valid for a in attempts), len(attempts))
    kinds: dict[str, int] = {}
    for r in runs:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    steered = [r.steer for r in runs if r.kind == "steer" and r.steer is not None]
    return SideSummary(
        side=side,
        shares={name: shares[name] for name in METRICS},
        requests=kinds,
        calls=len(attempts),
        failed=sum(1 for r in runs if r.error),
        tokens=sum(r.n_generated for r in runs),
        seconds=sum(r.ms for r in runs) / 1000,
        landed=Share(sum(s.landed for s in steered), len(steered)),
        follow_ups=sum(s.follow_up for s in steered),
    )
