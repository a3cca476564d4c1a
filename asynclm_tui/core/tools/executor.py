"""Asynchronous tool executor: LPT ready queue, timeouts, cancellation, approval.

The executor lives on its own asyncio loop (see :class:`ToolHost`) so neither
the decode thread nor the UI loop ever waits for a tool.  Every failure (unknown
tool, bad arguments, schema violation, timeout, exception, cancellation, denial)
comes back as an error value, never as an exception out of the executor.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asynclm_tui.core.api.enums import CallStatus, Decision
from asynclm_tui.core.tools.call_context import CallContext, ToolTimeout, current_call
from asynclm_tui.core.tools.process_groups import KILL_GRACE_S
from asynclm_tui.core.tools.registry import ArgumentError, ToolRegistry
from asynclm_tui.core.tools.runners import (
    DRAIN_S,
    ToolFailure,
    run_command,
    run_http,
    run_python,
)

if TYPE_CHECKING:
    import httpx

    from asynclm_tui.core.tools.spec import ToolSpec

EMA_WEIGHT = 0.3
"""Weight of the newest observation in a tool's moving-average duration."""
AT_EXIT = "interrupted at exit"
"""The value of a call that was still pending when the program ended."""
CLOSE_WAIT_S = KILL_GRACE_S + DRAIN_S + 0.5
"""Longest wait at close for cancelled calls to end."""


@dataclass
class CallRequest:
    """One call handed to the executor."""

    id: str
    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    wants_result: bool = True
    session: int = 0
    """The conversation the call belongs to (its result goes nowhere else)."""


@dataclass(frozen=True)
class CallResult:
    """The outcome of a call, ready to be injected as an interrupt."""

    id: str
    ok: bool
    value: str
    status: CallStatus
    ms: float
    finished_at: float
    wants_result: bool = True
    session: int = 0
    budget: int | None = None
    """Most tokens of ``value`` to inject (the tool's ``max_result_tokens``)."""


CallKey = tuple[int, str]
"""A call as the executor knows it: (its session, its id)."""

StatusSink = Callable[[CallRequest, CallStatus], None]
ResultSink = Callable[[CallResult], None]
ProgressSink = Callable[[CallRequest, float, float | None, str | None], None]
"""``(request, progress, total, message)`` of a running call (tool thread)."""


class ToolHost:
    """A daemon thread running the asyncio loop that tools execute on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="asynclm-tools", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        """Run ``coro`` on the tool loop from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Schedule a plain callback on the tool loop from any thread."""
        self.loop.call_soon_threadsafe(fn, *args)

    def close(self) -> None:
        """Stop the loop and join the thread."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


class Executor:
    """Runs calls concurrently with a global limit and an LPT ready queue.

    Thread-safe entry points (``submit``, ``cancel``, ``approve``) may be called
    from any thread; the work happens on the :class:`ToolHost` loop.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        host: ToolHost,
        on_status: StatusSink,
        on_result: ResultSink,
        *,
        max_concurrency: int = 8,
        approval: str = "ask",
        interactive: bool = False,
        max_result_tokens: int | None = None,
        on_progress: ProgressSink | None = None,
    ) -> None:
        self.registry = registry
        self.host = host
        self.on_status = on_status
        self.on_result = on_result
        self.max_concurrency = max(1, max_concurrency)
        self.approval = approval
        """ask | always | never: policy for tools with ``confirm: true``."""
        self.interactive = interactive
        """Whether someone can answer approval requests (the TUI)."""
        self.max_result_tokens = max_result_tokens
        """Injection budget for tools that declare none (None: unlimited)."""
        self.allowed_always: set[str] = set()
        self._observed: dict[str, float] = {}
        self._ready: list[tuple[float, int, CallRequest, float]] = []
        self._seq = itertools.count()
        # Calls are known by (session, id): two chats may each have a "sleep1".
        self._running: dict[CallKey, asyncio.Task[None]] = {}
        self._approvals: dict[CallKey, asyncio.Future[Decision]] = {}
        self._queued: set[CallKey] = set()
        self._cancel_early: set[tuple[int | None, str]] = set()
        """(session or None for any, id) of calls cancelled before they reached
        the loop (a cancel posted as the call was issued): they end as
        cancelled when they arrive."""
        self._client: httpx.AsyncClient | None = None
        self._cancelled_why = "cancelled"
        """The value of a cancelled call (:data:`AT_EXIT` once shutting down)."""
        self.on_progress = on_progress

    # ------------------------------------------------ thread-safe entry points

    def submit(self, request: CallRequest) -> None:
        """Start ``request`` (validation, approval, queueing) on the tool loop."""
        self.host.call(self._accept, request, time.perf_counter())

    def cancel(
        self,
        call_id: str | None = None,
        *,
        session: int | None = None,
        keep: Collection[CallKey] = (),
    ) -> None:
        """Cancel call ``call_id`` of ``session`` (None: of any session), or
        every pending call when ``call_id`` is None (but those in ``keep``)."""
        self.host.call(self._cancel, call_id, session, frozenset(keep))

    def shut_down(self) -> None:
        """Cancel every call because the program is ending: each ends as
        cancelled with :data:`AT_EXIT` as its value (thread-safe)."""
        self.host.call(self._shut_down)

    def _shut_down(self) -> None:
        self._cancelled_why = AT_EXIT
        self._cancel(None, None)

    def approve(self, call_id: str, decision: Decision, *, session: int | None = None) -> None:
        """Answer an approval request: ``once``, ``always`` or ``deny``."""
        self.host.call(self._approve, call_id, session, decision)

    def estimate_ms(
        self, name: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> float:
        """Expected duration of a call to ``name``: what its duration argument
        says, else the tool's declared estimate refined by a moving average of
        observed runs."""
        spec = self.registry.get(name)
        if spec is None:
            return self._observed.get(name, 0.0)
        return spec.expected_ms(args, kwargs, self._observed.get(name))

    async def aclose(self) -> None:
        """Cancel everything, wait until the running calls have ended (their
        process groups too), and close the HTTP client (on the tool loop)."""
        self._shut_down()
        running = list(self._running.values())
        if running:
            # Each command call ends its own group as it is cancelled (SIGTERM,
            # SIGKILL after the grace); what is left at exit goes with kill_all.
            await asyncio.wait(running, timeout=CLOSE_WAIT_S)
        if self._client is not None:
            await self._client.aclose()

    # ------------------------------------------------ on the tool loop

    def _accept(self, req: CallRequest, t0: float) -> None:
        early = {(req.session, req.id), (None, req.id)} & self._cancel_early
        if early:
            self._cancel_early -= early
            self._finish(req, t0, CallStatus.CANCELLED, "cancelled")
            return
        spec = self.registry.get(req.name)
        if spec is None:
            known = ", ".join(sorted(self.registry.tools)) or "none"
            self._finish(req, t0, CallStatus.FAILED, f"unknown tool {req.name!r} (tools: {known})")
            return
        try:
            req.kwargs = self.registry.bind(req.name, req.args, req.kwargs)
            req.args = ()
        except ArgumentError as exc:
            self._finish(req, t0, CallStatus.FAILED, f"bad arguments: {exc}")
            return
        if spec.confirm and req.name not in self.allowed_always:
            if self.approval == "never" or (self.approval == "ask" and not self.interactive):
                why = (
                    "approval policy is never"
                    if self.approval == "never"
                    else ("it needs approval and nobody can approve here (use --yes)")
                )
                self._finish(req, t0, CallStatus.DENIED, f"not run: {why}")
                return
            if self.approval == "ask":
                fut: asyncio.Future[Decision] = self.host.loop.create_future()
                self._approvals[req.session, req.id] = fut
                self.on_status(req, CallStatus.AWAITING_APPROVAL)
                fut.add_done_callback(lambda f: self._approved(req, t0, f))
                return
        self._enqueue(req, t0)

    def _approved(self, req: CallRequest, t0: float, fut: asyncio.Future[Decision]) -> None:
        self._approvals.pop((req.session, req.id), None)
        if fut.cancelled():
            self._finish(req, t0, CallStatus.CANCELLED, "cancelled before approval")
        elif fut.result() == Decision.DENY:
            self._finish(req, t0, CallStatus.DENIED, "the user denied this call")
        else:
            if fut.result() == Decision.ALWAYS:
                self.allowed_always.add(req.name)
            self._enqueue(req, t0)

    def _approve(self, call_id: str, session: int | None, decision: Decision) -> None:
        fut = next((f for k, f in self._approvals.items() if _matches(k, call_id, session)), None)
        if fut is not None and not fut.done():
            fut.set_result(decision)

    def _enqueue(self, req: CallRequest, t0: float) -> None:
        estimate = self.estimate_ms(req.name, req.args, req.kwargs)
        heapq.heappush(self._ready, (-estimate, next(self._seq), req, t0))
        self._queued.add((req.session, req.id))
        self.on_status(req, CallStatus.QUEUED)
        self._dispatch()

    def _dispatch(self) -> None:
        # Longest estimated processing time first, as in the paper's LPT rule.
        while self._ready and len(self._running) < self.max_concurrency:
            _, _, req, t0 = heapq.heappop(self._ready)
            key = (req.session, req.id)
            if key not in self._queued:  # cancelled while queued
                continue
            self._queued.discard(key)
            task = self.host.loop.create_task(self._run(req, t0))
            task.add_done_callback(functools.partial(self._never_ran, req=req, t0=t0))
            self._running[key] = task

    def _never_ran(self, task: asyncio.Task[None], *, req: CallRequest, t0: float) -> None:
        """A task cancelled before its first step never runs ``_run``'s own
        handler: report it here, so every call ends with a result."""
        if task.cancelled() and self._running.get((req.session, req.id)) is task:
            self._running.pop((req.session, req.id))
            self._finish(req, t0, CallStatus.CANCELLED, self._cancelled_why)
            self._dispatch()

    async def _run(self, req: CallRequest, t0: float) -> None:
        spec = self.registry.get(req.name)
        if spec is None:  # the tool set changed (an MCP server's list) while it queued
            self._running.pop((req.session, req.id), None)
            self._finish(req, t0, CallStatus.FAILED, f"tool {req.name!r} is no longer available")
            self._dispatch()
            return
        current_call.set(CallContext(req.id, req.name, functools.partial(self._report, req)))
        self.on_status(req, CallStatus.RUNNING)
        started = time.perf_counter()
        status, value = CallStatus.DONE, ""
        try:
            value = await asyncio.wait_for(self._invoke(req, spec), timeout=spec.timeout_s)
        except TimeoutError:
            status, value = CallStatus.TIMED_OUT, f"timed out after {spec.timeout_s:g} s"
        except ToolTimeout as exc:
            status, value = CallStatus.TIMED_OUT, str(exc)
        except asyncio.CancelledError:
            status, value = CallStatus.CANCELLED, self._cancelled_why
        except ToolFailure as exc:
            status, value = CallStatus.FAILED, str(exc)
        except Exception as exc:  # noqa: BLE001 - a tool bug must not kill the loop
            status, value = CallStatus.FAILED, f"{type(exc).__name__}: {exc}"
        ran_ms = (time.perf_counter() - started) * 1000
        if status is CallStatus.DONE:
            old = self._observed.get(req.name, spec.estimated_ms)
            self._observed[req.name] = (1 - EMA_WEIGHT) * old + EMA_WEIGHT * ran_ms
        self._running.pop((req.session, req.id), None)
        self._finish(req, t0, status, value)
        self._dispatch()

    def _report(
        self, req: CallRequest, progress: float, total: float | None, message: str | None
    ) -> None:
        """Progress of a running call, from any thread, delivered in order on
        the tool loop (so never after the call's result)."""
        self.host.call(self._progress, req, progress, total, message)

    def _progress(
        self, req: CallRequest, progress: float, total: float | None, message: str | None
    ) -> None:
        if self.on_progress is not None and (req.session, req.id) in self._running:
            self.on_progress(req, progress, total, message)

    async def _invoke(self, req: CallRequest, spec: ToolSpec) -> str:
        if spec.command is not None:
            return await run_command(spec, req.kwargs)
        if spec.http is not None:
            if self._client is None:
                # Imported here: most chats never run an HTTP tool, and httpx
                # costs 60 ms of the launch.
                import httpx

                self._client = httpx.AsyncClient(follow_redirects=True, timeout=None)
            return await run_http(spec, req.kwargs, self._client)
        return await run_python(spec, req.kwargs)

    def _cancel(
        self, call_id: str | None, session: int | None, keep: frozenset[CallKey] = frozenset()
    ) -> None:
        if call_id is None:
            self._cancel_early.clear()
        pending = [*self._queued, *self._running, *self._approvals]
        keys = [k for k in pending if call_id is None or _matches(k, call_id, session)]
        for key in (k for k in keys if k not in keep):
            if key in self._running:
                self._running[key].cancel()
            elif key in self._approvals:
                self._approvals[key].cancel()
            elif key in self._queued:
                self._queued.discard(key)
                for _, _, req, t0 in self._ready:
                    if (req.session, req.id) == key:
                        self._finish(req, t0, CallStatus.CANCELLED, self._cancelled_why)
        if call_id is not None and not keys:  # it has not reached the loop yet
            self._cancel_early.add((session, call_id))

    def _finish(self, req: CallRequest, t0: float, status: CallStatus, value: str) -> None:
        now = time.perf_counter()
        ok = status is CallStatus.DONE
        if not ok:
            value = f"error: {value}"
        spec = self.registry.get(req.name)
        budget = self.max_result_tokens
        if spec is not None and spec.max_result_tokens is not None:
            budget = spec.max_result_tokens
        self.on_status(req, status)
        self.on_result(
            CallResult(
                id=req.id,
                ok=ok,
                value=value,
                status=status,
                ms=(now - t0) * 1000,
                finished_at=now,
                wants_result=req.wants_result,
                session=req.session,
                budget=budget,
            )
        )


def _matches(key: CallKey, call_id: str, session: int | None) -> bool:
    """Whether ``key`` is call ``call_id`` of ``session`` (None: any session)."""
    return key[1] == call_id and (session is None or key[0] == session)
