"""The replay oracle: what a perfect model would write, decided online.

The paper's latency runs put the ground truth in the prompt (a "cheat sheet")
so that wrong calls do not distort timings.  The replay driver goes one step
further: the oracle decides every token, and those tokens are teacher-forced
through the real model, so each one still costs a real decode step.

The decision must be online, not a fixed script: under AsyncLM a trap resumes
at the *next* interrupt, and which results have arrived (hence which calls are
ready, and whether to trap again) depends on real timings.  The policy is the
paper's (section 4.1): among ready calls, issue the one with the longest
execution time first (LPT); trap when everything left depends on pending
results; give a one-sentence answer once every result is in.  Under the sync
and parallel modes the same policy writes the same text; the engine's mode
alone decides when calls run and when results arrive.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from asynclm_tui.core.backends.base import Pieces, skip_text
from asynclm_tui.core.cml.syntax import CALL, END, HEAD, TRAP
from asynclm_tui.lab.tasks.bfcl_data import PlannedCall, Task

Order = Literal["lpt", "random"]
SegmentKind = Literal["call", "trap", "answer", "end"]

TRAP_TEXT = f" {TRAP}{END}"


def call_text(call_id: str, call: PlannedCall) -> str:
    """One call block as the oracle writes it (a leading space separates it
    from whatever came before, so every block tokenizes the same way)."""
    return f" {CALL} {call_id} {HEAD} {call.render()} {END}"


def answer_text(task: Task) -> str:
    """The one-sentence final answer (the same for every strategy)."""
    n = len(task.calls)
    return f" All {n} calls are done."


@dataclass(frozen=True)
class Segment:
    """A unit of oracle output: a call block, a trap, the answer, or the end
    of the assistant's turn (EOS)."""

    kind: SegmentKind
    text: str = ""
    call: int | None = None


@dataclass
class Policy:
    """The pure decision rule, shared by the live oracle and the ideal bound.

    It knows which sub-tasks have arrived, which calls were issued and which
    results are in; :meth:`next_segment` says what to write next.
    """

    task: Task
    durations: Sequence[float]
    ids: Sequence[str]
    order: Order = "lpt"
    known_groups: set[int] = field(default_factory=lambda: {0})
    issued: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    answered: bool = False
    rng: random.Random = field(default_factory=random.Random)

    def ready(self) -> list[int]:
        """Calls whose sub-task arrived and whose dependencies are in."""
        return [
            i
            for i, call in enumerate(self.task.calls)
            if i not in self.issued
            and call.group in self.known_groups
            and all(d in self.done for d in call.deps)
        ]

    def choose(self, ready: list[int]) -> int:
        """LPT: the longest execution time first (ties by call order)."""
        if self.order == "random":
            return self.rng.choice(ready)
        return max(ready, key=lambda i: (self.durations[i], -i))

    def next_segment(self) -> Segment:
        """What to write next, given everything known now."""
        ready = self.ready()
        if ready:
            i = self.choose(ready)
            self.issued.add(i)
            return Segment("call", call_text(self.ids[i], self.task.calls[i]), i)
        if self.issued - self.done:
            return Segment("trap", TRAP_TEXT)
        every_group = len(self.known_groups) == len(self.task.subtasks)
        if every_group and len(self.done) == len(self.task.calls) and not self.answered:
            self.answered = True
            return Segment("answer", answer_text(self.task))
        # Finished, or idle until another user request arrives: end the turn.
        return Segment("end")

    @property
    def finished(self) -> bool:
        """True once the answer was written."""
        return self.answered


class Oracle:
    """Hands the policy's text out one token at a time from the decode thread
    (what the engine forced itself is skipped, see :meth:`skip`).

    ``tokenize`` is applied to every segment up front (on the caller's thread)
    so the decode thread only pops integers.
    """

    def __init__(
        self,
        policy: Policy,
        tokenize: Callable[[str], list[int]],
        eos: int,
    ) -> None:
        self.policy = policy
        self.eos = eos
        self._lock = threading.Lock()
        self._queue: deque[int] = deque()
        self._by_id = {call_id: i for i, call_id in enumerate(policy.ids)}
        self._group_of_text = {s.prompt: g for g, s in enumerate(policy.task.subtasks)}
        task = policy.task
        self.tokens: dict[str, list[int]] = {
            text: tokenize(text)
            for text in [
                TRAP_TEXT,
                answer_text(task),
                *(call_text(policy.ids[i], c) for i, c in enumerate(task.calls)),
            ]
        }
        self.log: list[Segment] = []

    def segment_tokens(self, text: str) -> int:
        """Token count of a segment the oracle may write."""
        return len(self.tokens[text])

    def next_token(self) -> int:
        """The next forced token (EOS at the end of a turn)."""
        with self._lock:
            if not self._queue:
                seg = self.policy.next_segment()
                self.log.append(seg)
                if seg.kind == "end":
                    return self.eos
                self._queue.extend(self.tokens[seg.text])
            return self._queue.popleft()

    def skip(self, tokens: Sequence[int], vocab: Pieces) -> None:
        """The engine wrote ``tokens`` itself (what the call grammar forced,
        jump-forward): they leave the queue, which held them too."""
        with self._lock:
            skip_text(self._queue, b"".join(vocab.piece(t) for t in tokens), vocab)

    def result_in(self, call_id: str) -> None:
        """An interrupt for ``call_id`` was appended to the context."""
        with self._lock:
            i = self._by_id.get(call_id)
            if i is not None:
                self.policy.done.add(i)

    def user_arrived(self, text: str) -> None:
        """A user request reached the model (new turn or ``[INTR] user``)."""
        with self._lock:
            group = self._group_of_text.get(text)
            if group is not None:
                self.policy.known_groups.add(group)

    @property
    def finished(self) -> bool:
        """True once the final answer was handed out in full."""
        with self._lock:
            return self.policy.finished and not self._queue
