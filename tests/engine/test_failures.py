"""The engine never dies: failures at every stage end the turn with one line,
the next message is answered, and nothing posted meanwhile is lost.  Plus a
full context, a failed load, and new sessions while calls run."""

from __future__ import annotations

import io

import pytest
from engine_harness import WAIT_S, Gate, scripted

from asynclm_tui.core.api.enums import Injection, Mode, StopReason
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    Configure,
    Interrupt,
    ModelLoadFailed,
    NewSession,
    Prefilled,
    SendMessage,
    SessionStarted,
    SetTools,
    Trapped,
    TurnDone,
    TurnFailed,
    TurnStarted,
)
from asynclm_tui.core.api.handle import LoadState
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.headless.run import run_headless


@pytest.mark.parametrize(
    ("method", "nth", "stage"),
    [
        ("render_chat", 1, "reading the prompt"),
        ("tokenize", 1, "reading the prompt"),
        ("append", 1, "reading the prompt"),
        ("sample", 3, "writing the answer"),
        ("piece", 3, "writing the answer"),
        ("append", 4, "writing the answer"),
    ],
)
def test_a_failure_at_any_stage_ends_the_turn_and_the_next_message_is_answered(
    method: str, nth: int, stage: str
) -> None:
    backend = ScriptedBackend(["One two three four five.", "Fine now."], faults={method: nth})
    with scripted(backend=backend) as run:
        # Posted while the engine recovers from the failure.
        run.hooks.append(
            lambda e: run.post(SendMessage("second")) if isinstance(e, TurnFailed) else None
        )
        run.post(SendMessage("first"))
        first = run.wait_for(TurnDone, 1)
        second = run.wait_for(TurnDone, 2)
        assert not run.engine.snapshot().busy
    failed = run.of(TurnFailed)
    assert len(failed) == 1
    assert failed[0].message.startswith(f"failed while {stage}: ScriptedFault: ")
    assert "\n" not in failed[0].message and "Traceback" in failed[0].detail
    assert first.reason == StopReason.ERROR
    assert [t.text for t in run.of(TurnStarted)] == ["first", "second"]
    assert second.reason == StopReason.EOS and second.text.endswith(".")
    assert run.index(lambda e: isinstance(e, TurnFailed)) < run.index(lambda e: e is first)


def test_a_result_that_cannot_be_tokenized_fails_the_turn_but_no_message_is_lost() -> None:
    backend = ScriptedBackend(
        ["[CALL] a [HEAD] poisoned() [END] Waiting. [TRAP][END] never", "Steered."],
        poison="POISON",
    )
    gate = Gate("POISON")
    with scripted(backend=backend, tools={"poisoned": gate}) as run:

        def at_trap(event: object) -> None:
            if isinstance(event, Trapped):
                run.post(SendMessage("steer"))  # taken with the poisoned result
                gate.open()

        run.hooks.append(at_trap)
        run.post(SendMessage("go"))
        first = run.wait_for(TurnDone, 1)
        second = run.wait_for(TurnDone, 2)
        assert run.engine.snapshot().outstanding == ()
    assert first.reason == StopReason.ERROR
    assert "cannot tokenize" in run.of(TurnFailed)[0].message
    assert [t.text for t in run.of(TurnStarted)] == ["go", "steer"]
    assert second.reason == StopReason.EOS and second.text == "Steered."


def test_a_prompt_that_does_not_fit_ends_the_turn_and_the_engine_stays_usable() -> None:
    backend = ScriptedBackend(["never"], n_ctx=64)
    with scripted(backend=backend) as run:
        first = run.turn("hi")
        second = run.turn("again")
    assert first.reason == second.reason == StopReason.CONTEXT_FULL
    failed = run.of(TurnFailed)
    assert [f.reason for f in failed] == [StopReason.CONTEXT_FULL] * 2
    assert "does not fit the context window (64 tokens): " in failed[0].message
    assert not run.of(Prefilled)


def test_the_context_filling_up_mid_answer_ends_the_turn_with_the_answer_kept() -> None:
    with scripted(["Short."]) as probe:
        probe.turn()
    n_prompt = probe.of(Prefilled)[0].n_prompt
    backend = ScriptedBackend([" word" * 50], n_ctx=n_prompt + 10)
    with scripted(backend=backend) as run:
        done = run.turn()
    assert done.reason == StopReason.CONTEXT_FULL and done.n_generated == 10
    assert done.text == " word" * 10 and done.n_past == 10 + n_prompt == done.n_ctx
    assert run.of(TurnFailed)[0].reason == StopReason.CONTEXT_FULL


def test_a_model_that_fails_to_load_is_reported_once() -> None:
    def broken(_progress: object) -> ScriptedBackend:
        raise RuntimeError("no such device\nsecond line")

    from engine_harness import settings

    engine = Engine(settings(), ToolRegistry(), broken)  # type: ignore[arg-type]
    seen: list[object] = []
    engine.subscribe(seen.append)
    engine.start()
    try:
        assert not engine.wait_loaded(WAIT_S)
        assert engine.wait_idle(0)
        snap = engine.snapshot()
        assert snap.load is LoadState.FAILED and snap.load_error == "RuntimeError: no such device"
    finally:
        engine.close()
    assert [type(e) for e in seen] == [ModelLoadFailed]


def test_a_new_session_while_a_call_runs_never_gets_its_result() -> None:
    gate = Gate("old secret")
    with scripted(
        ["[CALL] a [HEAD] gate() [END] Started.", "[CALL] a [HEAD] echo(text='fresh') [END] New."],
        tools={"gate": gate},
        **{"generation.mode": "sync"},
    ) as run:
        run.post(Configure(mode=Mode.ASYNC))
        # The first turn waits at EOS for `a`: a new chat stops it.
        run.hooks.append(lambda e: run.post(NewSession()) if isinstance(e, Trapped) else None)
        first = run.turn("old chat")
        run.hooks.clear()
        started = run.wait_for(SessionStarted)
        gate.open()  # the old call returns now, into no chat
        run.wait_for(CallFinished, id="a", session=1)
        run.post(Configure(mode=Mode.SYNC))
        second = run.turn("new chat")
        snap = run.engine.snapshot()
    assert first.reason == StopReason.STOPPED
    assert started.session == 2 == snap.session and snap.turns == 1
    assert "old secret" not in second.text and "cancelled" not in second.text
    new = [e for e in run.of(Interrupt) if e.t > started.t]
    assert [(e.id, e.value) for e in new] == [("a", "fresh")]
    # Sync mode waited for the new `a` (the old one's completion was forgotten).
    call = run.index(lambda e: isinstance(e, CallIssued) and e.session == 2)
    intr = run.index(lambda e: isinstance(e, Interrupt) and e.t > started.t)
    assert run.tokens_between(call, intr) == 0
    assert "old chat" not in run.backend.text() and "Started." not in run.backend.text()


def test_messages_posted_after_a_new_session_belong_to_it() -> None:
    with scripted(["One.", "Two.", "Three."]) as run:
        run.post(SendMessage("a"))
        run.post(NewSession())
        run.post(SendMessage("b"))  # never an interrupt of "a"'s turn
        run.wait_for(TurnDone, 2)
        run.turn("c")
    assert not run.of(Interrupt)
    starts = run.of(TurnStarted)
    assert [(t.text, t.session, t.turn) for t in starts] == [("a", 1, 1), ("b", 2, 1), ("c", 2, 2)]
    assert "One." not in run.backend.text()


def test_configure_and_set_tools_apply_to_the_next_turn() -> None:
    tools = ToolRegistry()
    tools.add_function("only", lambda: "x", description="test tool")
    with scripted(["A.", "B."]) as run:
        run.turn()
        run.post(Configure(mode=Mode.PARALLEL, injection=Injection.REPREFILL))
        run.post(SetTools(tools))
        run.post(NewSession())
        run.turn()
        snap = run.engine.snapshot()
    assert snap.mode is Mode.PARALLEL and snap.injection is Injection.REPREFILL
    assert snap.tools == ("only",) and "only(" in snap.system_prompt
    assert [t.mode for t in run.of(TurnStarted)] == [Mode.ASYNC, Mode.PARALLEL]


@pytest.mark.parametrize("as_json", [False, True])
def test_headless_run_exits_non_zero_with_one_line_when_the_context_is_full(
    as_json: bool,
) -> None:
    from engine_harness import settings

    backend = ScriptedBackend(["never"], n_ctx=64)
    engine = Engine(settings(), ToolRegistry(), backend.factory())
    out, err = io.StringIO(), io.StringIO()
    code = run_headless(engine, "hi", as_json=as_json, out=out, err=err)
    assert code == 1
    if as_json:
        assert '"event": "error"' in out.getvalue() and '"reason": "context_full"' in out.getvalue()
    else:
        lines = [line for line in err.getvalue().splitlines() if line.startswith("asynclm:")]
        assert len(lines) == 1 and "the context window (64 tokens): " in lines[0]
    assert "Traceback" not in err.getvalue() + out.getvalue()


@pytest.mark.parametrize("debug", [False, True])
def test_headless_run_reports_a_failure_in_one_line_and_its_traceback_with_debug(
    debug: bool,
) -> None:
    from engine_harness import settings

    backend = ScriptedBackend(["One two."], faults={"sample": 1})
    engine = Engine(settings(), ToolRegistry(), backend.factory())
    out, err = io.StringIO(), io.StringIO()
    assert run_headless(engine, "hi", debug=debug, out=out, err=err) == 1
    lines = [line for line in err.getvalue().splitlines() if line.startswith("asynclm:")]
    assert lines == [
        "asynclm: failed while writing the answer: ScriptedFault: "
        "scripted failure in sample (call 1)"
    ]
    assert ("Traceback" in err.getvalue()) is debug
