"""Drive the real engine through one task under one strategy and time it.

One :class:`BenchSession` owns one engine (one model load) for the whole
benchmark.  Per run it posts the task's tools, a new session and the
strategy's mode, injection and generation settings, arms the replay oracle, posts the user's request
(and, for ``multi_step_user``, the later requests at 200 and 400 ms) and
records every event.  Latency is the paper's: first decoded token to last.
"""

from __future__ import annotations

import keyword
import random
import re
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from asynclm_tui.core.api.enums import CallStatus, Injection, InterruptKind, Mode
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    Configure,
    Event,
    Interrupt,
    ModelLoadFailed,
    NewSession,
    Prefilled,
    Resumed,
    SendMessage,
    SetTools,
    StopGeneration,
    Token,
    Trapped,
    TurnDone,
    TurnFailed,
    TurnStarted,
)
from asynclm_tui.core.api.handle import EngineHandle
from asynclm_tui.core.backends import backend_factory
from asynclm_tui.core.backends.base import Backend, ProgressFn
from asynclm_tui.core.cml.constrain import tool_shape
from asynclm_tui.core.cml.syntax import RESERVED_IDS, format_interrupt
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.decode.sampling import sampling_params
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.lab.bench.bfcl.bound import BoundInputs
from asynclm_tui.lab.bench.bfcl.calibrate import CalibrationPlan, CostModel, calibrate
from asynclm_tui.lab.bench.bfcl.forcing import ForcingBackend
from asynclm_tui.lab.bench.bfcl.steps import Steps, plain_steps, segment_steps
from asynclm_tui.lab.tasks.bfcl_data import BenchError, Task
from asynclm_tui.lab.tasks.bfcl_tools import TaskTools
from asynclm_tui.lab.tasks.latency import LatencyModel
from asynclm_tui.lab.tasks.oracle import Oracle, Order, Policy

Driver = Literal["replay", "model"]
STRATEGIES: dict[str, tuple[Mode, Injection]] = {
    "sync": (Mode.SYNC, Injection.KV),
    "parallel": (Mode.PARALLEL, Injection.KV),
    "async": (Mode.ASYNC, Injection.KV),
    "naive": (Mode.ASYNC, Injection.REPREFILL),
    "sync_api": (Mode.SYNC, Injection.PREFIX),
    "sync_api_nocache": (Mode.SYNC, Injection.REPREFILL),
}
"""Strategy -> (engine mode, engine injection)."""
USER_ARRIVALS_MS = (0.0, 200.0, 400.0)
"""multi_step_user: when each of the three requests arrives (paper Figure 8)."""
RUN_TIMEOUT_S = 180.0
_WORD = re.compile(r" [a-z]{3,8}\Z")


class IdPool:
    """Call ids that are one token each and never repeat within the engine.

    Unique ids across the whole benchmark keep every run's calls apart in the
    recorded events (a late event of an earlier run never matches a call of
    this one).  One-token words keep every call block the same length in
    every strategy.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.words: list[str] = []
        self._scanned = 0
        self._next = 0
        if not self._find(1):
            raise BenchError("the model's vocabulary has no one-token words for call ids")

    def _find(self, n: int) -> bool:
        """Scan the vocabulary (in id order, only as far as needed: over a
        server every piece is a request) until ``n`` words are known."""
        backend = self.backend
        while len(self.words) < n and self._scanned < backend.n_vocab:
            token = self._scanned
            self._scanned += 1
            text = backend.piece(token).decode("utf-8", errors="replace")
            word = text[1:]
            if (
                _WORD.match(text)
                and not keyword.iskeyword(word)
                and word not in RESERVED_IDS
                and backend.tokenize(text) == [token]
            ):
                self.words.append(word)
        return len(self.words) >= n

    def take(self, n: int) -> list[str]:
        """``n`` fresh ids."""
        self._find(self._next + n)
        out = []
        for _ in range(n):
            cycle, k = divmod(self._next, len(self.words))
            out.append(self.words[k] + (str(cycle) if cycle else ""))
            self._next += 1
        return out


@dataclass
class RunResult:
    """Everything measured in one run of one task under one strategy."""

    task_id: str
    dataset: str
    strategy: str
    order: str
    latency_ms: float = 0.0
    n_generated: int = 0
    n_injected: int = 0
    n_interrupts: int = 0
    inject_ms: float = 0.0
    """Total time of the decode calls that appended interrupts."""
    tau_ms: float = 0.0
    """Median time between consecutive tokens (one decode step)."""
    durations: list[float] = field(default_factory=list)
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    """(name, positional args, keyword args) of each call the model made."""
    timeline: list[tuple[str, float, float, str]] = field(default_factory=list)
    """(kind, start ms, end ms, label) relative to the first token."""
    segment_tokens: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    frame_tokens: dict[str, int] = field(default_factory=dict)
    """Call id -> tokens of its interrupt."""
    user_tokens: dict[str, int] = field(default_factory=dict)
    """A later request -> tokens it added (as an interrupt or a new turn)."""
    n_prompt: int = 0
    """Context length when the first token was picked."""
    jump: bool = True
    """Jump-forward was on (grammar-forced tokens appended in batches)."""
    segment_steps: dict[str, Steps] = field(default_factory=dict)
    """Oracle segment text -> the batch each of its decode steps appends."""
    call_blocks: int = 0
    block_sampled: int = 0
    """Tokens sampled in call blocks (their ``[CALL]`` openers included)."""
    block_forced: int = 0
    """Tokens the grammar forced in call blocks (jump-forward)."""
    block_drafted: int = 0
    """Drafted tokens kept in call blocks (checked in an earlier token's step)."""
    block_ms: float = 0.0
    """Time writing call blocks, each from the step that picked its first
    token to the call's hand-off."""
    step_ms: float = 0.0
    """Median plain decode step of this run (one token appended, nothing
    else in between): the machine's speed while it ran."""
    plain: list[tuple[float, int]] = field(default_factory=list)
    """(ms, context length) of each plain decode step."""
    appends: list[tuple[int, int, float]] = field(default_factory=list)
    """(tokens appended, context before, ms) of each decode call that carried
    an interrupt or prefilled a later request: the run's own long appends."""
    handoff_ms: float = 0.0
    """Mean time from a call's hand-off to the scheduler to its start."""
    overrun_ms: float = 0.0
    """Mean time a call took beyond its drawn duration (start to result)."""
    queue_ms: float = 0.0
    """Mean time a result waited between arriving and going in."""
    error: str | None = None

    def bound_inputs(self) -> BoundInputs:
        """What the calibrated bound of this run needs."""
        return BoundInputs(
            self.durations,
            self.ids,
            self.segment_tokens,
            self.frame_tokens,
            self.user_tokens,
            self.n_prompt,
            self.segment_steps,
        )


class _Recorder:
    """Event sink for one run (called on engine threads)."""

    def __init__(
        self, engine: EngineHandle, oracle: Oracle | None, later: list[tuple[float, str]]
    ) -> None:
        self.engine = engine
        self.oracle = oracle
        self.later = later
        self.tokens: list[float] = []
        self.sampled: list[float] = []
        """When each sampled token was taken (forced runs left out)."""
        self.plain: list[tuple[float, int]] = []
        """(seconds, context length) of each gap between sampled tokens with
        nothing else in between (a plain step)."""
        self._quiet = False
        self._n = 0  # the context's length, followed through the events
        self.blocks = [0, 0, 0, 0]
        self.block_ms = 0.0
        self.events: list[Event] = []
        self.timers: list[threading.Timer] = []
        self.n_generated = 0
        self.n_injected = 0
        self.error: str | None = None
        self.armed = threading.Event()

    def __call__(self, event: Event) -> None:
        if isinstance(event, Token):
            if event.text:
                self.tokens.append(event.t)
                if not event.forced:
                    if self._quiet and self.sampled and not event.checked:
                        self.plain.append((event.t - self.sampled[-1], self._n - 1))
                    self.sampled.append(event.t)
                self._quiet = not event.forced
            self._n += event.forced or 1
            if len(self.tokens) == 1 and not self.armed.is_set():
                self._arm()
            return
        self.events.append(event)
        self._quiet = False  # an interrupt, a call, a wait: not a plain step
        if isinstance(event, Prefilled):
            self._n = event.n_prompt
        elif isinstance(event, Interrupt):
            self._n += event.n_tokens
        oracle = self.oracle
        match event:
            case Interrupt(kind=InterruptKind.USER, value=value) if oracle is not None:
                oracle.user_arrived(value)
            case Interrupt(id=call_id) if oracle is not None:
                oracle.result_in(call_id)
            case TurnStarted(text=text) if oracle is not None:
                oracle.user_arrived(text)
            case TurnDone():
                self.n_generated += event.n_generated
                self.n_injected += event.n_injected
                self.blocks[0] += event.call_blocks
                self.blocks[1] += event.block_sampled
                self.blocks[2] += event.block_forced
                self.blocks[3] += event.block_drafted
                self.block_ms += event.block_ms
            case TurnFailed(message=message) | ModelLoadFailed(message=message):
                self.error = message

    def _arm(self) -> None:
        # Later user requests are timed from the first decoded token, the
        # same origin as the latency measure.
        for ms, text in self.later:
            timer = threading.Timer(ms / 1000, self.engine.post, (SendMessage(text),))
            timer.daemon = True
            timer.start()
            self.timers.append(timer)
        self.armed.set()


class BenchSession:
    """One engine, loaded once, reused for every run."""

    def __init__(
        self,
        settings: Settings,
        latency: LatencyModel,
        calibration: CalibrationPlan | None = None,
    ) -> None:
        self.settings = settings
        self.latency = latency
        self.backend: ForcingBackend | None = None
        self.cost: CostModel | None = None
        """The calibrated decode cost (None: not asked for)."""
        factory = backend_factory(settings)

        def build(progress: ProgressFn) -> Backend:
            inner = factory(progress)
            if calibration is not None:
                # Here, on the engine's thread and before it uses the model.
                self.cost = calibrate(inner, sampling_params(settings.generation, 0), calibration)
            self.backend = ForcingBackend(inner)
            return self.backend

        self.engine: EngineHandle = Engine(settings, ToolRegistry(), build)
        self._sink: _Recorder | None = None
        self.engine.subscribe(self._dispatch)
        self.ids: IdPool | None = None

    def _dispatch(self, event: Event) -> None:
        sink = self._sink
        if sink is not None:
            sink(event)

    def start(self) -> None:
        """Load the model.

        Raises:
            BenchError: the model could not be loaded.
        """
        self.engine.start()
        if not self.engine.wait_loaded() or self.backend is None:
            raise BenchError(self.engine.snapshot().load_error or "the model failed to load")
        self.ids = IdPool(self.backend)

    def close(self) -> None:
        """Free the model and the tool loop."""
        self.engine.close()

    def run(
        self,
        task: Task,
        strategy: str,
        *,
        driver: Driver = "replay",
        order: Order = "lpt",
        seed: int = 0,
        cheat_sheet: str = "",
        jump: bool = True,
    ) -> RunResult:
        """Run ``task`` once under ``strategy`` (with jump-forward or without)
        and return the measurements."""
        engine, backend, ids = self.engine, self.backend, self.ids
        assert backend is not None and ids is not None, "call start() first"
        tools = TaskTools(task, self.latency, strict_schemas=driver == "model")
        names = None if driver == "model" else {c.name for c in task.calls}
        registry = tools.registry(names)
        mode, injection = STRATEGIES[strategy]
        user_mode = task.dataset == "multi_step_user"
        call_ids = ids.take(len(task.calls))
        oracle: Oracle | None = None
        if driver == "replay":
            overrides: dict[str, Any] = {
                # The oracle picks every token the model samples; the grammar
                # only follows it, for jump-forward.
                "constrain_calls": False,
                "jump_forward": jump,
                "draft_calls": jump,
                "system_prompt": "",
                # The oracle writes every token, so the long rules would only
                # add prefill (and re-prefill for the naive baselines).
                "prompt_style": "compact",
                "max_tokens": 4096,
            }
            policy = Policy(
                task,
                tools.durations(),
                call_ids,
                order,
                known_groups={0} if user_mode else set(range(len(task.subtasks))),
                rng=random.Random(f"order:{seed}:{task.id}"),
            )
            oracle = Oracle(policy, backend.tokenize, min(backend.eos_tokens()))
        else:
            overrides = {
                "constrain_calls": None,
                "jump_forward": None if jump else False,
                "draft_calls": None if jump else False,
                "system_prompt": cheat_sheet,
                # What the loaded model expects: compact with a CML adapter, else full.
                "prompt_style": "auto",
                "max_tokens": 64 + 48 * len(task.calls),  # a small model may loop
            }
        gen = self.settings.generation.model_copy(update=overrides)
        engine.post(SetTools(registry))
        engine.post(NewSession())
        engine.post(Configure(mode=mode, injection=injection, generation=gen))
        backend.oracle = oracle
        first = task.subtasks[0].prompt if user_mode else task.prompt
        later = (
            [(ms, s.prompt) for ms, s in zip(USER_ARRIVALS_MS[1:], task.subtasks[1:], strict=False)]
            if user_mode
            else []
        )
        rec = _Recorder(engine, oracle, later)
        self._sink = rec
        try:
            engine.post(SendMessage(first))
            self._wait(rec)
        finally:
            for timer in rec.timers:
                timer.cancel()
            self._sink = None
            backend.oracle = None
        res = self._result(task, strategy, order, rec, tools, oracle, call_ids)
        res.jump = jump
        if oracle is not None:
            # What the engine drafted from: the requests and what went in.
            source = "".join(
                [first, *(text for _, text in later)]
                + [format_interrupt(e.id, e.value) for e in rec.events if isinstance(e, Interrupt)]
            )
            shapes = {name: tool_shape(spec.parameters) for name, spec in registry.tools.items()}
            res.segment_steps = {
                text: segment_steps(toks, backend, shapes, source) if jump else plain_steps(toks)
                for text, toks in oracle.tokens.items()
            }
        return res

    def _wait(self, rec: _Recorder) -> None:
        engine = self.engine
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while time.monotonic() < deadline:
            idle = engine.wait_idle(timeout=0.5)
            timers_done = not rec.later or (
                rec.armed.is_set() and all(not t.is_alive() for t in rec.timers)
            )
            if idle and rec.error:
                return
            if idle and timers_done and (rec.oracle is None or rec.oracle.finished):
                return
            if idle and not rec.tokens and rec.later:
                return  # ended before any token: the timers never started
        rec.error = rec.error or f"timed out after {RUN_TIMEOUT_S:.0f} s"
        engine.post(StopGeneration())
        engine.wait_idle(timeout=10)

    def _result(
        self,
        task: Task,
        strategy: str,
        order: str,
        rec: _Recorder,
        tools: TaskTools,
        oracle: Oracle | None,
        call_ids: list[str],
    ) -> RunResult:
        res = RunResult(task.id, task.dataset, strategy, order, ids=call_ids)
        res.error = rec.error
        res.durations = tools.durations()
        res.n_generated, res.n_injected = rec.n_generated, rec.n_injected
        res.call_blocks, res.block_sampled, res.block_forced, res.block_drafted = rec.blocks
        res.block_ms = rec.block_ms
        res.plain = [(gap * 1000, n) for gap, n in rec.plain]
        if res.plain:
            res.step_ms = statistics.median(ms for ms, _ in res.plain)
        _call_costs(res, rec.events, tools.durations())
        if oracle is not None:
            res.segment_tokens = {k: len(v) for k, v in oracle.tokens.items()}
            if not oracle.finished and res.error is None:
                res.error = "the oracle did not finish"
        toks = rec.tokens
        if len(toks) >= 2:
            res.latency_ms = (toks[-1] - toks[0]) * 1000
        steps = rec.sampled  # a forced run comes with the step that sampled before it
        if len(steps) >= 2:
            gaps = [b - a for a, b in zip(steps, steps[1:], strict=False)]
            res.tau_ms = statistics.median(gaps) * 1000
        origin = toks[0] if toks else 0.0
        res.timeline = _timeline(rec.events, toks, origin)
        turn_text: str | None = None
        for ev in rec.events:
            match ev:
                case Interrupt(kind=InterruptKind.USER):
                    res.n_interrupts += 1
                    res.user_tokens[ev.value] = ev.n_tokens
                case Interrupt():
                    res.n_interrupts += 1
                    res.frame_tokens[ev.id] = ev.n_tokens
                case CallIssued():
                    res.calls.append((ev.fn, ev.args, ev.kwargs))
                case TurnStarted(text=text):
                    turn_text = text
                case Prefilled() if turn_text is not None and not res.n_prompt:
                    res.n_prompt = ev.n_prompt
                case Prefilled() if turn_text is not None:
                    res.user_tokens[turn_text] = ev.n_evaluated
                    res.appends.append((ev.n_evaluated, ev.n_prompt - ev.n_evaluated, ev.ms))
            if isinstance(ev, Interrupt):
                share = _same_step(rec.events, ev)
                res.inject_ms += ev.inject_ms / max(1, share)
                first = share <= 1 or ev is _first_of_step(rec.events, ev)
                if first and ev.n_evaluated and ev.n_cached is not None:
                    res.appends.append((ev.n_evaluated, ev.n_cached, ev.inject_ms))
        return res


def _call_costs(res: RunResult, events: list[Event], durations: list[float]) -> None:
    """The run's hand-off, overrun and queue times (what the bound leaves out)."""
    issued: dict[str, float] = {}
    started: dict[str, float] = {}
    handoff: list[float] = []
    overrun: list[float] = []
    queued: list[float] = []
    index = {call_id: i for i, call_id in enumerate(res.ids)}
    for ev in events:
        match ev:
            case CallIssued():
                issued[ev.id] = ev.t
            case CallUpdated(status=CallStatus.RUNNING) if ev.id in issued:
                started[ev.id] = ev.t
                handoff.append((ev.t - issued[ev.id]) * 1000)
            case CallFinished() if ev.id in started and ev.id in index:
                ran = (ev.t - started[ev.id]) * 1000
                overrun.append(ran - durations[index[ev.id]])
            case Interrupt(kind=InterruptKind.TOOL):
                queued.append(ev.wait_ms)
    res.handoff_ms = statistics.fmean(handoff) if handoff else 0.0
    res.overrun_ms = statistics.fmean(overrun) if overrun else 0.0
    res.queue_ms = statistics.fmean(queued) if queued else 0.0


def _first_of_step(events: list[Event], ev: Interrupt) -> Interrupt:
    """The first interrupt that went in with ``ev`` (the same decode call)."""
    return next(
        e
        for e in events
        if isinstance(e, Interrupt) and e.t == ev.t and e.inject_ms == ev.inject_ms
    )


def _same_step(events: list[Event], ev: Interrupt) -> int:
    """How many interrupts shared ``ev``'s decode call (they report the same
    ``inject_ms``), so the total is not counted twice."""
    return sum(
        1
        for e in events
        if isinstance(e, Interrupt) and e.t == ev.t and e.inject_ms == ev.inject_ms
    )


def _timeline(
    events: list[Event], tokens: list[float], origin: float
) -> list[tuple[str, float, float, str]]:
    """Spans for the example-timeline plot, in ms from the first token."""
    out: list[tuple[str, float, float, str]] = []

    def ms(t: float) -> float:
        return (t - origin) * 1000

    # Decode activity: runs of tokens without a gap longer than 4 steps.
    if tokens:
        gaps = [b - a for a, b in zip(tokens, tokens[1:], strict=False)]
        step = statistics.median(gaps) if gaps else 0.0
        start = prev = tokens[0]
        for t in tokens[1:]:
            if t - prev > 4 * step:
                out.append(("decode", ms(start), ms(prev), ""))
                start = t
            prev = t
        out.append(("decode", ms(start), ms(prev), ""))
    issued: dict[str, tuple[float, str]] = {}
    pause: float | None = None
    for ev in events:
        if isinstance(ev, CallIssued):
            issued[ev.id] = (ev.t, ev.fn)
        elif isinstance(ev, CallFinished) and ev.id in issued:
            t0, fn = issued.pop(ev.id)
            out.append(("call", ms(t0), ms(ev.t), fn))
        elif isinstance(ev, Interrupt):
            out.append(("inject", ms(ev.t) - ev.inject_ms, ms(ev.t), ev.id))
        elif isinstance(ev, Trapped):
            pause = ev.t
        elif isinstance(ev, Resumed) and pause is not None:
            out.append(("wait", ms(pause), ms(ev.t), ""))
            pause = None
    return out
