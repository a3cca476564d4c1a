"""What a running call may tell the executor besides its result.

The executor sets :data:`current_call` in each call's task, so a runner (the
MCP one) can report progress without a new parameter on every runner, and a
runner whose tool stopped answering raises :class:`ToolTimeout` to end the
call as timed out with its own message (an idle timeout, not the hard cap).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from asynclm_tui.core.tools.runners import ToolFailure

ProgressReport = Callable[[float, float | None, str | None], None]
"""``(progress, total, message)``; callable from any thread."""


@dataclass(frozen=True)
class CallContext:
    """The call a runner is running."""

    call_id: str
    name: str
    report: ProgressReport
    """Report progress of this call (thread-safe; ignored once it ended)."""


current_call: ContextVar[CallContext | None] = ContextVar("asynclm_current_call", default=None)


class ToolTimeout(ToolFailure):
    """The tool stopped answering; the call ends as timed out with this message."""
