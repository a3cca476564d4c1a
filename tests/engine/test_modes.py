"""The decode loop's scheduling on the scripted backend: modes, traps, EOS,
stop, cancel, approval and user interrupts.  Fast and exact; the real-model
versions in ``tests/model`` keep covering llama.cpp itself."""

from __future__ import annotations

from engine_harness import Gate, Run, scripted

from asynclm_tui.core.api.enums import CallStatus, Decision, InterruptKind, PauseReason, StopReason
from asynclm_tui.core.api.events import (
    ApproveCall,
    CallFinished,
    CallIssued,
    CallUpdated,
    CancelCall,
    Interrupt,
    Resumed,
    SendMessage,
    StopGeneration,
    Token,
    Trapped,
    TurnDone,
    UserMessage,
)

FILLER = " word" * 60


def no_re_prefill(done: TurnDone) -> None:
    """The KV cache holds exactly the prompt, the tokens written and the
    interrupts: nothing was evaluated twice."""
    assert done.n_past == done.n_prompt + done.n_generated + done.n_injected


def outside_blocks(run: Run) -> None:
    """Every ``[INTR]`` the answer holds sits between blocks, never in one."""
    answer = run.backend.text().rsplit("<|im_start|>assistant\n", 1)[1]
    start = 0
    while (i := answer.find("[INTR]", start)) >= 0:
        before = answer[:i]
        opened = sum(before.count(m) for m in ("[CALL]", "[TRAP]", "[INTR]"))
        assert opened == before.count("[END]"), answer
        start = i + 1


def test_async_keeps_decoding_while_the_call_runs() -> None:
    gate = Gate()
    seen = {"after_call": 0}
    script = f"On it. [CALL] a [HEAD] gate() [END]{FILLER} [TRAP][END] Done."
    with scripted([script], tools={"gate": gate}) as run:

        def hook(event: object) -> None:
            if isinstance(event, Token) and event.text and run.of(CallIssued):
                seen["after_call"] += 1
                if seen["after_call"] == 30:
                    gate.open()

        run.hooks.append(hook)
        done = run.turn()
    call = run.index(lambda e: isinstance(e, CallIssued))
    intr = run.index(lambda e: isinstance(e, Interrupt) and e.id == "a")
    result = run.index(lambda e: isinstance(e, CallFinished))
    assert run.tokens_between(call, intr) >= 30
    assert intr > result
    assert done.reason == StopReason.EOS and done.text.endswith("Done.")
    assert "[INTR] a [HEAD] opened [END]" in done.text
    no_re_prefill(done)
    outside_blocks(run)


def test_a_call_is_issued_with_the_duration_it_asks_for() -> None:
    script = "[CALL] a [HEAD] sleep(ms=30) [END] [CALL] b [HEAD] sleep(45) [END] ok"
    with scripted([script]) as run:
        run.turn()
    assert {c.id: c.estimate_ms for c in run.of(CallIssued)} == {"a": 30.0, "b": 45.0}


def test_sync_blocks_until_the_result_is_in() -> None:
    script = f"[CALL] a [HEAD] sleep(ms=30) [END]{FILLER}"
    with scripted([script], **{"generation.mode": "sync"}) as run:
        done = run.turn()
    call = run.index(lambda e: isinstance(e, CallIssued))
    intr = run.index(lambda e: isinstance(e, Interrupt))
    assert run.tokens_between(call, intr) == 0
    assert run.of(Trapped)[0].reason == PauseReason.SYNC
    no_re_prefill(done)


def test_parallel_holds_calls_until_the_trap_then_waits_for_all() -> None:
    script = (
        "[CALL] a [HEAD] sleep(ms=30) [END] [CALL] b [HEAD] calc(expression='6*7') [END] "
        "Both queued. [TRAP][END] Results are in."
    )
    with scripted([script], **{"generation.mode": "parallel"}) as run:
        done = run.turn()
    trap = run.index(lambda e: isinstance(e, Trapped))
    held = [e.id for e in run.of(CallUpdated) if e.status is CallStatus.COLLECTED]
    assert held == ["a", "b"]
    running = run.index(lambda e: isinstance(e, CallUpdated) and e.status is CallStatus.RUNNING)
    trap_written = run.index(lambda e: isinstance(e, Token) and "[TRAP]" in e.text)
    assert running > trap_written  # nothing ran before the trap
    last = max(i for i, e in enumerate(run.events) if isinstance(e, Interrupt))
    assert run.tokens_between(trap, last) == 0
    assert {e.id: e.value for e in run.of(Interrupt)}["b"] == "42"
    no_re_prefill(done)


def test_parallel_calls_held_when_the_turn_ends_are_cancelled_not_awaited() -> None:
    script = f"[CALL] a [HEAD] sleep(ms=1) [END]{FILLER}"
    with scripted(
        [script, "Second."], **{"generation.mode": "parallel", "generation.max_tokens": 20}
    ) as run:
        first = run.turn()
        second = run.turn()
        assert run.engine.snapshot().outstanding == ()
    assert first.reason == StopReason.MAX_TOKENS
    finished = run.wait_for(CallFinished, id="a")
    assert finished.status is CallStatus.CANCELLED
    assert second.reason == StopReason.EOS and not run.of(Trapped)


def test_a_trap_with_nothing_pending_does_not_pause() -> None:
    with scripted(["Nothing to wait for. [TRAP][END] Moving on."]) as run:
        done = run.turn()
    assert not run.of(Trapped)
    assert done.text.endswith("Moving on.")


def test_a_trap_with_a_call_pending_waits_for_its_result() -> None:
    gate = Gate("late value")
    script = "[CALL] a [HEAD] gate() [END] Waiting. [TRAP][END] It said so."
    with scripted([script], tools={"gate": gate}) as run:
        run.hooks.append(lambda e: gate.open() if isinstance(e, Trapped) else None)
        done = run.turn()
    trap = run.index(lambda e: isinstance(e, Trapped))
    resumed = run.index(lambda e: isinstance(e, Resumed))
    intr = run.index(lambda e: isinstance(e, Interrupt))
    assert run.of(Trapped)[0].pending == ("a",)
    assert trap < resumed < intr
    assert run.tokens_between(trap, intr) == 0
    assert done.text.endswith("[INTR] a [HEAD] late value [END] It said so.")
    no_re_prefill(done)


def test_eos_with_a_result_pending_waits_injects_and_goes_on() -> None:
    gate = Gate("ready")
    script = "[CALL] late [HEAD] gate() [END] Let me check.<eos> Got it: ready."
    with scripted([script], tools={"gate": gate}) as run:
        run.hooks.append(lambda e: gate.open() if isinstance(e, Trapped) else None)
        done = run.turn()
    trapped = run.of(Trapped)[0]
    assert trapped.reason == PauseReason.EOS and trapped.pending == ("late",)
    assert done.reason == StopReason.EOS
    assert done.text.endswith("[INTR] late [HEAD] ready [END] Got it: ready.")
    no_re_prefill(done)


def test_stop_ends_the_turn_within_one_token_and_during_a_trap() -> None:
    gate = Gate()
    with scripted(
        [FILLER, "[CALL] a [HEAD] gate() [END] [TRAP][END] never"], tools={"gate": gate}
    ) as run:
        count = {"n": 0}

        def stop_at_ten(event: object) -> None:
            if isinstance(event, Token) and event.text:
                count["n"] += 1
                if count["n"] == 10:
                    run.post(StopGeneration())

        run.hooks.append(stop_at_ten)
        first = run.turn()
        run.hooks.clear()
        run.hooks.append(lambda e: run.post(StopGeneration()) if isinstance(e, Trapped) else None)
        second = run.turn()
        gate.open()
    assert first.reason == StopReason.STOPPED and first.n_generated <= 11
    assert second.reason == StopReason.STOPPED and "never" not in second.text


def test_a_stop_posted_between_turns_does_not_stop_the_next_one() -> None:
    with scripted(["One.", "Two."]) as run:
        run.turn()
        run.post(StopGeneration())
        assert run.turn().reason == StopReason.EOS


def test_cancel_gives_the_model_an_error_result() -> None:
    gate = Gate()
    script = "[CALL] a [HEAD] gate() [END] Waiting. [TRAP][END] Moving on."
    with scripted([script], tools={"gate": gate}) as run:
        run.hooks.append(lambda e: run.post(CancelCall("a")) if isinstance(e, CallIssued) else None)
        done = run.turn()
    finished = run.wait_for(CallFinished, id="a")
    assert finished.status is CallStatus.CANCELLED
    assert "[INTR] a [HEAD] error: cancelled [END]" in done.text


def test_approval_deny_and_allow_once() -> None:
    script = (
        "[CALL] n1 [HEAD] save_note(text='one') [END] [CALL] n2 [HEAD] save_note(text='two')"
        " [END] Asked. [TRAP][END] [TRAP][END] Done."
    )
    answers = {"n1": Decision.DENY, "n2": Decision.ONCE}
    with scripted([script], interactive=True) as run:
        run.hooks.append(
            lambda e: (
                run.post(ApproveCall(e.id, answers[e.id]))
                if isinstance(e, CallUpdated) and e.status is CallStatus.AWAITING_APPROVAL
                else None
            )
        )
        run.turn("Save two notes.")
    values = {e.id: e.value for e in run.of(Interrupt)}
    assert values["n1"] == "error: the user denied this call"
    assert not values["n2"].startswith("error")
    statuses = {e.id: e.status for e in run.of(CallFinished)}
    assert statuses == {"n1": CallStatus.DENIED, "n2": CallStatus.DONE}


def test_user_message_lands_between_tokens_outside_a_block() -> None:
    with scripted([f"Planning the trip.{FILLER}"]) as run:
        count = {"n": 0}

        def steer(event: object) -> None:
            if isinstance(event, Token) and event.text:
                count["n"] += 1
                if count["n"] == 5:
                    run.post(SendMessage("Make it Thursday."))

        run.hooks.append(steer)
        done = run.turn()
    user = run.index(lambda e: isinstance(e, UserMessage))
    assert run.tokens_between(0, user) >= 5 and run.tokens_between(user, len(run.events)) > 0
    intr = run.of(Interrupt)[0]
    assert intr.kind == InterruptKind.USER and intr.value == "Make it Thursday."
    assert "[INTR] user [HEAD] Make it Thursday. [END]" in done.text
    assert len(run.of(TurnDone)) == 1  # it steered this turn, not a new one


def test_user_message_typed_inside_a_block_waits_for_its_end() -> None:
    script = f"Calling. [CALL] a [HEAD] echo(text='hi there') [END]{FILLER}"
    with scripted([script]) as run:
        run.hooks.append(
            lambda e: (
                run.post(SendMessage("steer"))
                if isinstance(e, Token) and "[CALL]" in e.text
                else None
            )
        )
        done = run.turn()
    assert "[CALL] a [HEAD] echo(text='hi there') [END]" in done.text
    assert "[INTR] user [HEAD] steer [END]" in done.text
    outside_blocks(run)


def test_positional_arguments_are_their_own_field() -> None:
    with scripted(["[CALL] a [HEAD] echo('hi') [END] Done."]) as run:
        run.turn()
    call = run.of(CallIssued)[0]
    assert call.args == ("hi",) and call.kwargs == {}
    assert call.to_json() == {
        "event": "call",
        "t": round(call.t, 4),
        "id": "a",
        "name": "echo",
        "args": ["hi"],
        "kwargs": {},
    }
    assert call.signature() == "'hi'"
    assert run.wait_for(CallFinished, id="a").ok
