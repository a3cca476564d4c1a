"""What ``asynclm bench bfcl --driver model`` adds to a task's system prompt.

Shared by the benchmark and the training set (which writes BFCL examples as
the benchmark prompts them), so the two never drift apart.
"""

from __future__ import annotations

from asynclm_tui.lab.tasks.bfcl_data import Task


def cheat_sheet(task: Task) -> str:
    """The ground truth put in the system prompt, as the paper did."""
    calls = "; ".join(c.render() for c in task.calls)
    return (
        "Answer key: make exactly these calls, each in its own [CALL] block with an id, "
        f"then answer in one sentence: {calls}"
    )
