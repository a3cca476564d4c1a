"""Every delivery policy against every moment a result can land (issue 31):
mid-answer, between answers, as an answer ends, while the user types, while
a queued message is about to go, during a stop, a context slide, a new chat
and a resume; and a turn started by a result is an ordinary turn (Esc stops
it, a message steers it).  On the scripted backend: each result lands from an
event hook that holds the decode thread until the engine has it, so the
moment is exact.

A result goes into the answer being written when it lands mid-answer and
its tool says ``deliver: interrupt``; otherwise it is held (``ResultHeld``)
and starts a turn of its own (``deliver_idle: answer``) or goes in with the
user's next message (``notify``, ``silent``), and a queued message always
carries it.  Exactly one ``Interrupt`` per result, into its own chat only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from engine_harness import WAIT_S, Gate, Run, scripted
from stepped_engine import POLICIES

from asynclm_tui.core.api.delivery import CallBackgrounded, ResultHeld, SetDelivery
from asynclm_tui.core.api.enums import Deliver, DeliverIdle, InterruptKind, StopReason
from asynclm_tui.core.api.events import (
    CallFinished,
    ContextSlid,
    Event,
    Interrupt,
    NewSession,
    Prefilled,
    PrefillProgress,
    SendMessage,
    SessionStarted,
    StopGeneration,
    Token,
    TurnDone,
    TurnStarted,
    UserMessage,
)
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.cml.syntax import USER_ID, format_interrupt
from asynclm_tui.core.decode.background import AT_EXIT_NOTE

MODES = [
    pytest.param(d, i, b, id=f"{d.value}-{i.value}-{'bg' if b else 'fg'}") for d, i, b in POLICIES
]
ANSWER_MODES = [p for p in MODES if p.values[1] is DeliverIdle.ANSWER]
Mode3 = tuple[Deliver, DeliverIdle, bool]

CALL = "[CALL] a [HEAD] job() [END] Started.<eos> Noted."
"""Answer 1: its call outlives it (the answer waits ``wait_at_end_s`` = 0)."""
LONG = " w" * 30 + "<eos>"
VALUE = "v42"
BLOCK = format_interrupt("a", VALUE)

SAME, RESULT_TURN, NEXT = "the answer it landed in", "a turn of its own", "the next message"


def expected(mode: Mode3, *, mid_answer: bool) -> str:
    """Where a result goes (the module's docstring)."""
    deliver, idle, _ = mode
    if mid_answer and deliver is Deliver.INTERRUPT:
        return SAME
    return RESULT_TURN if idle is DeliverIdle.ANSWER else NEXT


@contextmanager
def engine(mode: Mode3, turns: list[str], **kw: Any) -> Iterator[tuple[Run, Gate]]:
    """An engine whose tool ``job`` has ``mode`` and returns :data:`VALUE`
    when its gate opens; answers end without waiting for it."""
    deliver, idle, background = mode
    gate = Gate(VALUE)
    backend = kw.pop("backend", None) or ScriptedBackend(turns)
    how = {"deliver": deliver, "deliver_idle": idle, "background": background}
    with scripted(backend=backend, tools={"job": gate}, delivery={"job": how},
                  **{"tools.wait_at_end_s": 0, **kw}) as run:  # fmt: skip
        yield run, gate


def until(run: Run, done: Callable[[], bool]) -> None:
    """Wait (on the run's events) until ``done()``."""
    deadline = time.monotonic() + WAIT_S
    with run._cv:
        while not done():
            assert time.monotonic() < deadline, "timed out"
            run._cv.wait(0.005)


def land(run: Run, gate: Gate, call_id: str = "a") -> None:
    """The call returns now, and the engine has its result before the
    thread that called this goes on (an event hook holds the decode thread)."""
    gate.open()
    mailbox = run.engine._mailbox
    until(run, lambda: mailbox.completed(call_id))


def once(when: Callable[[Event], bool], do: Callable[[], None]) -> Callable[[Event], None]:
    """A hook that runs ``do`` at the first event that satisfies ``when``."""
    fired = [False]

    def hook(event: Event) -> None:
        if not fired[0] and when(event):
            fired[0] = True
            do()

    return hook


def nth_token(run: Run, turn: int, n: int) -> Callable[[Event], bool]:
    """The ``n``-th token written in the ``turn``-th turn."""
    count = [0]

    def pred(event: Event) -> bool:
        if isinstance(event, Token) and event.text and len(run.of(TurnStarted)) == turn:
            count[0] += 1
        return count[0] == n

    return pred


def is_result(event: Event, call_id: str) -> bool:
    """Whether ``event`` injected ``call_id``'s result."""
    return isinstance(event, Interrupt) and event.kind is InterruptKind.TOOL and event.id == call_id


def delivered_in(run: Run, call_id: str = "a") -> TurnStarted:
    """The turn that received ``call_id``'s result (asserting exactly one)."""
    hits = [i for i, e in enumerate(run.events) if is_result(e, call_id)]
    assert len(hits) == 1, f"{call_id} injected {len(hits)} times"
    return [e for e in run.events[: hits[0]] if isinstance(e, TurnStarted)][-1]


def done_of(run: Run, started: TurnStarted) -> TurnDone:
    """The ``TurnDone`` of the turn that ``started`` began."""
    at = run.events.index(started)
    return next(e for e in run.events[at:] if isinstance(e, TurnDone))


def settle_then_next(run: Run, where: str) -> None:
    """Let the engine settle; send the next message when the result waits for one."""
    run.settle()
    if where == NEXT:
        run.turn("next")
        run.settle()


def check_delivery(run: Run, mode: Mode3, where: str, landed_in: str) -> None:
    """Exactly one interrupt, in the turn ``where`` says; held otherwise."""
    turn = delivered_in(run)
    if where == SAME:
        assert turn.text == landed_in and not turn.started_by
    elif where == RESULT_TURN:
        assert turn.started_by == ("a",) and turn.text == ""
    else:
        assert turn.text == "next"
        assert not [e for e in run.of(TurnStarted) if e.started_by]  # no turn of its own
    assert done_of(run, turn).text.count(BLOCK) == 1
    held = [e for e in run.of(ResultHeld) if e.id == "a"]
    if where == SAME:
        assert not held
    else:
        assert held and all(e.deliver_idle is mode[1] for e in held)
    # What reached the model: once in its context.
    assert run.backend.text().count(BLOCK) == 1
    assert sum(t.count(BLOCK) for t in run.backend.appended_texts()) == 1


# ---------------------------------------------------------------- the states


@pytest.mark.parametrize(("deliver", "idle", "background"), MODES)
def test_mid_answer(deliver: Deliver, idle: DeliverIdle, background: bool) -> None:
    mode = (deliver, idle, background)
    with engine(mode, ["[CALL] a [HEAD] job() [END]" + LONG, "Reported.", "Answered."]) as (
        run,
        gate,
    ):
        run.hooks.append(once(nth_token(run, 1, 10), lambda: land(run, gate)))
        first = run.turn("go")
        where = expected(mode, mid_answer=True)
        settle_then_next(run, where)
    check_delivery(run, mode, where, "go")
    assert first.reason is StopReason.EOS
    assert not run.of(CallBackgrounded)  # it finished within its answer


@pytest.mark.parametrize(("deliver", "idle", "background"), MODES)
def test_between_answers(deliver: Deliver, idle: DeliverIdle, background: bool) -> None:
    mode = (deliver, idle, background)
    with engine(mode, [CALL, "Reported.", "Answered."]) as (run, gate):
        first = run.turn("go")
        assert run.engine.wait_idle(WAIT_S)
        land(run, gate)
        where = expected(mode, mid_answer=False)
        settle_then_next(run, where)
    check_delivery(run, mode, where, "go")
    went = run.wait_for(CallBackgrounded, id="a")
    assert (went.deliver, went.deliver_idle) == (deliver, idle)
    notes = [e for e in run.of(Interrupt) if e.kind is InterruptKind.BACKGROUND]
    assert [e.id for e in notes] == ["a"] and "[INTR] a [HEAD] still running" in first.text


@pytest.mark.parametrize(("deliver", "idle", "background"), MODES)
def test_as_the_answer_ends(deliver: Deliver, idle: DeliverIdle, background: bool) -> None:
    """Lands after the answer's last look at its results, before the engine
    is idle: held all the same (it once waited, unseen, for the next message)."""
    mode = (deliver, idle, background)
    with engine(mode, [CALL, "Reported.", "Answered."]) as (run, gate):
        run.hooks.append(once(lambda e: isinstance(e, TurnDone), lambda: land(run, gate)))
        run.turn("go")
        where = expected(mode, mid_answer=False)
        settle_then_next(run, where)
    check_delivery(run, mode, where, "go")


@pytest.mark.parametrize(("deliver", "idle", "background"), MODES)
def test_while_the_user_types(deliver: Deliver, idle: DeliverIdle, background: bool) -> None:
    """Lands just before the user's message: one of the two turns takes it
    (whichever starts first), the message is read once."""
    mode = (deliver, idle, background)
    with engine(mode, [CALL, "One.", "Two.", "Three."]) as (run, gate):
        run.turn("go")
        assert run.engine.wait_idle(WAIT_S)
        run.hooks.append(once(lambda e: isinstance(e, ResultHeld),
                              lambda: run.post(SendMessage("next"))))  # fmt: skip
        gate.open()
        run.settle()
    turn = delivered_in(run)
    first_after = run.of(TurnStarted)[1]
    assert turn is first_after
    if idle is not DeliverIdle.ANSWER:
        assert turn.text == "next"
    asked = [e for e in run.of(TurnStarted) if e.text == "next" and not e.follow_up]
    steered = [e for e in run.of(UserMessage) if e.text == "next"]
    assert len(asked) + len(steered) == 1
    assert run.backend.text().count(BLOCK) == 1


@pytest.mark.parametrize(("deliver", "idle", "background"), MODES)
def test_while_a_queued_message_is_about_to_go(
    deliver: Deliver, idle: DeliverIdle, background: bool
) -> None:
    """The message was queued as the answer ended and the result lands
    before it is taken: the message carries it, no turn of its own."""
    mode = (deliver, idle, background)
    with engine(mode, [CALL, "Both.", "Spare."]) as (run, gate):

        def queue_then_land() -> None:
            run.post(SendMessage("next"))
            land(run, gate)

        run.hooks.append(once(lambda e: isinstance(e, TurnDone), queue_then_land))
        run.turn("go")
        run.settle()
    check_delivery(run, mode, NEXT, "go")
    assert len(run.of(TurnStarted)) == 2


@pytest.mark.parametrize(("deliver", "idle", "background"), MODES)
def test_during_a_stop(deliver: Deliver, idle: DeliverIdle, background: bool) -> None:
    """Answer 2 is stopped as the call of answer 1 returns."""
    mode = (deliver, idle, background)
    with engine(mode, [CALL, LONG, "Reported.", "Answered."]) as (run, gate):
        run.turn("go")

        def stop_and_land() -> None:
            run.post(StopGeneration())
            land(run, gate)

        run.hooks.append(once(nth_token(run, 2, 5), stop_and_land))
        second = run.turn("more")
        where = expected(mode, mid_answer=True)
        settle_then_next(run, where)
    assert second.reason is StopReason.STOPPED
    check_delivery(run, mode, where, "more")


@pytest.mark.parametrize(("deliver", "idle", "background"), MODES)
def test_during_a_context_slide(deliver: Deliver, idle: DeliverIdle, background: bool) -> None:
    """The window slides in answer 2 (the oldest turn leaves the context) as
    the call of answer 1 returns."""
    mode = (deliver, idle, background)
    with engine(mode, ["Short."]) as (probe, _):
        probe.turn("one")
    n_prompt = probe.of(Prefilled)[0].n_prompt
    backend = ScriptedBackend([CALL + " one" * 100, " two" * 300 + "<eos>", "Reported.", "Ok."],
                              n_ctx=n_prompt + 400)  # fmt: skip
    with engine(mode, [], backend=backend) as (run, gate):
        run.turn("go")
        in_turn_2 = once(lambda e: isinstance(e, ContextSlid) and len(run.of(TurnStarted)) == 2,
                         lambda: land(run, gate))  # fmt: skip
        run.hooks.append(in_turn_2)
        run.turn("more")
        where = expected(mode, mid_answer=True)
        settle_then_next(run, where)
    slid = [i for i, e in enumerate(run.events) if isinstance(e, ContextSlid)]
    second = run.events.index(run.of(TurnStarted)[1])
    assert any(i > second for i in slid), "no slide in answer 2"
    turn = delivered_in(run)
    assert done_of(run, turn).text.count(BLOCK) == 1
    assert turn.text == {SAME: "more", RESULT_TURN: "", NEXT: "next"}[where]
    assert run.backend.text().count(BLOCK) <= 1  # (a later slide may drop it)


@pytest.mark.parametrize(("deliver", "idle", "background"), MODES)
def test_during_a_new_chat(deliver: Deliver, idle: DeliverIdle, background: bool) -> None:
    mode = (deliver, idle, background)
    with engine(mode, [CALL, "Fresh.", "Spare."]) as (run, gate):
        run.turn("go")
        assert run.engine.wait_idle(WAIT_S)
        run.hooks.append(once(lambda e: isinstance(e, SessionStarted), gate.open))
        run.post(NewSession())
        run.wait_for(CallFinished, id="a")
        fresh = run.turn("hello")
        run.settle()
    assert fresh.text == "Fresh." and len(run.of(TurnStarted)) == 2
    assert not [e for e in run.of(Interrupt) if e.kind is InterruptKind.TOOL]
    assert not [e for e in run.of(ResultHeld) if e.session == 2]
    assert run.backend.text().count(VALUE) == 0


@pytest.mark.parametrize(("deliver", "idle", "background"), MODES)
def test_just_before_a_new_chat(deliver: Deliver, idle: DeliverIdle, background: bool) -> None:
    """Lands, and the user starts a new chat at once: delivered in the old
    chat (if its turn started first) or never; never in the new one."""
    mode = (deliver, idle, background)
    with engine(mode, [CALL, "Reported.", "Fresh.", "Spare."]) as (run, gate):
        run.turn("go")
        assert run.engine.wait_idle(WAIT_S)
        run.hooks.append(once(lambda e: isinstance(e, ResultHeld), lambda: run.post(NewSession())))
        gate.open()
        run.wait_for(SessionStarted)
        run.turn("hello")
        run.settle()
    hits = [e for e in run.of(Interrupt) if e.kind is InterruptKind.TOOL]
    new_chat = run.index(lambda e: isinstance(e, SessionStarted))
    assert len(hits) <= 1 and all(run.events.index(h) < new_chat for h in hits)
    last = run.of(TurnStarted)[-1]
    assert last.text == "hello" and VALUE not in done_of(run, last).text


@pytest.mark.parametrize(("deliver", "idle", "background"), MODES)
def test_during_a_resume(deliver: Deliver, idle: DeliverIdle, background: bool) -> None:
    """A saved chat is resumed whose call ``a`` was running at quit, as this
    chat's own ``a`` returns: the resumed chat hears once that its ``a`` was
    interrupted, and never this chat's result."""
    mode = (deliver, idle, background)
    history = (
        {"role": "system", "content": "Saved."},
        {"role": "user", "content": "Build it."},
        {"role": "assistant", "content": " [CALL] a [HEAD] job() [END] Building."},
    )
    with engine(mode, [CALL, "It was lost.", "Spare."]) as (run, gate):
        run.turn("go")
        assert run.engine.wait_idle(WAIT_S)
        run.hooks.append(once(lambda e: isinstance(e, SessionStarted), gate.open))
        run.post(NewSession(history, frozenset({"a"}), interrupted=("a",)))
        run.wait_for(CallFinished, id="a")
        resumed = run.turn("what happened?")
        run.settle()
    told = [e for e in run.of(Interrupt) if e.id == "a" and e.kind is InterruptKind.ERROR]
    assert [e.value for e in told] == [AT_EXIT_NOTE]
    assert resumed.text.count(format_interrupt("a", AT_EXIT_NOTE)) == 1
    assert VALUE not in resumed.text and run.backend.text().count(VALUE) == 0
    assert not [e for e in run.of(Interrupt) if e.kind is InterruptKind.TOOL]


# ---------------------------------------------------------------- a result's turn is ordinary


@pytest.mark.parametrize(("deliver", "idle", "background"), ANSWER_MODES)
def test_a_result_turn_can_be_stopped(
    deliver: Deliver, idle: DeliverIdle, background: bool
) -> None:
    with engine((deliver, idle, background), [CALL, LONG, "Answered."]) as (run, gate):
        run.turn("go")
        assert run.engine.wait_idle(WAIT_S)
        run.hooks.append(once(nth_token(run, 2, 3), lambda: run.post(StopGeneration())))
        land(run, gate)
        stopped = run.wait_for(TurnDone, 2)
        run.settle()
    assert stopped.reason is StopReason.STOPPED and stopped.text.startswith(BLOCK)
    assert delivered_in(run).started_by == ("a",)
    assert len(run.of(TurnStarted)) == 2  # nothing starts again by itself


@pytest.mark.parametrize(("deliver", "idle", "background"), ANSWER_MODES)
def test_a_result_turn_stopped_while_reading_its_prompt_waits_for_the_next_message(
    deliver: Deliver, idle: DeliverIdle, background: bool
) -> None:
    """Esc before the model read the result: the result is held again, and
    Esc means no turn starts again by itself; the next message carries it."""
    backend = ScriptedBackend([CALL, "Never.", "Both."], prefill_batch=2)
    with engine((deliver, idle, background), [], backend=backend) as (run, gate):
        run.turn("go")
        assert run.engine.wait_idle(WAIT_S)
        stop_in_prompt = once(
            lambda e: isinstance(e, PrefillProgress) and len(run.of(TurnStarted)) == 2,
            lambda: run.post(StopGeneration()),
        )
        run.hooks.append(stop_in_prompt)
        land(run, gate)
        stopped = run.wait_for(TurnDone, 2)
        run.settle()
        assert len(run.of(TurnStarted)) == 2 and run.engine._mailbox.held() == ("a",)
        assert len([e for e in run.of(ResultHeld) if e.id == "a"]) == 2  # held again
        run.turn("next")
        run.settle()
    assert stopped.reason is StopReason.STOPPED and stopped.n_generated == 0
    assert delivered_in(run).text == "next"
    assert run.engine.snapshot().background == ()


@pytest.mark.parametrize(("deliver", "idle", "background"), ANSWER_MODES)
def test_a_result_turn_is_steered_by_a_message_and_ends_as_any_turn(
    deliver: Deliver, idle: DeliverIdle, background: bool
) -> None:
    with engine((deliver, idle, background), [CALL, LONG + " Reported.", "Later."]) as (run, gate):
        run.turn("go")
        assert run.engine.wait_idle(WAIT_S)
        run.hooks.append(once(nth_token(run, 2, 3), lambda: run.post(SendMessage("steer"))))
        land(run, gate)
        done = run.wait_for(TurnDone, 2)
        run.settle()
        later = run.turn("then?")
    assert run.of(TurnStarted)[1].started_by == ("a",)
    assert [e.text for e in run.of(UserMessage)] == ["steer"]
    assert done.reason is StopReason.EOS and done.n_generated > 0
    assert done.text.startswith(BLOCK) and format_interrupt(USER_ID, "steer") in done.text
    assert later.n_prompt > done.n_past - 5  # the next prompt holds the result turn's answer
    assert run.backend.text().count(BLOCK) == 1


@pytest.mark.parametrize(("deliver", "idle", "background"),
                         [p for p in MODES if p.values[0] is Deliver.WHEN_IDLE])  # fmt: skip
@pytest.mark.parametrize("moment", ["mid-answer", "at its end"])
def test_waiting_for_every_call_ends_when_a_when_idle_call_returned(
    deliver: Deliver, idle: DeliverIdle, background: bool, moment: str
) -> None:
    """``wait_at_end_s: null`` (as ``asynclm run``): the answer waits for the
    call, then ends without its result, which goes where its tool says."""
    mode = (deliver, idle, background)
    script = "[CALL] a [HEAD] job() [END]" + LONG + " More."
    with engine(mode, [script, "Reported.", "Answered."], wait_for_all=True) as (
        run,
        gate,
    ):
        if moment == "mid-answer":
            run.hooks.append(once(nth_token(run, 1, 10), lambda: land(run, gate)))
        else:
            run.hooks.append(once(lambda e: type(e).__name__ == "Trapped", gate.open))
        first = run.turn("go")
        where = expected(mode, mid_answer=False)
        settle_then_next(run, where)
    assert first.reason is StopReason.EOS and BLOCK not in first.text
    check_delivery(run, mode, where, "go")


@pytest.mark.parametrize(("deliver", "idle", "background"), ANSWER_MODES)
def test_a_result_turn_that_fails_before_its_prompt_is_read_is_not_repeated(
    deliver: Deliver, idle: DeliverIdle, background: bool
) -> None:
    """A failure would repeat on every retry: the result is held again for
    the next message instead of starting turn after failing turn."""
    backend = ScriptedBackend([CALL, "Both."])
    with engine((deliver, idle, background), [], backend=backend) as (run, gate):
        run.turn("go")
        assert run.engine.wait_idle(WAIT_S)
        backend.faults["render_chat"] = backend._calls["render_chat"] + 1  # the result turn's
        land(run, gate)
        failed = run.wait_for(TurnDone, 2)
        run.settle()
        assert len(run.of(TurnStarted)) == 2 and run.engine._mailbox.held() == ("a",)
        run.turn("next")
        run.settle()
    assert failed.reason is StopReason.ERROR and run.of(TurnStarted)[1].started_by == ("a",)
    assert delivered_in(run).text == "next"


@pytest.mark.parametrize("background", [False, True])
def test_a_result_made_silent_before_its_turn_starts_starts_none(background: bool) -> None:
    """The user turns the held result silent while its turn waits to start:
    no turn starts for it; the next message carries it."""
    mode = (Deliver.INTERRUPT, DeliverIdle.ANSWER, background)
    with engine(mode, [CALL, "Both.", "Spare."]) as (run, gate):
        quiet = SetDelivery("a", deliver_idle=DeliverIdle.SILENT)
        run.hooks.append(once(lambda e: isinstance(e, ResultHeld), lambda: run.post(quiet)))
        run.hooks.append(once(lambda e: isinstance(e, TurnDone), lambda: land(run, gate)))
        run.turn("go")
        run.settle()
        assert len(run.of(TurnStarted)) == 1
        run.turn("next")
        run.settle()
    assert delivered_in(run).text == "next"
