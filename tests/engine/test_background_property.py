"""Exactly-once delivery of tool results, whatever the timing (issue 31).

Random result arrival times against random turn boundaries, user messages,
stops, new chats (some resuming a saved chat), delivery changes, kept
results and cancelled calls, over every delivery policy, each scheduling
mode and each ``wait_at_end_s`` kind.  Every result of chat k must reach
chat k's context exactly once, or never when the user left chat k first (or
when its call was withheld by a stopped turn and then dropped, the rule of
core.decode.withheld); never another chat, never twice, and no wait of the
decode loop may last forever.

The many cases run on :mod:`stepped_engine` (the real engine stepped from
this thread on a virtual clock: replayable from its seed); a few hundred more
run the real threaded engine with tools that finish at random times.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from engine_harness import scripted
from stepped_engine import POLICIES, Hang, Stepped, tool_name

from asynclm_tui.core.api.delivery import CallBackgrounded, ResultHeld, SetDelivery
from asynclm_tui.core.api.enums import Deliver, DeliverIdle, InterruptKind, Mode, StopReason
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CancelCall,
    ContextSlid,
    Event,
    HeldResults,
    HeldState,
    Input,
    Interrupt,
    KeepResults,
    NewSession,
    SendMessage,
    SessionStarted,
    StopGeneration,
    TurnDone,
    TurnFailed,
    TurnStarted,
)
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.cml.syntax import format_interrupt
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.decode.session import Session
from asynclm_tui.core.tools.registry import ToolRegistry

STEPPED_CASES = 10_000
THREADED_CASES = 200
HORIZON = 400
"""Clock steps over which the user's actions are spread."""
SMALL_CTX = 512
"""A window the chat outgrows: the oldest turns slide out."""


@dataclass
class Outcome:
    """What one case delivered, and what was wrong with it."""

    seed: int
    problems: list[str] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    """How often each state of interest came up."""


# ---------------------------------------------------------------- the model


class Writer:
    """Random answers: words, calls of random policies (ids unique in the
    whole case, so a result can be traced to its chat), traps, and text
    after the end of the answer for when decoding goes on."""

    def __init__(self, rng: random.Random, prefix: str = "c") -> None:
        self.rng = rng
        self.prefix = prefix
        self.n = 0
        self.quiet = False
        """Write no more calls (the case is winding down)."""

    def __call__(self) -> str:
        rng = self.rng
        parts = [" w"] * rng.randint(0, 2)
        for _ in range(0 if self.quiet else rng.choice((0, 1, 1, 2, 3))):
            self.n += 1
            tool = tool_name(*rng.choice(POLICIES))
            parts.append(f" [CALL] {self.prefix}{self.n} [HEAD] {tool}() [END]")
            parts.extend([" x"] * rng.randint(0, 3))
            if rng.random() < 0.2:
                parts.append(" [TRAP][END]")
        parts.append("<eos>")
        parts.extend(" more<eos>" for _ in range(rng.randint(0, 2)))
        return "".join(parts)


# ---------------------------------------------------------------- the checks


def check(
    events: list[Event],
    results: dict[str, tuple[int, str]],
    final_chat: int,
    sessions: dict[int, Session],
    interrupted: dict[int, tuple[str, ...]],
) -> tuple[list[str], int]:
    """Problems with exactly-once delivery (and the count delivered):
    ``results`` maps each call id to (its chat, its result's value).

    A chat opened again (``SessionStarted.rejoins``) is the same chat: its
    serials are one *lineage*, named by the first.  When the user leaves a
    chat, its calls in the background and its held results wait for it;
    its other calls are cancelled (their results may never arrive)."""
    problems: list[str] = []
    chat = 1
    root: dict[int, int] = {}
    injected: Counter[tuple[int, str]] = Counter()
    errors: Counter[tuple[int, str]] = Counter()
    values: dict[str, str] = {}
    dropped: set[str] = set()
    slid: set[int] = set()
    issued: dict[str, int] = {}
    waits: set[str] = set()
    """Calls that went to the background or whose result was held."""
    lost: set[str] = set()
    """Calls of a chat the user left while they were neither."""
    for event in events:
        if isinstance(event, SessionStarted):
            done = {i for (_, i) in injected}
            lineage = root.get(chat, chat)
            lost |= {
                i
                for i, c in issued.items()
                if root.get(c, c) == lineage and i not in done and i not in waits
            }
            root[event.session] = event.rejoins if event.rejoins is not None else event.session
        elif isinstance(event, TurnStarted):
            chat = event.session
        elif isinstance(event, CallIssued) and event.wants_result:
            issued[event.id] = event.session
        elif isinstance(event, ResultHeld):
            waits.add(event.id)
        elif isinstance(event, ContextSlid):
            slid.add(root.get(chat, chat))
        elif isinstance(event, Interrupt) and event.kind is InterruptKind.BACKGROUND:
            waits.add(event.id)
        elif isinstance(event, Interrupt) and event.kind is InterruptKind.TOOL:
            injected[root.get(chat, chat), event.id] += 1
            values[event.id] = event.value
        elif isinstance(event, Interrupt) and event.kind is InterruptKind.ERROR:
            errors[chat, event.id] += 1
        elif isinstance(event, HeldResults) and event.state is HeldState.DROPPED:
            dropped |= set(event.ids)
        elif isinstance(event, TurnFailed):
            problems.append(f"a turn failed: {event.message}")
    for (into, call_id), n in injected.items():
        if call_id not in results:
            problems.append(f"{call_id} was injected but never finished")
            continue
        owner, value = results[call_id]
        if into != root.get(owner, owner):
            problems.append(f"{call_id} of chat {owner} was injected into chat {into}")
        if n > 1:
            problems.append(f"{call_id} was injected {n} times")
        if values[call_id] != value:
            problems.append(f"{call_id} was injected as {values[call_id]!r}, not {value!r}")
    delivered = 0
    final = root.get(final_chat, final_chat)
    for call_id, (owner, value) in results.items():
        lineage = root.get(owner, owner)
        n = injected[lineage, call_id]
        delivered += n
        if n == 0 and lineage == final and call_id not in dropped | lost:
            problems.append(f"{call_id}'s result never reached chat {owner}")
        if n and call_id in dropped:
            problems.append(f"{call_id} was dropped, yet injected")
        session = sessions.get(lineage)
        if session is not None:  # what the chat's history (and so the model) holds
            said = "".join(m["content"] for m in session.messages if m["role"] == "assistant")
            held = said.count(format_interrupt(call_id, value))
            if held > n or (held < n and lineage not in slid):  # a slide drops old turns
                problems.append(f"{call_id}: chat {owner}'s history holds it {held}x, not {n}x")
    for owner, ids in interrupted.items():
        for call_id in ids:
            n = errors[owner, call_id]
            if n > 1 or (n == 0 and owner == final_chat):
                problems.append(f"chat {owner} was told {n}x that {call_id} was interrupted")
    return problems, delivered


# ---------------------------------------------------------------- stepped cases


def resume(n: int) -> NewSession:
    """A saved chat whose call ``x{n}`` was running when the app quit."""
    call_id = f"x{n}"
    history = (
        {"role": "system", "content": "You are a test."},
        {"role": "user", "content": "Start it."},
        {"role": "assistant", "content": f" [CALL] {call_id} [HEAD] t() [END] Started."},
    )
    return NewSession(history=history, call_ids=frozenset({call_id}), interrupted=(call_id,))


def schedule(st: Stepped, rng: random.Random) -> None:
    """The user's side of one case, at random times."""
    st.post_at(0, SendMessage("u0"))
    for i in range(rng.randint(0, 3)):
        st.post_at(rng.randint(0, HORIZON), SendMessage(f"u{i + 1}"))
    for _ in range(rng.choice((0, 0, 1, 2))):
        st.post_at(rng.randint(0, HORIZON), StopGeneration())
    for i in range(rng.choice((0, 0, 1, 1, 2, 3))):
        roll = rng.random()
        if roll < 0.35:
            st.at(rng.randint(0, HORIZON), "open an earlier chat", lambda: rejoin(st))
        else:
            st.post_at(rng.randint(0, HORIZON), resume(i) if roll < 0.6 else NewSession())
    for _ in range(rng.choice((0, 1, 2))):
        idle = rng.choice(list(DeliverIdle))
        deliver = rng.choice((None, *Deliver))
        st.at(rng.randint(0, HORIZON), "set delivery", functools.partial(change, st, idle, deliver))
    if rng.random() < 0.3:
        st.post_at(rng.randint(0, HORIZON), KeepResults())
    if rng.random() < 0.3:
        st.at(rng.randint(0, HORIZON), "cancel a call", lambda: cancel(st))


def rejoin(st: Stepped) -> None:
    """The user opens an earlier chat of this run again, as the app does:
    its saved history and ids, and its serial (a new chat when there is none
    yet)."""
    if st.mailbox.running or st.mailbox.queued():  # the app opens a chat only while idle
        st.at(st.clock + 5, "open an earlier chat", lambda: rejoin(st))
        return
    earlier = sorted({e.session for e in st.events if isinstance(e, TurnStarted)})
    if not earlier:
        st.post_new_session(NewSession())
        return
    serial = st.rng.choice(earlier)
    roots = {e.session: e.rejoins for e in st.events if isinstance(e, SessionStarted) and e.rejoins}
    lineage = roots.get(serial, serial)
    left = st.sessions[max(s for s in earlier if roots.get(s, s) == lineage)]  # saved as of now
    history = tuple(left.messages)
    st.post_new_session(NewSession(history, frozenset(left.ids), rejoin=serial))


def change(st: Stepped, idle: DeliverIdle, deliver: Deliver | None) -> None:
    """The user changes one call's delivery (one of the calls so far)."""
    if st.calls:
        call_id = st.rng.choice(sorted(st.calls))
        st.engine.post(SetDelivery(call_id, deliver_idle=idle, deliver=deliver))


def cancel(st: Stepped) -> None:
    """The user cancels one of the calls so far."""
    if st.calls:
        st.engine.post(CancelCall(st.rng.choice(sorted(st.calls))))


def delay(rng: random.Random) -> int:
    """Steps until a call returns: at once, within the answer, or long after."""
    kind = rng.random()
    if kind < 0.15:
        return 0
    if kind < 0.55:
        return rng.randint(1, 20)
    if kind < 0.85:
        return rng.randint(20, 150)
    return rng.randint(150, 2 * HORIZON)


def run_case(seed: int) -> Outcome:
    """One random case on the stepped engine."""
    rng = random.Random(seed)
    out = Outcome(seed)
    writer = Writer(rng)
    st = Stepped(
        rng,
        writer,
        mode=rng.choice((Mode.ASYNC,) * 6 + (Mode.SYNC, Mode.PARALLEL)),
        wait_at_end_s=rng.choice((None, 0.0, 30.0)),
        result_delay=lambda: delay(rng),
        prefill_batch=rng.choice((0, 0, 16)),
        n_ctx=rng.choice((8192,) * 4 + (SMALL_CTX,)),
    )
    sessions: dict[int, Session] = {}
    interrupted: dict[int, tuple[str, ...]] = {}

    roots: dict[int, int] = {}

    def watch(event: Event) -> None:
        if isinstance(event, TurnStarted):
            st.sessions[event.session] = st.engine._session
            sessions[roots.get(event.session, event.session)] = st.engine._session
            if event.started_by:
                wants = [st.mailbox.policy(i).deliver_idle for i in event.started_by]
                if DeliverIdle.ANSWER not in wants:
                    out.problems.append(f"turn {event.started_by} started for no answer: {wants}")
            elif not event.text:
                out.problems.append("a turn started with neither a message nor results")
        elif isinstance(event, SessionStarted):
            interrupted[event.session] = st.resumes.popleft()
            if event.rejoins is not None:
                roots[event.session] = event.rejoins

    st.watchers.append(watch)
    schedule(st, rng)
    try:
        st.run()
        out.problems += stranded(st.events, st.engine)
        writer.quiet = True  # the user's last message collects what is held
        st.post_at(st.clock + 1, SendMessage("last"))
        st.run()
        snap = st.engine.snapshot()
        if snap.background or st.mailbox.held() or st.mailbox.has_ready():
            out.problems.append(f"left over: {snap.background} held {st.mailbox.held()}")
        if not st.mailbox.idle.is_set():
            out.problems.append("the engine never went idle")
    except Hang as exc:
        out.problems.append(f"hang: {exc}")
    finally:
        st.close()
    out.problems += st.errors
    unposted = [i for i, c in st.calls.items() if c.posted is None]
    if unposted:
        out.problems.append(f"calls that never finished: {unposted}")
    results = {
        i: (c.posted.session, c.posted.value)
        for i, c in st.calls.items()
        if c.posted is not None and c.request.wants_result
    }
    problems, delivered = check(
        st.events, results, st.engine._session.serial, sessions, interrupted
    )
    out.problems += problems
    out.seen = moments(st.events)
    out.seen["results"] = len(results)
    out.seen["delivered"] = delivered
    return out


def stranded(events: list[Event], engine: Engine) -> list[str]:
    """Results of the current chat that nothing will deliver by itself, once
    the user stopped acting and the engine is idle: each must wait, visibly
    held, for the user's next message because its policy says so (notify,
    silent) or because Esc stopped the turn that would have delivered it
    (Mailbox.end_turn: a stopped turn's results start no turn again)."""
    session, mailbox = engine._session, engine._mailbox
    injected = {e.id for e in events if isinstance(e, Interrupt) and e.kind is InterruptKind.TOOL}
    held = mailbox.held()
    problems = []
    for at, event in enumerate(events):
        if (
            not isinstance(event, CallFinished)
            or event.session != session.serial
            or not mailbox.completed(event.id)  # never ran (a stopped turn's collected call)
            or event.id in injected
            or event.id in session.withheld | session.dropped
        ):
            continue
        if event.id not in held:
            problems.append(f"{event.id}'s result is neither delivered nor held")
        elif mailbox.policy(event.id).deliver_idle is DeliverIdle.ANSWER and not any(
            isinstance(e, TurnDone) and e.reason is StopReason.STOPPED for e in events[at:]
        ):
            problems.append(f"{event.id}'s result asks for an answer and got none")
    return problems


def moments(events: list[Event]) -> Counter[str]:
    """The states of interest one case went through."""
    seen: Counter[str] = Counter()
    issued: dict[str, int] = {}
    chat = 1
    for event in events:
        if isinstance(event, TurnStarted):
            chat = event.session
        if isinstance(event, CallIssued):
            issued[event.id] = event.session
        elif isinstance(event, Interrupt) and event.kind is InterruptKind.TOOL:
            seen["delivered to the chat opened again"] += issued.get(event.id, chat) != chat
        if isinstance(event, TurnStarted) and event.started_by:
            seen["result turns"] += 1
        elif isinstance(event, ResultHeld):
            seen["held"] += 1
        elif isinstance(event, CallBackgrounded):
            seen["backgrounded"] += 1
        elif isinstance(event, TurnDone) and event.reason is StopReason.STOPPED:
            seen["stopped"] += 1
            seen["stopped before a token"] += event.n_generated == 0
        elif isinstance(event, SessionStarted):
            seen["new chats"] += 1
            seen["rejoined"] += event.rejoins is not None
        elif isinstance(event, ContextSlid):
            seen["slides"] += 1
        elif isinstance(event, HeldResults) and event.state is HeldState.DROPPED:
            seen["withheld, dropped"] += 1
        elif isinstance(event, Interrupt) and event.kind is InterruptKind.ERROR:
            seen["told interrupted"] += 1
    return seen


def test_every_result_is_delivered_exactly_once_to_its_chat() -> None:
    start = time.perf_counter()
    ran = 0
    seen: Counter[str] = Counter()
    for seed in range(STEPPED_CASES):
        out = run_case(seed)
        assert not out.problems, (
            f"seed {seed}: {out.problems[:5]} (replay: PYTHONPATH=tests:tests/engine python -c "
            f"'from test_background_property import run_case; print(run_case({seed}))')"
        )
        ran += 1
        seen += out.seen
    assert ran == STEPPED_CASES
    print(f"{ran} cases in {time.perf_counter() - start:.1f} s: {dict(seen)}")
    # The schedules reach the states that matter, not just the easy ones.
    assert seen["results"] > 2 * STEPPED_CASES
    assert seen["delivered"] < seen["results"]  # some chats were left first
    for state in ("result turns", "held", "backgrounded", "stopped", "new chats", "rejoined"):
        assert seen[state] > STEPPED_CASES // 10, state
    for state in (
        "stopped before a token",
        "withheld, dropped",
        "told interrupted",
        "slides",
        "delivered to the chat opened again",
    ):
        assert seen[state] > STEPPED_CASES // 100, state


# ---------------------------------------------------------------- threaded cases


class ToolTime:
    """Every tool of the threaded cases: it works for a random span (none,
    shorter than an answer, longer than one), drawn from the case's seed."""

    def __init__(self) -> None:
        self.rng = random.Random(0)
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            span = self.rng.choice((0.0, 0.0005, 0.002, 0.01))
        time.sleep(span)  # the tool's own work (the test waits on events only)
        return f"worked {span} s"


TOOL_TIME = ToolTime()


@functools.cache
def threaded_registry() -> ToolRegistry:
    """One tool per delivery policy, each running :data:`TOOL_TIME`."""
    registry = ToolRegistry()
    for deliver, idle, background in POLICIES:
        registry.add_function(
            tool_name(deliver, idle, background),
            TOOL_TIME,
            description="test tool",
            estimated_ms=5,
            background=background,
            deliver=deliver,
            deliver_idle=idle,
        )
    return registry


def user_actions(rng: random.Random) -> list[Input]:
    """What the user does during a threaded case."""
    actions: list[Input] = []
    for n in range(rng.randint(2, 6)):
        roll = rng.random()
        if roll < 0.5:
            actions.append(SendMessage(f"u{n + 1}"))
        elif roll < 0.7:
            actions.append(StopGeneration())
        elif roll < 0.8:
            actions.append(NewSession())
        elif roll < 0.88:  # the first chat opened again (its calls come back to it)
            actions.append(NewSession(rejoin=1))
        else:
            actions.append(KeepResults())
    return actions


def threaded_case(seed: int) -> list[str]:
    """One case on the real engine with its threads; its problems."""
    rng = random.Random(seed)
    TOOL_TIME.rng = random.Random(seed)
    writer = Writer(rng)
    backend = ScriptedBackend([writer() for _ in range(30)])
    actions = user_actions(rng)
    triggers = sorted(rng.sample(range(1, 120), len(actions)))
    lock = threading.Lock()
    seen = [0]

    wait = rng.choice((None, 0.0, 0.005))  # None: every answer waits for all its calls
    how: dict[str, Any] = {"wait_for_all": True} if wait is None else {"tools.wait_at_end_s": wait}
    with scripted(backend=backend, registry=threaded_registry(), **how) as run:

        def act(event: Event) -> None:  # on the engine's threads: decode and tools
            with lock:
                seen[0] += 1
                due = [a for a, at in zip(actions, triggers, strict=True) if at == seen[0]]
            for inp in due:
                run.post(inp)

        run.hooks.append(act)
        run.post(SendMessage("u0"))
        run.settle()
        with lock:  # what the engine went quiet before: the user does it now
            late = [a for a, at in zip(actions, triggers, strict=True) if at > seen[0]]
            seen[0] = 10**9
        for inp in late:
            run.post(inp)
        run.settle()
        problems = stranded(run.events, run.engine)
        backend.turns.clear()  # no more calls: the last message collects what is held
        run.post(SendMessage("last"))
        run.settle()
        snap = run.engine.snapshot()
    issued = {e.id: e.session for e in run.of(CallIssued) if e.wants_result}
    results = {e.id: (issued[e.id], e.value) for e in run.of(CallFinished) if e.id in issued}
    found, _ = check(run.events, results, snap.session, {}, {})
    problems += found
    if snap.background:
        problems.append(f"still in the background after the last message: {snap.background}")
    return problems


def test_the_threaded_engine_delivers_exactly_once_too() -> None:
    ran = 0
    for seed in range(THREADED_CASES):
        problems = threaded_case(seed)
        assert not problems, f"threaded seed {seed}: {problems[:5]}"
        ran += 1
    assert ran == THREADED_CASES
