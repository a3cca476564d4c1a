"""A chat's calls outlive the chat on screen (issue 31): a new chat leaves the
old one's background calls running, their results wait for the old chat, and
opening it again (in this run, or with --continue in a later one) delivers
them to it, once, as their delivery says."""

from __future__ import annotations

import threading
from pathlib import Path

from engine_harness import Gate, Run, scripted

from asynclm_tui.core.api.delivery import CallBackgrounded, ResultHeld
from asynclm_tui.core.api.enums import CallStatus, DeliverIdle, InterruptKind
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    CancelCall,
    Interrupt,
    NewSession,
    SendMessage,
    SessionStarted,
    TurnDone,
    TurnStarted,
    WaitingResult,
)
from asynclm_tui.core.sessions.recorder import Recorder, resume_into
from asynclm_tui.core.sessions.store import SessionStore

CALL = "[CALL] b1 [HEAD] build() [END] I will tell you when it is done.<eos>"
WAIT = {"tools.wait_at_end_s": 0}


def injected(run_events: list[object], session: int) -> list[Interrupt]:
    """Tool results injected into engine session ``session``."""
    out, chat = [], 1
    for event in run_events:
        if isinstance(event, TurnStarted):
            chat = event.session
        elif isinstance(event, Interrupt) and event.kind is InterruptKind.TOOL and chat == session:
            out.append(event)
    return out


def leave_for_a_new_chat(run: Run) -> None:
    """Chat 1 asks for the build (it goes on in the background); chat 2 says hello."""
    run.turn("Build it")
    run.post(NewSession())
    run.turn("Hello")


def test_a_new_chat_leaves_the_old_chats_background_call_running() -> None:
    gate = Gate("built")
    with scripted([CALL, "Hi."], tools={"build": gate}, **WAIT) as run:
        run.turn("Build it")
        run.wait_for(CallBackgrounded, id="b1")
        run.post(NewSession())
        run.wait_for(SessionStarted)
        assert run.engine.snapshot().away == {1: ("b1",)}
        run.turn("Hello")
        gate.open()
        held = run.wait_for(ResultHeld, id="b1")
        assert run.engine.wait_idle(5)
    finished = run.wait_for(CallFinished, id="b1")
    assert finished.status is CallStatus.DONE and finished.session == 1
    assert held.session == 1  # it waits for chat 1, announced as that chat's
    assert len(run.of(TurnStarted)) == 2  # no turn of chat 2 for it
    assert not injected(run.events, 2)
    assert run.engine.snapshot().away == {}


def test_opening_the_chat_again_delivers_what_came_in_while_it_was_away() -> None:
    gate = Gate("built")
    with scripted([CALL, "Hi.", "The build finished."], tools={"build": gate}, **WAIT) as run:
        leave_for_a_new_chat(run)
        gate.open()
        run.wait_for(ResultHeld, id="b1")
        run.post(NewSession(rejoin=1))
        back = run.wait_for(SessionStarted, 2)
        started = run.wait_for(TurnStarted, 3)
        run.wait_for(TurnDone, 3)
    assert back.session == 3 and back.rejoins == 1
    assert started.session == 3 and started.started_by == ("b1",)
    assert [e.value for e in injected(run.events, 3)] == ["built"]
    ended = [e for e in run.of(CallFinished) if e.id == "b1"]
    assert [e.session for e in ended] == [1, 3]  # the chat's view learns that it ended,
    assert ended[0].t == ended[1].t  # and when


def test_a_call_still_running_rejoins_its_chat_and_delivers_there() -> None:
    gate = Gate("built")
    with scripted([CALL, "Hi.", "The build finished."], tools={"build": gate}, **WAIT) as run:
        leave_for_a_new_chat(run)
        run.post(NewSession(rejoin=1, interrupted=("b1",)))
        run.wait_for(SessionStarted, 2)
        back = run.wait(lambda e: isinstance(e, CallBackgrounded) and e.session == 3)
        assert run.engine.snapshot().background == ("b1",)
        gate.open()
        started = run.wait_for(TurnStarted, 3)
        run.wait_for(TurnDone, 3)
    assert isinstance(back, CallBackgrounded) and back.id == "b1"
    assert started.started_by == ("b1",)
    assert [e.value for e in injected(run.events, 3)] == ["built"]
    # Still running, so not "interrupted at exit", whatever the saved chat said.
    assert not [e for e in run.of(Interrupt) if e.kind is InterruptKind.ERROR]
    ran = [e for e in run.of(CallUpdated) if e.id == "b1" and e.status is CallStatus.RUNNING]
    assert ran[-1].session in (1, 3)
    assert [e.session for e in run.of(CallFinished) if e.id == "b1"] == [3]


def test_the_old_chats_other_calls_are_cancelled_with_it() -> None:
    slow, gate = Gate("late"), Gate("built")
    turns = ["[CALL] s1 [HEAD] slow() [END] waiting [TRAP][END]", "Hi."]
    with scripted(turns, tools={"slow": slow, "build": gate}) as run:
        run.post(SendMessage("Go"))
        run.wait_for(CallUpdated, id="s1")
        run.post(NewSession())
        cancelled = run.wait_for(CallFinished, id="s1")
        run.turn("Hello")
    assert cancelled.status is CallStatus.CANCELLED
    assert run.engine.snapshot().away == {}


def test_a_result_that_lands_after_its_chat_was_left_waits_in_its_record(
    tmp_path: Path,
) -> None:
    db = tmp_path / "chats.db"
    gate = Gate("built")
    with scripted([CALL, "Hi."], tools={"build": gate}, **WAIT) as run:
        recorder = Recorder(db)
        run.engine.subscribe(recorder)
        run.turn("Build it")
        recorder.flush()
        first = recorder.session_id
        run.post(NewSession())
        recorder.new_session()
        run.turn("Hello")
        gate.open()
        run.wait_for(ResultHeld, id="b1")
        recorder.flush()
        assert recorder.engine_session_of(first) == 1
        recorder.close()
    assert first is not None
    store = SessionStore(db)
    try:
        stored = store.load(first)
    finally:
        store.close()
    (call,) = stored.turns[0].calls
    assert (call.status, call.result) == ("done", "built") and call.held_t is not None
    assert stored.waiting_results() == (WaitingResult("b1", "built", DeliverIdle.ANSWER),)
    assert stored.interrupted_at_exit() == ()

    # A later run (--continue): the chat's first turn is the result's.
    with scripted(["The build you asked for finished."]) as later:
        resume_into(later.engine, stored)
        started = later.wait_for(TurnStarted)
        done = later.wait_for(TurnDone)
    assert started.started_by == ("b1",)
    assert "[INTR] b1 [HEAD] built [END]" in done.text


class TwoBuilds:
    """The build tool, each call waiting for its own gate (the first call's, then the second's)."""

    def __init__(self) -> None:
        self.gates = [Gate("old build"), Gate("new build")]
        self.n = -1
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.n += 1
            gate = self.gates[self.n]
        return gate()


def test_a_new_chat_may_use_an_id_that_another_chat_still_runs() -> None:
    builds = TwoBuilds()
    with scripted([CALL, CALL, "New one done."], tools={"build": builds}, **WAIT) as run:
        leave_for_a_new_chat_calling(run)
        assert not [e for e in run.of(Interrupt) if e.kind is InterruptKind.ERROR]
        issued = [(e.session, e.id) for e in run.of(CallIssued)]
        assert issued == [(1, "b1"), (2, "b1")]
        run.post(CancelCall())  # Esc twice in chat 2: chat 1's build is not its to cancel
        cancelled = run.wait(lambda e: isinstance(e, CallFinished) and e.session == 2)
        builds.gates[0].open()
        held = run.wait(lambda e: isinstance(e, ResultHeld) and e.session == 1)
    assert isinstance(cancelled, CallFinished) and cancelled.status is CallStatus.CANCELLED
    assert isinstance(held, ResultHeld) and held.id == "b1"  # chat 1's build, for chat 1
    ended = {e.session: e.status for e in run.of(CallFinished)}
    assert ended == {1: CallStatus.DONE, 2: CallStatus.CANCELLED}


def leave_for_a_new_chat_calling(run: Run) -> None:
    """Chat 1 asks for the build; chat 2 asks for one too (its model picks the same id)."""
    run.turn("Build it")
    run.post(NewSession())
    run.turn("Build mine")
