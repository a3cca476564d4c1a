"""The engine's first events: loaded, then the system prompt warm, then turns."""

from __future__ import annotations

from engine_harness import scripted

from asynclm_tui.core.api.events import ModelLoaded, PromptWarmed, TurnStarted


def test_the_system_prompt_is_warm_before_the_first_turn() -> None:
    with scripted(["Hello."]) as run:
        run.turn("hi")
    loaded = run.index(lambda e: isinstance(e, ModelLoaded))
    warmed = run.index(lambda e: isinstance(e, PromptWarmed))
    turn = run.index(lambda e: isinstance(e, TurnStarted))
    assert loaded < warmed < turn
    # the scripted backend keeps no saved states, so there is nothing to do
    (only,) = run.of(PromptWarmed)
    assert (only.how, only.n_tokens) == ("kept", 0)
