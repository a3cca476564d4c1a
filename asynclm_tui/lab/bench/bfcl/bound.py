"""Calibrated bounds: the best schedule each strategy allows, on this machine.

The task's oracle policy is played in virtual time on the calibrated cost
model (:mod:`asynclm_tui.lab.bench.bfcl.calibrate`) with the true call durations:
every token costs one decode call at its context length, results and user
requests go in at the next block boundary at the cost of appending their
tokens (with the token they ride with), calls are issued in LPT order with
the durations known, and nothing else takes time (no executor, no wake-ups,
no event handling).  The modes differ only in what the engine's schedulers
allow:

- ``async``: a call starts when its block closes; decoding pauses only at a
  trap with nothing ready.
- ``sync``: decoding waits after each call block for that call's result.
- ``parallel``: calls start together at the next trap, which waits for all.

With ``reprefill`` injection an interrupt re-evaluates the whole context;
``prefix`` is charged like ``kv`` (its tokenization is overhead, not part of
the bound).  Token timing follows the engine: a token is picked, then
appended with whatever goes in after it, then the next is sampled.  Latency
is from the first picked token to the last, as in the runs.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from asynclm_tui.core.api.enums import Injection, Mode
from asynclm_tui.lab.bench.bfcl.calibrate import CostModel
from asynclm_tui.lab.bench.bfcl.steps import Steps
from asynclm_tui.lab.tasks.bfcl_data import Task
from asynclm_tui.lab.tasks.oracle import Order, Policy


@dataclass(frozen=True)
class BoundInputs:
    """What one run measured that its bound needs (same for every strategy
    of a task, up to how interrupts tokenize)."""

    durations: Sequence[float]
    ids: Sequence[str]
    segment_tokens: Mapping[str, int]
    """Oracle segment text -> tokens."""
    frame_tokens: Mapping[str, int]
    """Call id -> tokens of its interrupt."""
    user_tokens: Mapping[str, int]
    """A later request's text -> tokens it added (interrupt or new turn)."""
    n_prompt: int
    """Context length at the first token."""
    segment_steps: Mapping[str, Steps] = field(default_factory=dict)
    """Oracle segment text -> tokens each decode step appends (jump-forward
    puts a forced run in with the token sampled before it); absent: one each."""


class _Clock:
    """Virtual time of one simulated run: arrivals waiting to go in."""

    def __init__(self, task: Task, inputs: BoundInputs, arrivals: Sequence[float]) -> None:
        self.heap: list[tuple[float, int, str, int]] = []
        self.ready: list[tuple[str, int]] = []
        for g in range(1, len(task.subtasks)):
            heapq.heappush(self.heap, (arrivals[g], g, "user", g))
        self.seq = len(task.subtasks)
        self.task, self.inputs = task, inputs

    def result_at(self, when: float, call: int) -> None:
        heapq.heappush(self.heap, (when, self.seq, "result", call))
        self.seq += 1

    def due(self, now: float) -> None:
        """Everything that arrived by ``now`` is ready to go in."""
        while self.heap and self.heap[0][0] <= now:
            _, _, kind, idx = heapq.heappop(self.heap)
            self.ready.append((kind, idx))

    def next_arrival(self) -> float | None:
        return self.heap[0][0] if self.heap else None

    def tokens(self, item: tuple[str, int]) -> int:
        kind, idx = item
        if kind == "result":
            return self.inputs.frame_tokens.get(self.inputs.ids[idx], 0)
        return self.inputs.user_tokens.get(self.task.subtasks[idx].prompt, 0)


def bound_ms(
    task: Task,
    inputs: BoundInputs,
    cost: CostModel,
    mode: Mode,
    injection: Injection = Injection.KV,
    *,
    arrivals_ms: Sequence[float] | None = None,
    order: Order = "lpt",
    seed: int = 0,
) -> float:
    """The least first-to-last-token latency of ``task`` under ``mode``, in ms."""
    groups = len(task.subtasks)
    arrive = list(arrivals_ms) if arrivals_ms is not None else [0.0] * groups
    policy = Policy(
        task,
        inputs.durations,
        inputs.ids,
        order,
        known_groups={g for g in range(groups) if arrive[g] <= 0.0},
        rng=random.Random(f"order:{seed}:{task.id}"),
    )
    clock = _Clock(task, inputs, arrive)
    collected: list[int] = []
    t = last = 0.0  # the next pick; the last token's pick
    n = inputs.n_prompt

    def take_ready() -> int:
        """Mark what is ready as in the context; returns its tokens."""
        k = sum(clock.tokens(item) for item in clock.ready)
        for kind, idx in clock.ready:
            (policy.done.add if kind == "result" else policy.known_groups.add)(idx)
        clock.ready.clear()
        return k

    while True:
        seg = policy.next_segment()
        if seg.kind == "end":
            clock.due(t)
            nxt = clock.next_arrival()
            if not clock.ready and nxt is None:
                break
            # The turn ended (EOS: a sample, no append); a new turn's prompt
            # is prefilled when the next request arrives.
            if not clock.ready and nxt is not None:
                t = max(t, nxt)
                clock.due(t)
            k = take_ready()
            t += cost.cost_ms(k, n)
            n += k
            continue
        k = inputs.segment_tokens[seg.text]
        steps = inputs.segment_steps.get(seg.text) or (1,) * k
        last = t
        for batch in steps[:-1]:  # every step but the last: append its batch, pick
            last += cost.cost_ms(batch, n)
            n += batch
        final = steps[-1]  # the segment's last pick: its batch goes in with the results
        resume = last
        if seg.kind == "call" and seg.call is not None:
            if mode is Mode.PARALLEL:
                collected.append(seg.call)
            else:
                clock.result_at(last + inputs.durations[seg.call], seg.call)
                if mode is Mode.SYNC:
                    resume = last + inputs.durations[seg.call]
        elif seg.kind == "trap":
            if collected:
                resume = last + max(inputs.durations[c] for c in collected)
                for c in collected:
                    clock.result_at(last + inputs.durations[c], c)
                collected.clear()
            else:
                clock.due(last)
                nxt = clock.next_arrival()
                if not clock.ready and nxt is not None:
                    resume = nxt
        clock.due(resume)
        k_in = take_ready()
        if k_in and injection is Injection.REPREFILL:
            step = cost.cost_ms(n + final + k_in, 0)  # the whole context again
        else:
            step = cost.cost_ms(final + k_in, n)
        n += final + k_in
        t = resume + step
    return last
