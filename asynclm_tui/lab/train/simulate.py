"""The simulated clock behind the training set: where interrupts land.

The model writes one token per ``tpot`` ms, a call starts when its block
closes, a result lands at the first token boundary after it is ready and
outside a block (the engine's safe point), a trap waits for the next one, and
a user message typed mid-answer lands the same way.  How long a call takes
and what it returns (a failure, a denial or a timeout included) is decided
here too; :mod:`asynclm_tui.lab.train.play` plays the answer on this clock.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from typing import Any

from asynclm_tui.core.cml.syntax import CALL, END, HEAD, TRAP
from asynclm_tui.lab.tasks.requests import Need


class Tokenizer:
    """The engine's view of the model: chat template, tokenizer and detokenizer."""

    def __init__(
        self,
        render: Callable[[Sequence[dict[str, str]]], str],
        tokenize: Callable[[str, bool], list[int]],
        eos: int,
        detokenize: Callable[[Sequence[int]], str] | None = None,
    ) -> None:
        self.render = render
        self.tokenize = tokenize
        self.eos = eos
        self.detokenize = detokenize or (lambda ids: "")


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
        self.user_landed = False
        """A user message was injected during the last :meth:`write`."""
        self.stopped = False
        """The last :meth:`write` stopped early for a user message."""

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
                self.user_landed |= kind == "user"
                self.text.append(block)
                self.tokens += self.tok.tokenize(block, False)

    def write(self, text: str, *, block: bool = False, stop_on_user: bool = False) -> str:
        """Model-written text; interrupts may land between its tokens unless
        it is a CML block (the critical section), and after its last token.
        ``stop_on_user``: stop right after the token a user message landed
        behind.  Returns the text written (all of ``text`` unless stopped);
        :attr:`text` keeps it split where interrupts landed, as the engine does."""
        if not self.tokens or not self.text:
            text = text.lstrip()
        ids = self.tok.tokenize(text, False)
        self.user_landed = self.stopped = False
        done = ""
        for k, token in enumerate(ids):
            start = len(self.tokens)
            self.tokens.append(token)
            self.spans.append([start, start + 1])
            self.clock += self.tpot
            if (not block or k == len(ids) - 1) and self._due():
                upto = self._prefix(text, ids, k + 1)
                self.text.append(upto[len(done) :])
                done = upto
                self.flush()
            if stop_on_user and self.user_landed and k < len(ids) - 1:
                self.stopped = True
                return done
        if len(done) < len(text):
            self.text.append(text[len(done) :])
        return text

    def _due(self) -> bool:
        return bool(self._events) and self._events[0][0] <= self.clock

    def _prefix(self, text: str, ids: Sequence[int], n: int) -> str:
        """The part of ``text`` that its first ``n`` tokens spell."""
        if n >= len(ids):
            return text
        written = self.tok.detokenize(ids[:n])
        return written if text.startswith(written) else text[: len(written)]

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


# ------------------------------------------------------------------ calls

DENIED = "error: the user denied this call"
TIMEOUT_S = 10
FAILURES = (
    "error: HTTPStatusError: 503 Service Unavailable",
    "error: ConnectError: [Errno -3] Temporary failure in name resolution",
    "error: HTTPStatusError: 404 Not Found",
    "error: the service returned no data",
)


def duration_ms(need: Need, estimate: float, rng: random.Random, value: str) -> float:
    """How long a call runs: the shipped tools as they do in reality, others
    around their declared estimate; a timeout takes its whole limit; a call
    that needs approval waits for the user first."""
    if value.startswith("error: timed out"):
        return TIMEOUT_S * 1000.0
    wait = rng.uniform(600.0, 5000.0) if need.acts or need.tool == "save_note" else 0.0
    match need.tool:
        case "weather":
            return wait + rng.uniform(250.0, 1500.0)
        case "sleep":
            return wait + float(need.kwargs.get("ms", 1000)) + rng.uniform(0.5, 3.0)
        case "list_dir" | "echo":
            return wait + rng.uniform(2.0, 15.0)
        case "clock" | "calc":
            return wait + rng.uniform(0.3, 3.0)
        case _:
            return wait + max(0.3, estimate * rng.uniform(0.5, 1.6))


def outcome(need: Need, rng: random.Random, *, fail: float = 0.1, local: bool = False) -> str:
    """What the call returns: its result, or (``fail`` of the time, for tools
    that can fail) an error, a timeout or, for one that acts, a denial.
    ``local``: a quick tool on this machine, which does not fail over the network."""
    if need.tool == "save_note" or need.acts:
        return DENIED if rng.random() < fail else need.result(rng)
    if local or need.tool in ("clock", "calc", "echo", "sleep", "list_dir"):
        return need.result(rng)
    if rng.random() < fail:
        if need.tool == "weather":
            return FAILURES[1]
        timed_out = rng.random() < 0.4
        return f"error: timed out after {TIMEOUT_S} s" if timed_out else rng.choice(FAILURES)
    return need.result(rng)


def report(need: Need, value: str) -> str:
    """The answer sentence for a call's result: what the tool said, or the
    failure said as such (never papered over)."""
    if not value.startswith("error:"):
        return need.report(value)
    doing = need.doing or _SHIPPED_DOING.get(need.tool, f"run {need.tool}")
    if value == DENIED:
        return f"You declined, so I did not {doing}."
    if value.startswith("error: timed out"):
        return f"The {need.tool} call timed out, so I could not {doing}."
    return f"I could not {doing}: {value[len('error: ') :]}."


_SHIPPED_DOING = {
    "weather": "get the weather",
    "save_note": "save the note",
    "list_dir": "list the folder",
    "sleep": "wait",
    "clock": "read the clock",
    "calc": "work it out",
    "echo": "echo it",
}


def render_call(call_id: str, tool: str, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    """A call block as the model writes it (leading space; stripped at the start)."""
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f" {CALL} {call_id} {HEAD} {tool}({', '.join(parts)}) {END}"


class IdMaker:
    """Call ids as the examples teach them: the tool's name and a running number."""

    def __init__(self, start: int = 0) -> None:
        self.n = start

    def __call__(self, tool: str) -> str:
        self.n += 1
        stem = "".join(ch for ch in tool.split(".")[-1].lower() if ch.isalnum() or ch == "_")
        return f"{(stem or 'call')[:12].strip('_') or 'call'}{self.n}"
