"""The ``model`` driver's accuracy: BFCL-style AST match of the calls made.

A task counts as correct when the model made exactly the expected calls:
every expected call is matched by a distinct issued call with the same
function name and acceptable arguments, no call is left over, and within each
sub-task the calls came in the expected order (the paper's "correct execution
order" on the multi-step set; parallel sets are order-free).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asynclm_tui.lab.tasks.bfcl_data import HELD_OUT_TASKS, TRAINED_DATASETS, PlannedCall, Task
from asynclm_tui.lab.tasks.bfcl_prompt import cheat_sheet

__all__ = ["ast_match", "call_matches", "cheat_sheet", "overlap_message", "trained_overlap"]


def _norm(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_norm(v) for v in value]
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value.strip().lower()
    return value


Issued = tuple[str, tuple[Any, ...], dict[str, Any]]
"""A call the model made: name, positional and keyword arguments."""


def _bind(args: Sequence[Any], kwargs: dict[str, Any], params: Sequence[str]) -> dict[str, Any]:
    """Keyword arguments, with positional ones named by the parameter order."""
    out = dict(kwargs)
    for name, value in zip(params, args, strict=False):
        out.setdefault(name, value)
    return out


def call_matches(expected: PlannedCall, issued: Issued, params: Sequence[str]) -> bool:
    """Whether one issued call satisfies one expected call."""
    name, args, kwargs = issued
    if name != expected.name:
        return False
    got = {k: _norm(v) for k, v in _bind(args, kwargs, params).items()}
    if expected.allowed is not None:  # single-turn: BFCL's allowed-value lists
        for param, allowed in expected.allowed.items():
            if param not in got:
                if "" not in allowed:
                    return False
                continue
            if got[param] not in [_norm(a) for a in allowed if a != ""]:
                return False
        return set(got) <= set(expected.allowed)
    want = {k: _norm(v) for k, v in _bind(expected.args, expected.kwargs, params).items()}
    return got == want


def ast_match(task: Task, issued: Sequence[Issued]) -> bool:
    """Whether ``issued`` calls solve ``task`` exactly."""
    if len(issued) != len(task.calls):
        return False
    params = {
        f["name"]: list((f.get("parameters") or {}).get("properties", {})) for f in task.functions
    }
    used: set[int] = set()
    position: dict[int, int] = {}
    for i, exp in enumerate(task.calls):
        for j, call in enumerate(issued):
            if j not in used and call_matches(exp, call, params.get(exp.name, [])):
                used.add(j)
                position[i] = j
                break
        else:
            return False
    if task.dataset.startswith("multi_step"):
        for i, exp in enumerate(task.calls):
            if any(position[d] > position[i] for d in exp.deps):
                return False
    return True


def trained_overlap(datasets: Sequence[str], limit: int | None) -> list[str]:
    """The datasets among ``datasets`` whose first ``limit`` tasks (all when
    None) include tasks the CML adapter was trained on."""
    if limit is not None and limit <= HELD_OUT_TASKS:
        return []
    return [d for d in datasets if d in TRAINED_DATASETS]


def overlap_message(datasets: Sequence[str]) -> str:
    """One line naming the datasets whose accuracy an adapter has seen."""
    names = " and ".join(datasets)
    return (
        f"{names} tasks {HELD_OUT_TASKS} and on trained the CML adapter, so the model "
        f"driver's accuracy with an adapter must use --limit {HELD_OUT_TASKS} or less "
        "(the held-out first tasks, file order)"
    )
