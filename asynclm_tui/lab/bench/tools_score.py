"""``asynclm bench tools``' arithmetic: what one run did, how it scores, the shares.

No model here: :mod:`asynclm_tui.lab.bench.tools_eval` records each run of a
request as a :class:`RunRecord`, and this module scores and aggregates them
(tested on its own in tests/bench/test_tools_eval.py).

Measures, per side (base model, base + adapter):

- ``right_tool_first``: single-tool requests whose first call attempt names
  one of the expected tools (no call, or a block that did not parse, is wrong).
- ``both_tools``: two-tool requests in which every expected tool was called.
- ``no_call_ok``: no-tool prompts answered without any call attempt (the
  target is a call on at most 10 % of them, so a share of at least 0.9).
- ``valid_calls``: call attempts that parsed and fit the tool's schema.
- ``answers_use_result``: clock and calc requests whose text written after the
  result came back contains the result's key value (the number, the hour).

Each share comes with its counts and a 95 % Wilson interval (null, never NaN,
without a sample).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Z95 = 1.959963984540054
"""The standard normal quantile of a two-sided 95 % interval."""
NO_CALL_TARGET = 0.9
"""Target: no-tool prompts draw a call at most 10 % of the time."""
KEY_VALUE_TOOLS = ("calc", "clock")
"""Tools whose results have a key value the answer should repeat."""
METRICS = ("right_tool_first", "both_tools", "no_call_ok", "valid_calls", "answers_use_result")


class RequestLike(Protocol):
    """What the scorer reads of a held-out request
    (``asynclm_tui.lab.tasks.requests.Request``)."""

    @property
    def text(self) -> str:
        """The user's message."""

    @property
    def tools(self) -> tuple[str, ...]:
        """Expected tools, any order; empty: no tool should be called."""

    @property
    def kind(self) -> str:
        """``single``, ``pair`` or ``none``."""


@dataclass(frozen=True)
class Attempt:
    """One call block the model wrote."""

    name: str | None
    """The tool it names; None when the block did not parse."""
    valid: bool
    """It parsed, names a known tool and its arguments fit the schema."""


@dataclass(frozen=True)
class ResultSeen:
    """A call's result that reached the model, and what the model wrote after."""

    tool: str
    value: str
    ok: bool
    after: str = ""
    """The plain answer text written after the result was injected."""


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
    """The whole plain answer (CML blocks left out)."""
    n_generated: int = 0
    stop: str = ""
    error: str | None = None
    """Why the turn failed, if it did (it is still scored on what it wrote)."""
    ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """This run's entry in ``--json`` ``runs``."""
        return {
            "side": self.side,
            "text": self.text,
            "kind": self.kind,
            "expected": list(self.expected),
            "calls": [a.name for a in self.attempts],
            "valid": [a.valid for a in self.attempts],
            "results": [{"tool": r.tool, "value": r.value, "ok": r.ok} for r in self.results],
            "answer": self.answer,
            "scores": {name: score(self) for name, score in SCORES.items()},
            "n_generated": self.n_generated,
            "stop": self.stop,
            "error": self.error,
            "ms": round(self.ms, 1),
        }


# ------------------------------------------------------------------ per run


def right_tool_first(run: RunRecord) -> bool | None:
    """Single-tool requests: the first attempt names an expected tool."""
    if run.kind != "single":
        return None
    return bool(run.attempts) and run.attempts[0].name in run.expected


def both_tools(run: RunRecord) -> bool | None:
    """Two-tool requests: every expected tool was called."""
    if run.kind != "pair":
        return None
    called = {a.name for a in run.attempts if a.name is not None}
    return set(run.expected) <= called


def no_call_ok(run: RunRecord) -> bool | None:
    """No-tool prompts: not a single call attempt."""
    if run.kind != "none":
        return None
    return not run.attempts


def answers_use_result(run: RunRecord) -> bool | None:
    """Clock and calc requests: the text after each such result (the first
    successful one per tool) contains its key value; None when no such result
    came back (the other measures count the missing call)."""
    checked = False
    seen: set[str] = set()
    for res in run.results:
        if res.tool not in KEY_VALUE_TOOLS or res.tool not in run.expected or not res.ok:
            continue
        if res.tool in seen:
            continue
        seen.add(res.tool)
        checked = True
        if not mentions_key_value(res.tool, res.value, res.after):
            return False
    return True if checked else None


SCORES: dict[str, Callable[[RunRecord], bool | None]] = {
    "right_tool_first": right_tool_first,
    "both_tools": both_tools,
    "no_call_ok": no_call_ok,
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

    def to_json(self) -> dict[str, Any]:
        """This side's entry in ``--json`` ``sides``."""
        no_call = self.shares["no_call_ok"].value
        return {
            "side": self.side,
            "requests": self.requests,
            "runs": sum(self.requests.values()),
            "calls": self.calls,
            "failed_turns": self.failed,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 2),
            **{name: share.to_json() for name, share in self.shares.items()},
            "no_call_target": NO_CALL_TARGET,
            "no_call_target_met": None if no_call is None else no_call >= NO_CALL_TARGET,
        }


def summarize(side: str, runs: Sequence[RunRecord]) -> SideSummary:
    """Aggregate one side's runs."""
    shares = {name: count([score(r) for r in runs]) for name, score in SCORES.items()}
    attempts = [a for r in runs for a in r.attempts]
    shares["valid_calls"] = Share(sum(a.valid for a in attempts), len(attempts))
    kinds: dict[str, int] = {"single": 0, "pair": 0, "none": 0}
    for r in runs:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    return SideSummary(
        side=side,
        shares={name: shares[name] for name in METRICS},
        requests=kinds,
        calls=len(attempts),
        failed=sum(1 for r in runs if r.error),
        tokens=sum(r.n_generated for r in runs),
        seconds=sum(r.ms for r in runs) / 1000,
    )
