"""The simulated clock behind the training set: where interrupts land.

The model writes one token per ``tpot`` ms, a call starts when its block
closes, a result lands at the first token boundary after it is ready and
outside a block (the engine's safe point), a trap waits for the next one, and
a user message typed mid-answer lands the same way.  The policy is the
paper's: issue calls as soon as they are known, longest estimated first
(LPT); report results as they arrive; trap only when nothing else can be
written; end once everything is reported.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from asynclm_tui.core.cml.syntax import CALL, END, HEAD, TRAP, USER_ID, format_interrupt
from asynclm_tui.lab.tasks.requests import Need, ToolAsk


class Tokenizer:
    """The engine's view of the model: chat template and tokenizer."""

    def __init__(
        self,
        render: Callable[[Sequence[dict[str, str]]], str],
        tokenize: Callable[[str, bool], list[int]],
        eos: int,
    ) -> None:
        self.render = render
        self.tokenize = tokenize
        self.eos = eos


@dataclass
class _Call:
    need: Need
    estimate: float
    issued: bool = False
    done: bool = False
    value: str = ""
    reported: bool = False
    dropped: bool = False
    id: str = ""


class Simulator:
    """Plays one assistant turn token by token against a simulated clock."""

    def __init__(self, tok: Tokenizer, rng: random.Random) -> None:
        self.tok = tok
        self.rng = rng
        self.tpot = rng.uniform(8.0, 30.0)
        self.clock = 0.0
        self.tokens: list[int] = []
        self.spans: list[list[int]] = []
        self.text: list[str] = []
        self._events: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self.on_event: Callable[[str, Any], str | None] = lambda kind, payload: None

    def schedule(self, at: float, kind: str, payload: Any) -> None:
        """An interrupt source (a result or a user message) ready at ``at`` ms."""
        heapq.heappush(self._events, (at, self._seq, kind, payload))
        self._seq += 1

    @property
    def pending(self) -> bool:
        """Whether anything is still due."""
        return bool(self._events)

    def flush(self) -> None:
        """Inject everything ready now, all at once (the engine's flush)."""
        while self._events and self._events[0][0] <= self.clock:
            _, _, kind, payload = heapq.heappop(self._events)
            block = self.on_event(kind, payload)
            if block:
                self.text.append(block)
                self.tokens += self.tok.tokenize(block, False)

    def write(self, text: str, *, block: bool = False) -> None:
        """Model-written text; interrupts may land between its tokens unless
        it is a CML block (the critical section), and after its last token."""
        if not self.tokens or not self.text:
            text = text.lstrip()
        ids = self.tok.tokenize(text, False)
        self.text.append(text)
        for k, token in enumerate(ids):
            start = len(self.tokens)
            self.tokens.append(token)
            self.spans.append([start, start + 1])
            self.clock += self.tpot
            if not block or k == len(ids) - 1:
                self.flush()

    def trap(self) -> None:
        """``[TRAP][END]``, then wait for the next interrupt."""
        self.write(f" {TRAP}{END}", block=True)
        if self._events:
            self.clock = max(self.clock, self._events[0][0])
            self.flush()

    def end(self) -> None:
        """The end-of-turn token (trained: the model must learn to stop)."""
        start = len(self.tokens)
        self.tokens.append(self.tok.eos)
        self.spans.append([start, start + 1])

    def merged_spans(self) -> list[list[int]]:
        """Adjacent one-token spans joined."""
        out: list[list[int]] = []
        for a, b in self.spans:
            if out and out[-1][1] == a:
                out[-1][1] = b
            else:
                out.append([a, b])
        return out


def _duration_ms(need: Need, rng: random.Random) -> float:
    match need.tool:
        case "weather":
            return rng.uniform(250.0, 1500.0)
        case "save_note":
            return rng.uniform(600.0, 5000.0)  # waiting for the user's approval
        case "sleep":
            return float(need.kwargs.get("ms", 1000)) + rng.uniform(0.5, 3.0)
        case "list_dir" | "echo":
            return rng.uniform(2.0, 15.0)
        case _:
            return rng.uniform(0.3, 3.0)


def _result(need: Need, rng: random.Random) -> str:
    if need.tool == "weather" and rng.random() < 0.12:
        return "error: ConnectError: [Errno -3] Temporary failure in name resolution"
    if need.tool == "save_note" and rng.random() < 0.1:
        return "error: the user denied this call"
    return need.result(rng)


def _report(need: Need, value: str) -> str:
    if value.startswith("error:"):
        what = {"weather": "the weather", "save_note": "the note"}.get(need.tool, need.tool)
        return (
            f"I could not get {what}: {value[len('error: ') :]}."
            if need.tool != "save_note"
            else "You declined, so I did not save the note."
        )
    return need.report(value)


def render_call(call_id: str, tool: str, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    """A call block as the model writes it (leading space; stripped at the start)."""
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f" {CALL} {call_id} {HEAD} {tool}({', '.join(parts)}) {END}"


class IdMaker:
    """Call ids as the examples teach them: the tool's name and a running number."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, tool: str) -> str:
        self.n += 1
        stem = "".join(ch for ch in tool.split(".")[-1].lower() if ch.isalnum() or ch == "_")
        return f"{(stem or 'call')[:12].strip('_') or 'call'}{self.n}"


def play_tools(
    sim: Simulator,
    ask: ToolAsk,
    estimate: Callable[[Need], float],
    ids: IdMaker,
    *,
    late: list[tuple[float, ToolAsk, bool]] = (),  # type: ignore[assignment]
) -> None:
    """One turn answering ``ask`` (``late``: user messages typed mid-answer,
    each (delay after the first call in ms, the request, whether it replaces
    the earlier one))."""
    rng = sim.rng
    calls: list[_Call] = []

    def add(needs: Sequence[Need]) -> None:
        calls.extend(_Call(n, estimate(n)) for n in needs)

    def on_event(kind: str, payload: Any) -> str | None:
        if kind == "user":
            text, new, replaces = payload
            if replaces:
                for c in calls:
                    if not c.reported:
                        c.dropped = True
            add(new.needs)
            return format_interrupt(USER_ID, text)
        call: _Call = payload
        call.done = True
        return format_interrupt(call.id, call.value)

    sim.on_event = on_event
    add(ask.needs)
    opener_left = ask.opener
    first_call_at: float | None = None
    while True:
        fresh = [c for c in calls if not c.issued and not c.dropped]
        if fresh:
            c = max(fresh, key=lambda c: c.estimate)  # LPT; ties keep the asked order
            c.issued, c.id = True, ids(c.need.tool)  # ids follow the order calls go out
            sim.write(render_call(c.id, c.need.tool, (), c.need.kwargs), block=True)
            c.value = _result(c.need, rng)
            sim.schedule(sim.clock + _duration_ms(c.need, rng), "result", c)
            if first_call_at is None:
                first_call_at = sim.clock
                for delay, new, replaces in late:
                    sim.schedule(sim.clock + delay, "user", (new.text, new, replaces))
            continue
        if opener_left:
            sim.write(" " + opener_left)
            opener_left = ""
            continue
        ready = [c for c in calls if c.done and not c.reported and not c.dropped]
        if ready:
            for c in ready:
                c.reported = True
            sim.write(" " + " ".join(_report(c.need, c.value) for c in ready))
            continue
        if sim.pending:
            sim.trap()
            continue
        break
    sim.end()
