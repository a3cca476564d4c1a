"""Results of a stopped turn (held back, kept, dropped) and result budgets, on
the scripted backend.  The real-model versions are in ``tests/model``."""

from __future__ import annotations

from engine_harness import Gate, scripted

from asynclm_tui.core.api.enums import StopReason
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    HeldResults,
    HeldState,
    Interrupt,
    KeepResults,
    StopGeneration,
    TurnStarted,
)

FILLER = " word" * 60


def stop_at(call_id: str):  # type: ignore[no-untyped-def]
    def hook(run, event: object) -> None:  # type: ignore[no-untyped-def]
        if isinstance(event, CallIssued) and event.id == call_id:
            run.post(StopGeneration())

    return hook


def test_a_stopped_turns_results_are_held_then_dropped_by_the_next_turn() -> None:
    a, b = Gate("A"), Gate("B")
    script = f"[CALL] a [HEAD] ga() [END] [CALL] b [HEAD] gb() [END]{FILLER}"
    with scripted([script, f"Fresh.{FILLER}"], tools={"ga": a, "gb": b}) as run:
        run.hooks.append(lambda e: stop_at("b")(run, e))
        first = run.turn()
        a.open()
        run.wait_for(CallFinished, id="a")  # finished while no turn runs
        run.hooks.clear()
        run.hooks.append(lambda e: b.open() if isinstance(e, TurnStarted) else None)
        second = run.turn()
        run.wait_for(CallFinished, id="b")
    assert first.reason == StopReason.STOPPED
    states = [(e.ids, e.state) for e in run.of(HeldResults)]
    assert states == [(("a", "b"), HeldState.HELD), (("a", "b"), HeldState.DROPPED)]
    assert not run.of(Interrupt) and "[INTR]" not in second.text
    assert run.engine.snapshot().outstanding == ()


def test_kept_results_land_first_in_the_next_answer_and_running_ones_are_awaited() -> None:
    a, b = Gate("A"), Gate("B")
    script = f"[CALL] a [HEAD] ga() [END] [CALL] b [HEAD] gb() [END]{FILLER}"
    with scripted([script, "Thanks."], tools={"ga": a, "gb": b}) as run:
        run.hooks.append(lambda e: stop_at("b")(run, e))
        run.turn()
        a.open()
        run.wait_for(CallFinished, id="a")
        run.post(KeepResults())
        run.wait_for(HeldResults, state=HeldState.KEPT)
        run.hooks.clear()
        run.hooks.append(lambda e: b.open() if isinstance(e, TurnStarted) else None)
        second = run.turn()
    assert second.text.startswith(" [INTR] a [HEAD] A [END]")
    assert "[INTR] b [HEAD] B [END]" in second.text  # awaited at the end of the answer
    assert second.reason == StopReason.EOS


def test_keep_after_the_next_turn_started_changes_nothing() -> None:
    gate = Gate()
    with scripted(
        [f"[CALL] a [HEAD] g() [END]{FILLER}", "Two.", "Three."], tools={"g": gate}
    ) as run:
        run.hooks.append(lambda e: stop_at("a")(run, e))
        run.turn()
        run.hooks.clear()
        run.turn()
        run.post(KeepResults())
        gate.open()
        run.wait_for(CallFinished, id="a")
        third = run.turn()
    assert [e.state for e in run.of(HeldResults)] == [HeldState.HELD, HeldState.DROPPED]
    assert "[INTR]" not in third.text


def test_results_are_cut_to_the_tools_budget_with_a_marker() -> None:
    long = " ".join(f"w{i}" for i in range(60))  # under 16 characters a token: counted exactly
    with scripted(
        ["[CALL] a [HEAD] big() [END] [CALL] b [HEAD] echo(text='hi') [END] Ok."],
        tools={"big": lambda: long},
        **{"tools.max_result_tokens": 20},
    ) as run:
        done = run.turn()
    cut = run.wait_for(Interrupt, id="a")
    assert cut.cut_tokens == cut.result_tokens - 20 > 0
    assert cut.value.endswith(f"… [truncated: {cut.cut_tokens} of {cut.result_tokens} tokens]")
    assert run.wait_for(Interrupt, id="b").cut_tokens == 0
    assert run.wait_for(CallFinished, id="a").value == long  # the whole result stays
    assert long not in done.text
