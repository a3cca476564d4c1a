"""A long chat on the scripted backend: the window slides, the chat goes on."""

from __future__ import annotations

from asynclm_tui.core.api.enums import StopReason
from asynclm_tui.core.api.events import (
    ContextSlid,
    Event,
    Interrupt,
    Prefilled,
    TurnFailed,
)
from asynclm_tui.core.backends.scripted import ScriptedBackend
from tests.engine.engine_harness import Gate, scripted

ROOM = 400
"""Tokens of context beyond the first prompt."""


def test_the_oldest_turns_leave_and_a_running_call_survives_the_slide() -> None:
    with scripted(["Short."], tools={"gate": Gate()}) as probe:
        probe.turn("one")
    n_prompt = probe.of(Prefilled)[0].n_prompt
    gate = Gate("gate result")
    backend = ScriptedBackend(
        [
            " one" * 100,
            " two" * 100,
            "On it. [CALL] a [HEAD] gate() [END]" + " three" * 300 + " [TRAP][END] Done.",
        ],
        n_ctx=n_prompt + ROOM,
    )
    with scripted(backend=backend, tools={"gate": gate}) as run:

        def open_on_mid_turn_slide(event: Event) -> None:
            if isinstance(event, ContextSlid) and len(run.of(Prefilled)) == 3:
                gate.open()

        run.hooks.append(open_on_mid_turn_slide)
        dones = [run.turn("one"), run.turn("two"), run.turn("three")]
    assert not run.of(TurnFailed)
    assert [d.reason for d in dones] == [StopReason.EOS] * 3
    # The result lands wherever decoding is when the gate opens (a slide
    # happens mid-answer, the trap comes later); the answer still ends.
    assert " [INTR] a [HEAD] gate result [END]" in dones[2].text
    assert dones[2].text.endswith("Done.") and "[TRAP][END]" in dones[2].text
    assert all(d.n_past <= n_prompt + ROOM for d in dones)
    slides = run.of(ContextSlid)
    third = run.index(lambda e: isinstance(e, Prefilled) and e is run.of(Prefilled)[2])
    mid = [s for s in slides if run.events.index(s) > third]
    assert mid, "no slide while the third answer was written"
    landed = run.index(lambda e: isinstance(e, Interrupt) and e.id == "a")
    assert run.events.index(mid[0]) < landed  # the call outlived the slide
    for slide in slides:
        assert slide.dropped_turns >= 1 and slide.n_after < slide.n_before
        assert slide.n_evaluated < slide.n_after  # the system prompt was kept in the cache
    # What the model saw last: the system prompt, no first turn, the whole third answer.
    context = backend.text()
    assert " one one" not in context and "On it. [CALL] a" in context
    assert context.startswith(backend.text(backend.tokens[:20]))


def test_a_prompt_that_cannot_shrink_still_fails_cleanly() -> None:
    backend = ScriptedBackend(["never"], n_ctx=64)
    with scripted(backend=backend) as run:
        done = run.turn("hi")
    assert done.reason == StopReason.CONTEXT_FULL and not run.of(ContextSlid)
