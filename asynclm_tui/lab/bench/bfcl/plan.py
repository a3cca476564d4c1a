"""Which runs make up one task: the strategies, and the ablation rows.

Every strategy of the engine runs with jump-forward (what the engine does by
default).  ``sync_api`` and ``sync_api_nocache`` stand for today's chat
clients, which sample every token of a call, so they run without it.  The
jump-forward ablation adds ``sync`` and ``async`` without it (``*_nojf``),
so the same run shows what jump-forward buys, task by task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from asynclm_tui.lab.tasks.oracle import Order

RANDOM_ORDER = "async_random"
"""The LPT ablation's extra row: async with a random (not LPT) issue order."""
NO_JUMP = "_nojf"
"""Suffix of the jump-forward ablation's rows."""
CLIENT_STRATEGIES = frozenset({"sync_api", "sync_api_nocache"})
"""Today's clients: no jump-forward."""
JUMP_ABLATED = ("sync", "async")
"""Strategies the jump-forward ablation repeats without it."""


@dataclass(frozen=True)
class Planned:
    """One run of a task: its row label, engine strategy, issue order and
    whether the engine jumps forward."""

    label: str
    strategy: str
    order: Order
    jump: bool


def build_plan(
    strategies: list[str],
    *,
    lpt_ablation: bool = False,
    jump_ablation: bool = True,
    driver: Literal["replay", "model"] | str = "replay",
) -> list[Planned]:
    """The runs of every task, in the order of the table's rows."""
    plan = [Planned(s, s, "lpt", s not in CLIENT_STRATEGIES) for s in strategies]
    if lpt_ablation and driver == "replay":
        plan.append(Planned(RANDOM_ORDER, "async", "random", True))
    if jump_ablation:
        plan += [Planned(s + NO_JUMP, s, "lpt", False) for s in JUMP_ABLATED if s in strategies]
    return plan
