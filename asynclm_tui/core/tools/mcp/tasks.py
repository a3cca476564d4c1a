"""A client for MCP's tasks extension (``io.modelcontextprotocol/tasks``, 2026-07-28).

The SDK (2.3.0) has the seam but no client: a :class:`ClientExtension` whose
:class:`ResultClaim` takes a ``tools/call`` answered with ``resultType:
"task"`` and drives it to its final ``CallToolResult``: ``tasks/get`` at the
server's poll interval (each answer keeps the call's idle clock running and
its status message is the call's progress), the latest ``requestState``
echoed, ``tasks/cancel`` (shielded, bounded) when the call is cancelled.  A
task that fails, is cancelled by the server or asks for input ends the call
with :class:`TaskEnded`.

The 2025-11-25 form (``params.task`` and ``tasks/result``) is not driven: the
SDK validates a handshake-era ``tools/call`` answer as a ``CallToolResult``
only, so a ``CreateTaskResult`` could not reach this code.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any, Literal

import anyio
import mcp_types as types
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from pydantic import ConfigDict

EXTENSION = "io.modelcontextprotocol/tasks"
MIN_POLL_MS = 20
MAX_POLL_MS = 5000
"""A server asking for slower polls still gets one every 5 s: a finished
task lands as an interrupt within that."""
CANCEL_WAIT_S = 2.0

TaskReport = Callable[[float, str | None], None]
"""``(polls so far, status message)``: the task is alive (tasks/get answered)."""

task_report: ContextVar[TaskReport | None] = ContextVar("asynclm_task_report", default=None)
"""Set in the task that calls ``call_tool``; the resolver runs in the same task."""


class TaskEnded(Exception):
    """The server's task did not complete (failed, cancelled, needs input)."""


class TaskCreated(types.Result):
    """``CreateTaskResult``: the seed state of a task (``resultType: task``)."""

    model_config = ConfigDict(extra="allow")  # requestState: core names it, claims may not

    result_type: Literal["task"]
    task_id: str
    status: str = "working"
    status_message: str | None = None
    poll_interval_milliseconds: int | None = None
    ttl_seconds: int | None = None


class TaskState(types.Result):
    """A ``tasks/get`` answer: the task now, with its result or error once done."""

    model_config = ConfigDict(extra="allow")

    task_id: str
    status: str
    status_message: str | None = None
    poll_interval_milliseconds: int | None = None
    request_state: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class TaskParams(types.RequestParams):
    """Params of ``tasks/get`` and ``tasks/cancel``."""

    task_id: str
    request_state: str | None = None


class GetTask(types.Request[TaskParams, Literal["tasks/get"]]):
    """``tasks/get``; its ``Mcp-Name`` header is the task id (SEP-2663)."""

    method: Literal["tasks/get"] = "tasks/get"
    params: TaskParams
    name_param = "taskId"


class CancelTask(types.Request[TaskParams, Literal["tasks/cancel"]]):
    """``tasks/cancel`` (cooperative: the server only acknowledges)."""

    method: Literal["tasks/cancel"] = "tasks/cancel"
    params: TaskParams
    name_param = "taskId"


def _poll_s(ms: int | None) -> float:
    return min(max(ms or 500, MIN_POLL_MS), MAX_POLL_MS) / 1000


class TasksClient(ClientExtension):
    """Advertise the tasks extension and resolve task handles transparently."""

    identifier = EXTENSION

    def claims(self) -> Sequence[ResultClaim[Any]]:
        """The one shape this extension adds: ``tools/call`` -> task."""
        return (ResultClaim(result_type="task", model=TaskCreated, resolve=self._resolve),)

    async def _resolve(self, created: TaskCreated, ctx: ClaimContext) -> types.CallToolResult:
        report = task_report.get()
        state: str | None = (created.model_extra or {}).get("requestState")
        interval = created.poll_interval_milliseconds
        status, message = created.status, created.status_message
        try:
            if status in ("failed", "cancelled", "input_required"):
                raise TaskEnded(self._why(status, message, None))
            for polls in itertools.count(1):
                if status != "completed":  # a seed already complete carries no result
                    await anyio.sleep(_poll_s(interval))
                params = TaskParams(task_id=created.task_id, request_state=state)
                now = await ctx.session.send_request(
                    GetTask(params=params),
                    TaskState,
                    request_read_timeout_seconds=ctx.read_timeout_seconds,
                )
                state = now.request_state
                interval = now.poll_interval_milliseconds or interval
                status, message = now.status, now.status_message
                if report is not None:
                    report(polls, message)
                if status == "completed":
                    return types.CallToolResult.model_validate(now.result or {"content": []})
                if status in ("failed", "cancelled", "input_required"):
                    raise TaskEnded(self._why(status, message, now.error))
            raise AssertionError("unreachable")
        except BaseException:
            if status not in ("completed", "failed", "cancelled"):
                await self._cancel(ctx, TaskParams(task_id=created.task_id, request_state=state))
            raise

    @staticmethod
    def _why(status: str, message: str | None, error: dict[str, Any] | None) -> str:
        detail = (error or {}).get("message") or message
        match status:
            case "failed":
                return "the server's task failed" + (f": {detail}" if detail else "")
            case "cancelled":
                return "the server cancelled the task" + (f": {detail}" if detail else "")
            case _:
                return "the task asks for input, which asynclm cannot give yet" + (
                    f" ({detail})" if detail else ""
                )

    @staticmethod
    async def _cancel(ctx: ClaimContext, params: TaskParams) -> None:
        """Best effort: the call ends whatever the server says."""
        # A dead server cannot be told anything: its error is ignored.
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(CANCEL_WAIT_S),
            contextlib.suppress(Exception),
        ):
            await ctx.session.send_request(CancelTask(params=params), types.EmptyResult)
