"""The ideal bound: the same policy on a zero-overhead AsyncLM system.

Simulated in virtual time with the run's measured per-token decode time and
the drawn execution times: calls are issued in LPT order as soon as they are
ready, each token costs exactly one decode step, results and user requests are
injected for free at the next block boundary, and nothing else takes time.
The oracle writes exactly the same segments (same token counts) as in the real
runs, so the ratio of a real run to this bound is pure system overhead.

Token timing follows the engine: a token's ``Token`` event happens when it is
picked; a call starts when its ``[END]`` is picked; after a trap's last token
the model waits for the next result, then decodes that token (one step) and
goes on.  Latency is from the first picked token to the last.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence

from asynclm_tui.bench.bfcl.data import Task
from asynclm_tui.bench.bfcl.oracle import Order, Policy


def ideal_latency_ms(
    task: Task,
    durations: Sequence[float],
    ids: Sequence[str],
    n_tokens: Callable[[str], int],
    tau_ms: float,
    *,
    arrivals_ms: Sequence[float] | None = None,
    order: Order = "lpt",
    seed: int = 0,
) -> float:
    """Makespan of ``task`` on a perfect async system, in ms.

    Args:
        durations: execution time of each planned call.
        ids: the call ids the oracle uses (they set the token counts).
        n_tokens: token count of a segment's text.
        tau_ms: time of one decode step.
        arrivals_ms: when each sub-task's request arrives (None: all at 0).
    """
    groups = len(task.subtasks)
    arrive = list(arrivals_ms) if arrivals_ms is not None else [0.0] * groups
    policy = Policy(
        task,
        durations,
        ids,
        order,
        known_groups={g for g in range(groups) if arrive[g] <= 0.0},
        rng=random.Random(f"order:{seed}:{task.id}"),
    )
    events: list[tuple[float, int, str, int]] = []  # (time, seq, kind, index)
    for g in range(groups):
        if arrive[g] > 0.0:
            heapq.heappush(events, (arrive[g], len(events), "user", g))
    seq = len(events)
    t = 0.0  # time the next token is picked
    last = 0.0  # time the last token was picked (the first is picked at 0)
    started = False

    def deliver(now: float) -> None:
        while events and events[0][0] <= now:
            _, _, kind, idx = heapq.heappop(events)
            (policy.known_groups.add if kind == "user" else policy.done.add)(idx)

    while True:
        deliver(t)
        seg = policy.next_segment()
        if seg.kind == "end":
            if not events:
                break
            # Idle until the next request (or result): a new turn starts then.
            t = max(t, events[0][0]) + (tau_ms if started else 0.0)
            continue
        n = n_tokens(seg.text)
        last_pick = t + (n - 1) * tau_ms
        started = True
        last = last_pick
        t = last_pick + tau_ms
        if seg.kind == "call" and seg.call is not None:
            heapq.heappush(events, (last_pick + durations[seg.call], seq, "result", seg.call))
            seq += 1
        elif seg.kind == "trap" and events and events[0][0] > last_pick:
            # Paused after picking [END]: wake at the next event, then decode.
            t = events[0][0] + tau_ms
    return last
