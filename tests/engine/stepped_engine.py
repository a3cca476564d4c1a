"""A real engine driven one step at a time from the test thread, for the
property test of background results (tests/engine/test_background_property.py).

Thousands of threaded engine runs would be slow and never replayable, so the
decode loop runs here on the caller's thread: the real Engine (its turns,
Mailbox, Withheld, schedulers and delivery bookkeeping) takes its inbox items
through ``Engine._take``, exactly as its decode thread would.  What other
threads do is scheduled on a virtual clock instead: tool results, the user's
messages, stops, new chats and delivery changes are *actions* with a time,
and every point where the decode thread could be overtaken advances the clock
by one and runs the actions due (each sampled token, each append to the KV
cache, each event the engine emits).  A wait of the decode loop (a trap, the
answer's end) runs the actions that fall inside it; one that no scheduled
action can end raises :class:`Hang`.  Only the executor is replaced: calls
are recorded and their results posted, at the time the schedule gives them,
through the engine's own result path.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import random
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from asynclm_tui.core.api.enums import CallStatus, Deliver, DeliverIdle, Mode
from asynclm_tui.core.api.events import Event, Input, NewSession, PrefillProgress
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.decode import engine as engine_module
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.decode.mailbox import Mailbox
from asynclm_tui.core.decode.session import Session
from asynclm_tui.core.settings.config import load_settings
from asynclm_tui.core.tools.executor import CallRequest, CallResult
from asynclm_tui.core.tools.registry import ToolRegistry

POLICIES: tuple[tuple[Deliver, DeliverIdle, bool], ...] = tuple(
    itertools.product(Deliver, DeliverIdle, (False, True))
)
"""Every delivery policy a tool can have: (deliver, deliver_idle, background)."""


def tool_name(deliver: Deliver, idle: DeliverIdle, background: bool) -> str:
    """The test tool with this policy."""
    return f"t_{deliver.value}_{idle.value}_{'bg' if background else 'fg'}"


@functools.cache
def policy_registry() -> ToolRegistry:
    """One tool per delivery policy (their handlers never run here; the
    engine only reads the registry, so every case shares it)."""
    registry = ToolRegistry()
    for deliver, idle, background in POLICIES:
        registry.add_function(
            tool_name(deliver, idle, background),
            lambda: "unused",
            description="test tool",
            estimated_ms=100,
            background=background,
            deliver=deliver,
            deliver_idle=idle,
        )
    return registry


class NullHost:
    """Stands in for the tool thread: the schedule plays the executor."""

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Nothing runs on a tool loop here."""

    def close(self) -> None:
        """No thread to join."""


class Hang(BaseException):
    """The decode loop waits for something no scheduled action can bring.

    A BaseException, so the engine's own ``except Exception`` (which turns a
    failure into ``TurnFailed``) lets it through to the test."""


@dataclass(order=True)
class Action:
    """Something another thread does at a time on the virtual clock."""

    at: int
    seq: int
    what: str = field(compare=False)
    do: Callable[[], None] = field(compare=False)


@dataclass
class Call:
    """A call the engine submitted, and the result the schedule gives it."""

    request: CallRequest
    posted: CallResult | None = None
    cancelled: bool = False


class SteppedBackend(ScriptedBackend):
    """The scripted model, writing what ``writer`` gives each turn; every
    sample and append is a step of the virtual clock."""

    def __init__(self, stepped: Stepped, writer: Callable[[], str], **kw: Any) -> None:
        super().__init__(**kw)
        self._stepped = stepped
        self._writer = writer

    def start_sampling(self, params: Any) -> None:
        self.turns.append(self._writer())
        super().start_sampling(params)

    def sample(self) -> int:
        self._stepped.tick()
        return super().sample()

    def append(self, tokens: Sequence[int]) -> None:
        self._stepped.tick()
        super().append(tokens)


class Stepped:
    """One engine, its schedule, and everything it emitted."""

    def __init__(
        self,
        rng: random.Random,
        writer: Callable[[], str],
        *,
        mode: Mode = Mode.ASYNC,
        wait_at_end_s: float | None = 5.0,
        result_delay: Callable[[], int] | None = None,
        prefill_batch: int = 0,
        max_tokens: int = 200,
        n_ctx: int = 8192,
    ) -> None:
        self.rng = rng
        cfg = load_settings(
            None,
            {
                "generation.temperature": 0,
                "generation.mode": mode.value,
                "generation.max_tokens": max_tokens,
                "generation.prompt_style": "compact",  # a short prompt: a fast case
            },
        )
        cfg.tools.shipped = False
        cfg.tools.dirs = []
        cfg.tools.wait_at_end_s = wait_at_end_s
        self.backend = SteppedBackend(self, writer, prefill_batch=prefill_batch, n_ctx=n_ctx)
        with mock.patch.object(engine_module, "ToolHost", NullHost):
            self.engine = Engine(cfg, policy_registry(), self.backend.factory())
        self.mailbox: Mailbox = self.engine._mailbox
        self.events: list[Event] = []
        self.calls: dict[str, Call] = {}
        self.clock = 0
        self.steps = 0
        self.errors: list[str] = []
        self.result_delay = result_delay or (lambda: rng.randint(0, 60))
        self._actions: list[Action] = []
        self._seq = itertools.count()
        self._busy = False
        self.watchers: list[Callable[[Event], None]] = []
        """Called with each event before the clock moves on (so before any
        action of that step)."""
        self.resumes: deque[tuple[str, ...]] = deque()
        """Interrupted ids of each NewSession posted, in order."""
        self.sessions: dict[int, Session] = {}
        """Each session serial's state, as of its last turn (the test keeps it)."""
        executor = self.engine._executor
        executor.submit = self._submit  # type: ignore[method-assign]
        executor.cancel = self._cancel  # type: ignore[method-assign]
        self.mailbox.wait = self._wait  # type: ignore[method-assign]
        self.engine.subscribe(self._on_event)
        assert self.engine._load_model() is self.backend

    # ------------------------------------------------------------ schedule

    def at(self, when: int, what: str, do: Callable[[], None]) -> None:
        """Run ``do`` once the clock reaches ``when``."""
        heapq.heappush(self._actions, Action(when, next(self._seq), what, do))

    def post_at(self, when: int, inp: Input) -> None:
        """Post ``inp`` to the engine at ``when``."""
        if isinstance(inp, NewSession):
            self.at(when, repr(inp), lambda: self.post_new_session(inp))
        else:
            self.at(when, repr(inp), lambda: self.engine.post(inp))

    def post_new_session(self, inp: NewSession) -> None:
        """Post a new chat now (its interrupted ids are noted in :attr:`resumes`)."""
        self.resumes.append(inp.interrupted)
        self.engine.post(inp)

    def tick(self) -> None:
        """A point where another thread may act: one step of the clock."""
        if self._busy:
            return  # an action's own events are no step of the decode thread
        self.steps += 1
        self.clock += 1
        self._run_due(self.clock)

    def _run_due(self, until: int) -> None:
        self._busy = True
        try:
            while self._actions and self._actions[0].at <= until:
                action = heapq.heappop(self._actions)
                try:
                    action.do()
                except Exception as exc:  # noqa: BLE001 - reported by the test, with its seed
                    self.errors.append(f"{action.what} failed: {exc!r}")
        finally:
            self._busy = False

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        for watch in self.watchers:
            watch(event)
        if not isinstance(event, PrefillProgress):  # throttled by wall time: not replayable
            self.tick()

    # ------------------------------------------------------------ the other threads

    def _submit(self, request: CallRequest) -> None:
        call = self.calls[request.id] = Call(request)
        done = functools.partial(self._finish, call, CallStatus.DONE)
        self.at(self.clock + self.result_delay(), f"result of {request.id}", done)

    def _cancel(
        self,
        call_id: str | None = None,
        *,
        session: int | None = None,
        keep: Collection[tuple[int, str]] = (),
    ) -> None:
        for call in list(self.calls.values()):
            req = call.request
            if (req.session, req.id) in keep or session not in (None, req.session):
                continue
            if call.posted is None and not call.cancelled and call_id in (None, req.id):
                call.cancelled = True  # its result comes soon, as cancelled
                cancelled = functools.partial(self._finish, call, CallStatus.CANCELLED)
                self.at(
                    self.clock + self.rng.randint(0, 3), f"cancel of {call.request.id}", cancelled
                )

    def _finish(self, call: Call, status: CallStatus) -> None:
        if call.posted is not None or (call.cancelled and status is CallStatus.DONE):
            return
        req = call.request
        ok = status is CallStatus.DONE
        call.posted = CallResult(
            id=req.id,
            ok=ok,
            value=f"v-{req.id}" if ok else "error: cancelled",
            status=status,
            ms=1.0,
            finished_at=time.perf_counter(),
            wants_result=req.wants_result,
            session=req.session,
        )
        self.engine._on_result(call.posted)

    def _wait(self, predicate: Callable[[], bool], timeout: float | None = None, **kw: Any) -> bool:
        """The decode loop waits: actions inside the wait run; a timeout
        ends it after a random span of the clock."""
        span = None if timeout is None else (0 if timeout == 0 else self.rng.randint(0, 80))
        end = None if span is None else self.clock + span
        while True:
            if Mailbox.wait(self.mailbox, predicate, 0, **kw):
                return True
            if self._actions and (end is None or self._actions[0].at <= end):
                self.clock = max(self.clock, self._actions[0].at)
                self._run_due(self.clock)
                continue
            if end is not None:
                self.clock = end
                return False
            raise Hang(f"waiting at clock {self.clock} with nothing left to come")

    # ------------------------------------------------------------ the decode thread

    def run(self, max_items: int = 400) -> None:
        """Take inbox items as the decode thread would, moving the clock on
        while idle, until nothing is queued and no action is left."""
        taken = 0
        while True:
            if self.mailbox.queued():
                self.tick()  # the decode thread wakes up: others may act first
            item = self.mailbox.next_inbound(0)
            if item is not None:
                taken += 1
                if taken > max_items:
                    raise Hang(f"{taken} inbox items: turns keep starting turns")
                self.engine._take(self.backend, item)
                continue
            if not self._actions:
                return
            self.clock = max(self.clock, self._actions[0].at)
            self._run_due(self.clock)

    def close(self) -> None:
        """Close the mailbox (the engine has no thread to stop)."""
        self.mailbox.close()
