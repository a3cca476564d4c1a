"""Calls that outlive their answer, on the scripted backend: the answer ends,
the call goes on in the background, and its result is delivered as its tool
says (a turn of its own, with the next message, held until an answer ends)."""

from __future__ import annotations

from engine_harness import Gate, scripted

from asynclm_tui.core.api.delivery import CallBackgrounded, ResultHeld, SetDelivery
from asynclm_tui.core.api.enums import Deliver, DeliverIdle, InterruptKind, StopReason
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    Event,
    Interrupt,
    NewSession,
    SendMessage,
    Token,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.core.backends.scripted import ScriptedBackend

CALL = "[CALL] a [HEAD] ga() [END] I will tell you when it is done.<eos> Noted."


def test_an_answer_ends_with_its_call_running_and_the_result_starts_a_turn() -> None:
    gate = Gate("built")
    with scripted([CALL, "The build finished."], tools={"ga": gate},
                  **{"tools.wait_at_end_s": 0.2}) as run:  # fmt: skip
        first = run.turn()
        assert first.reason is StopReason.EOS
        went = run.wait_for(CallBackgrounded, id="a")
        assert (went.deliver, went.deliver_idle) == (Deliver.INTERRUPT, DeliverIdle.ANSWER)
        note = run.wait(lambda e: isinstance(e, Interrupt) and e.kind is InterruptKind.BACKGROUND)
        assert isinstance(note, Interrupt) and note.id == "a" and "background" in note.value
        assert first.text.endswith(" Noted.")
        assert run.engine.snapshot().background == ("a",)
        assert run.engine.wait_idle(5)  # the user can send the next message
        gate.open()
        started = run.wait_for(TurnStarted, 2)
        done = run.wait_for(TurnDone, 2)
    assert started.started_by == ("a",) and started.text == ""
    result = [e for e in run.of(Interrupt) if e.kind is InterruptKind.TOOL]
    assert [e.value for e in result] == ["built"]
    assert "[INTR] a [HEAD] built [END]" in done.text
    assert run.engine.snapshot().background == ()


def test_a_background_tool_does_not_wait_at_all() -> None:
    gate = Gate("ok")
    with scripted([CALL, "Done."], tools={"ga": gate},
                  delivery={"ga": {"background": True}}) as run:  # fmt: skip
        first = run.turn()
        assert not [e for e in run.events if type(e).__name__ == "Trapped"]
        assert first.reason is StopReason.EOS
        gate.open()
        run.wait_for(TurnDone, 2)


def test_notify_holds_the_result_for_the_next_message() -> None:
    gate = Gate("42")
    with scripted([CALL, "It said 42."], tools={"ga": gate},
                  delivery={"ga": {"deliver_idle": DeliverIdle.NOTIFY}},
                  **{"tools.wait_at_end_s": 0}) as run:  # fmt: skip
        run.turn()
        gate.open()
        held = run.wait_for(ResultHeld, id="a")
        assert held.deliver_idle is DeliverIdle.NOTIFY
        assert run.engine.wait_idle(5) and len(run.of(TurnStarted)) == 1
        second = run.turn("And?")
    assert run.of(TurnStarted)[1].text == "And?"
    assert "[INTR] a [HEAD] 42 [END]" in second.text


def test_when_idle_waits_for_the_answer_to_end() -> None:
    gate = Gate("R-7")
    backend = ScriptedBackend(["[CALL] a [HEAD] ga() [END]" + " word" * 80, "Got it."], step_s=0.01)
    with scripted(backend=backend, tools={"ga": gate},
                  delivery={"ga": {"deliver": Deliver.WHEN_IDLE}}) as run:  # fmt: skip
        run.hooks.append(lambda e: gate.open() if isinstance(e, CallIssued) else None)
        first = run.turn()
        second = run.wait_for(TurnDone, 2)
        held = run.wait_for(ResultHeld, id="a")
    assert held.t < first.t  # it landed mid-answer and waited
    assert "R-7" not in first.text and "[INTR] a [HEAD] R-7 [END]" in second.text
    assert not run.of(CallBackgrounded)  # finished in time: nothing to announce


def test_the_user_can_ask_for_an_answer_after_all() -> None:
    gate = Gate("v")
    with scripted([CALL, "Here it is."], tools={"ga": gate},
                  delivery={"ga": {"deliver_idle": DeliverIdle.SILENT}},
                  **{"tools.wait_at_end_s": 0}) as run:  # fmt: skip
        run.turn()
        gate.open()
        run.wait_for(ResultHeld, id="a")
        run.post(SetDelivery("a", deliver_idle=DeliverIdle.ANSWER))
        started = run.wait_for(TurnStarted, 2)
    assert started.started_by == ("a",)


def test_a_new_chat_never_receives_the_old_chats_results() -> None:
    gate = Gate("old")
    with scripted([CALL, "Fresh."], tools={"ga": gate},
                  **{"tools.wait_at_end_s": 0}) as run:  # fmt: skip
        run.turn()
        run.post(NewSession())
        gate.open()
        run.wait_for(CallFinished, id="a")
        fresh = run.turn("Hello")
    assert "old" not in fresh.text
    assert len(run.of(TurnStarted)) == 2


def test_a_message_typed_before_the_result_carries_it() -> None:
    gate = Gate("r")
    with scripted([CALL, "Both."], tools={"ga": gate},
                  **{"tools.wait_at_end_s": 0}) as run:  # fmt: skip
        run.turn()
        gate.open()
        run.post(SendMessage("hi"))
        run.wait_for(CallFinished, id="a")
        assert run.engine.wait_idle(5)
    starts = run.of(TurnStarted)
    tool = [e for e in run.of(Interrupt) if e.kind is InterruptKind.TOOL]
    assert len(tool) == 1  # exactly once, whichever turn took it
    assert len(starts) in (2, 3)


def test_waiting_for_every_call_includes_background_tools() -> None:
    gate = Gate("whole")
    with scripted([CALL + " Then it said whole."], tools={"ga": gate},
                  delivery={"ga": {"background": True}}, wait_for_all=True) as run:  # fmt: skip
        run.hooks.append(lambda e: gate.open() if type(e).__name__ == "Trapped" else None)
        done = run.turn()
    assert "[INTR] a [HEAD] whole [END]" in done.text
    assert not run.of(CallBackgrounded) and len(run.of(TurnStarted)) == 1


def test_a_when_idle_result_held_mid_answer_is_not_injected_at_its_end() -> None:
    slow, quick = Gate("S"), Gate("Q")
    script = "[CALL] s [HEAD] gs() [END] [CALL] q [HEAD] gq() [END] text<eos> More."
    backend = ScriptedBackend([script, "Later."], step_s=0.01)
    with scripted(backend=backend, tools={"gs": slow, "gq": quick},
                  delivery={"gq": {"deliver": Deliver.WHEN_IDLE}},
                  **{"tools.wait_at_end_s": 5}) as run:  # fmt: skip
        run.hooks.append(lambda e: quick.open() if isinstance(e, CallIssued) else None)
        run.hooks.append(lambda e: slow.open() if isinstance(e, ResultHeld) else None)
        first = run.turn()
        second = run.wait_for(TurnDone, 2)
    assert "[INTR] s [HEAD] S [END]" in first.text and "Q" not in first.text
    assert "[INTR] q [HEAD] Q [END]" in second.text


def test_a_result_the_full_context_could_not_take_waits_for_the_next_turn() -> None:
    """The answer fills the window just as the result is taken: it is held,
    not lost, and the next turn (in a slid window) delivers it, once."""
    gate = Gate("R" + " result words" * 8)
    backend = ScriptedBackend(
        ["[CALL] a [HEAD] ga() [END]" + " word" * 30 + "<eos>", "It said R."],
        n_ctx=270,  # the compact prompt (247), the call and a few words
        step_s=0.05,  # the result is in well before the next step
    )
    after_call: list[Token] = []

    def open_late(event: Event) -> None:  # a few words after the call: the window is near full
        if isinstance(event, Token) and run.of(CallIssued):
            after_call.append(event)
            if len(after_call) == 3:
                gate.open()

    with scripted(backend=backend, tools={"ga": gate},
                  **{"generation.prompt_style": "compact"}) as run:  # fmt: skip
        run.hooks.append(open_late)
        first = run.turn()
        assert first.reason is StopReason.CONTEXT_FULL
        held = run.wait_for(ResultHeld, id="a")
        report = run.wait_for(TurnDone, 2)
    assert held.deliver_idle is DeliverIdle.ANSWER
    assert "[INTR] a [HEAD] " not in first.text
    results = [e for e in run.of(Interrupt) if e.kind is InterruptKind.TOOL]
    assert [e.id for e in results] == ["a"]
    assert run.of(TurnStarted)[1].started_by == ("a",)
    assert "[INTR] a [HEAD] R result words" in report.text
