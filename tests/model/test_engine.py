"""The interruptible decoding loop on the real model (llama-cpp-python).

Text is teacher-forced so runs are deterministic, but every token is a real
decode step and every interrupt a real append to the KV cache.  Nothing here
asserts wall-clock speed; the assertions are about where things landed.
"""

from __future__ import annotations

import threading

import pytest

from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    Event,
    HeldResults,
    HeldState,
    Interrupt,
    KeepResults,
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
    UserMessage,
)
from asynclm_tui.core.decode.engine import Engine
from tests.conftest import run_engine, small_settings, tool_registry

pytestmark = pytest.mark.model

FILLER = (
    "While that runs I keep writing, which is the whole point: the model does not sit idle. "
    "Each sentence here costs real decode steps on the model, one token at a time, and the "
    "tool keeps running in the background. When its result is ready, the engine appends it "
    "to the context between two steps, never inside an open block, and I carry on. "
)


def index(events: list[Event], pred: object) -> int:
    return next(i for i, e in enumerate(events) if pred(e))  # type: ignore[operator]


def tokens_between(events: list[Event], a: int, b: int) -> int:
    return sum(1 for e in events[a:b] if isinstance(e, Token) and e.text)


def done(events: list[Event]) -> TurnDone:
    last = events[-1]
    assert isinstance(last, TurnDone)
    return last


def test_async_keeps_decoding_while_the_call_runs() -> None:
    """The call only returns after 60 more tokens were decoded, so this holds
    whatever the machine's speed; the result then lands at the next step."""
    released = threading.Event()
    seen = {"after_call": 0}

    def gate() -> str:
        released.wait(60)
        return "gate opened"

    def setup(engine: Engine) -> None:
        tools = tool_registry()
        tools.add_function("gate", gate, description="Waits.", estimated_ms=1500)
        engine.post(SetTools(tools))

    def hook(event: Event, engine: Engine) -> None:
        if isinstance(event, CallIssued):
            seen["after_call"] = 0
        elif isinstance(event, Token) and event.text:
            seen["after_call"] += 1
            if seen["after_call"] == 60:
                released.set()

    script = f"On it. [CALL] a [HEAD] gate() [END] {FILLER * 2}[TRAP][END] Done."
    events = run_engine(script, setup=setup, hook=hook)
    call = index(events, lambda e: isinstance(e, CallIssued) and e.id == "a")
    result = index(events, lambda e: isinstance(e, CallFinished) and e.id == "a")
    intr = index(events, lambda e: isinstance(e, Interrupt) and e.id == "a")
    assert tokens_between(events, call, intr) >= 60
    # Injected at the next safe point: at most a couple of steps after the result.
    assert tokens_between(events, result, intr) <= 2
    interrupt = events[intr]
    assert isinstance(interrupt, Interrupt) and interrupt.value == "gate opened"
    d = done(events)
    # Nothing was re-prefilled: the KV cache holds exactly prompt + decoded + injected.
    assert d.n_past == d.n_prompt + d.n_generated + d.n_injected
    assert d.n_injected == interrupt.n_tokens and d.reason == "eos"
    assert d.text.count("[INTR] a [HEAD] gate opened [END]") == 1


def test_sync_mode_blocks_until_the_result_is_injected() -> None:
    script = f"[CALL] a [HEAD] sleep(ms=300) [END] {FILLER}"
    events = run_engine(script, settings=small_settings(**{"generation.mode": "sync"}))
    call = index(events, lambda e: isinstance(e, CallIssued))
    intr = index(events, lambda e: isinstance(e, Interrupt))
    assert tokens_between(events, call, intr) == 0
    assert any(isinstance(e, Trapped) and e.reason == "sync" for e in events)
    d = done(events)
    assert d.n_past == d.n_prompt + d.n_generated + d.n_injected


def test_parallel_mode_runs_collected_calls_at_the_trap() -> None:
    script = (
        "[CALL] a [HEAD] sleep(ms=200) [END] [CALL] b [HEAD] calc(expression='6*7') [END] "
        "Both queued. [TRAP][END] Results are in."
    )
    events = run_engine(script, settings=small_settings(**{"generation.mode": "parallel"}))
    trap = index(events, lambda e: isinstance(e, Trapped))
    interrupts = [i for i, e in enumerate(events) if isinstance(e, Interrupt)]
    assert len(interrupts) == 2 and min(interrupts) > trap
    # No token is decoded between the trap and the last result.
    assert tokens_between(events, trap, max(interrupts)) == 0
    values = {e.id: e.value for e in events if isinstance(e, Interrupt)}
    assert values["b"] == "42"


def test_failures_become_error_interrupts_and_generation_continues() -> None:
    script = (
        "[CALL] u [HEAD] nosuch(x=1) [END] [CALL] s [HEAD] sleep(ms='soon') [END] "
        "[CALL] t [HEAD] nap(s='5') [END] [CALL] r [HEAD] calc(expression='1/0') [END] "
        "[CALL] m [HEAD] calc(expression=__import__('os')) [END] "
        f"{FILLER}[TRAP][END] Still here. [TRAP][END] And still here. [TRAP][END] Fine."
    )
    events = run_engine(script)
    values = {e.id: e.value for e in events if isinstance(e, Interrupt)}
    assert "unknown tool 'nosuch'" in values["u"]
    assert "bad arguments" in values["s"]
    assert "timed out after 0.3 s" in values["t"]
    assert "division by zero" in values["r"]
    assert "malformed call" in values["m"]
    assert all(v.startswith("error:") for v in values.values())
    last_intr = max(i for i, e in enumerate(events) if isinstance(e, Interrupt))
    assert tokens_between(events, last_intr, len(events)) > 0
    assert not any(isinstance(e, TurnFailed) for e in events)


def test_user_message_lands_as_an_interrupt_mid_answer() -> None:
    seen = {"n": 0}

    def hook(event: Event, engine: Engine) -> None:
        if isinstance(event, Token):
            seen["n"] += 1
            if seen["n"] == 20:
                engine.post(SendMessage("Actually, make it Thursday."))

    events = run_engine(f"Planning the trip. {FILLER}", hook=hook)
    user = index(events, lambda e: isinstance(e, UserMessage))
    assert tokens_between(events, 0, user) >= 20
    assert tokens_between(events, user, len(events)) > 0
    intr = next(e for e in events if isinstance(e, Interrupt) and e.kind == "user")
    assert intr.id == "user" and intr.value == "Actually, make it Thursday."
    assert "[INTR] user [HEAD] Actually, make it Thursday. [END]" in done(events).text


def test_trap_with_nothing_pending_resumes_at_once() -> None:
    events = run_engine("Nothing to wait for. [TRAP][END] Moving on.")
    assert not any(isinstance(e, Trapped) for e in events)
    assert done(events).text.endswith("Moving on.")


def test_end_of_answer_waits_for_pending_results() -> None:
    # Long enough that " Bye." is written first even on a slow, busy machine.
    events = run_engine("[CALL] late [HEAD] sleep(ms=2000) [END] Bye.")
    trapped = next(e for e in events if isinstance(e, Trapped))
    assert trapped.reason == "eos" and trapped.pending == ("late",)
    assert any(isinstance(e, Resumed) for e in events)
    assert any(isinstance(e, Interrupt) and e.id == "late" for e in events)
    d = done(events)
    assert d.n_past == d.n_prompt + d.n_generated + d.n_injected


def test_stop_ends_generation_within_one_token() -> None:
    state = {"stopped_at": -1, "count": 0}

    def hook(event: Event, engine: Engine) -> None:
        if isinstance(event, Token) and event.text:
            state["count"] += 1
            if state["count"] == 10:
                state["stopped_at"] = 10
                engine.post(StopGeneration())

    events = run_engine(FILLER * 3, hook=hook)
    d = done(events)
    assert d.reason == "stopped"
    assert d.n_generated <= state["stopped_at"] + 1


def stop_at_first_call(event: Event, engine: Engine) -> None:
    if isinstance(event, CallIssued):
        engine.post(StopGeneration())  # end the turn while the call still runs


def test_second_turn_reuses_the_cache_and_receives_kept_results() -> None:
    """A call left running by a stopped turn is held back; kept, it lands in
    the next turn before its first token, and that turn only prefills its new
    tokens."""
    released = threading.Event()
    call_done = threading.Event()

    def setup(engine: Engine) -> None:
        tools = tool_registry()
        tools.add_function("gate", lambda: released.wait(60) and "opened", description="Waits.")
        engine.post(SetTools(tools))

    def hook(event: Event, engine: Engine) -> None:
        stop_at_first_call(event, engine)
        if isinstance(event, CallFinished):
            call_done.set()

    def between(engine: Engine) -> None:
        released.set()
        assert call_done.wait(30)
        engine.post(KeepResults())

    events = run_engine(
        f"[CALL] late [HEAD] gate() [END] {FILLER}\n=== turn ===\nAgain.",
        prompt=["First.", "Second."],
        setup=setup,
        hook=hook,
        between=between,
    )
    first_done = index(events, lambda e: isinstance(e, TurnDone))
    assert events[first_done].reason == "stopped"  # type: ignore[attr-defined]
    held = index(events, lambda e: isinstance(e, HeldResults))
    assert events[held] == HeldResults(events[held].t, ("late",), HeldState.HELD)
    kept = index(events, lambda e: isinstance(e, HeldResults) and e.state is HeldState.KEPT)
    second = index(events, lambda e: isinstance(e, TurnStarted) and e.turn == 2)
    assert first_done < held < kept < second
    prefill = next(e for e in events[second:] if isinstance(e, Prefilled))
    assert prefill.n_evaluated < prefill.n_prompt // 2  # the system prompt stayed cached
    intr = index(events, lambda e: isinstance(e, Interrupt) and e.id == "late")
    assert intr > second and tokens_between(events, second, intr) == 0
    d = done(events)
    assert d.n_past == d.n_prompt + d.n_generated + d.n_injected
    assert d.text.startswith(" [INTR] late [HEAD] opened [END]")


def test_results_of_a_stopped_turn_stay_out_of_the_next_answer() -> None:
    """Not kept: the next turn starts without them (they are dropped, and
    one finishing during that turn is not injected either)."""
    release = {"a": threading.Event(), "b": threading.Event()}
    a_done = threading.Event()

    def setup(engine: Engine) -> None:
        tools = tool_registry()
        for name, flag in release.items():
            tools.add_function(
                f"gate_{name}", lambda f=flag: f.wait(60) and "opened", description="Waits."
            )
        engine.post(SetTools(tools))

    def hook(event: Event, engine: Engine) -> None:
        if isinstance(event, CallIssued) and event.id == "b":
            engine.post(StopGeneration())
        if isinstance(event, CallFinished) and event.id == "a":
            a_done.set()
        if isinstance(event, TurnStarted) and event.turn == 2:
            release["b"].set()

    def between(engine: Engine) -> None:
        release["a"].set()
        assert a_done.wait(30)  # "a" finishes while no turn runs

    events = run_engine(
        "[CALL] a [HEAD] gate_a() [END] [CALL] b [HEAD] gate_b() [END]"
        f" {FILLER}\n=== turn ===\n{FILLER}{FILLER}",
        prompt=["First.", "Second."],
        setup=setup,
        hook=hook,
        between=between,
    )
    states = [(e.ids, e.state) for e in events if isinstance(e, HeldResults)]
    assert states == [(("a", "b"), HeldState.HELD), (("a", "b"), HeldState.DROPPED)]
    b_done = index(events, lambda e: isinstance(e, CallFinished) and e.id == "b")
    second = index(events, lambda e: isinstance(e, TurnStarted) and e.turn == 2)
    assert b_done > second  # it finished during the second answer ...
    assert not any(isinstance(e, Interrupt) for e in events)  # ... and nothing landed
    assert "[INTR]" not in done(events).text


def assert_set(flag: threading.Event) -> None:
    assert flag.wait(30)


def test_long_results_are_cut_to_their_token_budget() -> None:
    def setup(engine: Engine) -> None:
        tools = tool_registry()
        tools.add_function("big", lambda: "word " * 100, description="Long.", max_result_tokens=40)
        engine.post(SetTools(tools))

    events = run_engine(
        "[CALL] a [HEAD] big() [END] [CALL] b [HEAD] echo('hi') [END] Done.", setup=setup
    )
    cut = next(e for e in events if isinstance(e, Interrupt) and e.id == "a")
    assert cut.result_tokens >= 100 and cut.cut_tokens == cut.result_tokens - 40
    assert cut.value.endswith(f"… [truncated: {cut.cut_tokens} of {cut.result_tokens} tokens]")
    assert cut.n_tokens < 80  # the block, not the 400-word result
    whole = next(e for e in events if isinstance(e, Interrupt) and e.id == "b")
    assert whole.value == "hi" and whole.cut_tokens == 0
    finished = next(e for e in events if isinstance(e, CallFinished) and e.id == "a")
    assert finished.value == "word " * 100  # the full result stays with the call


def test_kept_results_of_a_still_running_call_are_awaited() -> None:
    events = run_engine(
        "[CALL] slow [HEAD] sleep(ms=800) [END] x\n=== turn ===\nOk.",
        prompt=["First.", "Second."],
        hook=stop_at_first_call,
        between=lambda eng: eng.post(KeepResults()),
    )
    second = index(events, lambda e: isinstance(e, TurnStarted) and e.turn == 2)
    intr = index(events, lambda e: isinstance(e, Interrupt) and e.id == "slow")
    assert intr > second
    assert done(events).reason == "eos"


def test_duplicate_id_error_does_not_drop_the_original_result() -> None:
    events = run_engine(
        "[CALL] a [HEAD] sleep(ms=300) [END] [CALL] a [HEAD] calc(expression='1') [END] Bye."
    )
    values = [e.value for e in events if isinstance(e, Interrupt) and e.id == "a"]
    assert len(values) == 2
    assert any("already used" in v for v in values)
    assert any(v.startswith("slept") for v in values)
