"""A full context window: the oldest turns leave, the chat goes on."""

from __future__ import annotations

import threading

import pytest

from asynclm_tui.core.api.events import (
    CallIssued,
    ContextSlid,
    Event,
    Interrupt,
    ModelLoadFailed,
    Prefilled,
    SetTools,
    TurnDone,
    TurnFailed,
)
from asynclm_tui.core.decode.engine import Engine
from tests.cli.test_cli import FILLER
from tests.conftest import run_engine, small_settings, tool_registry

pytestmark = pytest.mark.model

N_CTX = 512


@pytest.mark.timeout(1500)
def test_long_chat_slides_past_its_oldest_turns_and_keeps_pending_calls() -> None:
    released = threading.Event()
    slides: list[ContextSlid] = []

    def gate() -> str:
        released.wait(120)
        return "gate opened"

    def setup(engine: Engine) -> None:
        tools = tool_registry(settings)
        tools.add_function("gate", gate, description="Waits.", estimated_ms=1500)
        engine.post(SetTools(tools))

    def hook(event: Event, engine: Engine) -> None:
        if isinstance(event, ContextSlid):
            slides.append(event)
            if len(slides) == 2:  # the call is still running across the slide
                released.set()

    script = "\n=== turn ===\n".join(
        [
            FILLER * 3,
            FILLER * 2,
            f"On it. [CALL] a [HEAD] gate() [END] {FILLER * 8}[TRAP][END] Done.",
        ]
    )
    settings = small_settings(
        **{"model.n_ctx": N_CTX, "generation.prompt_style": "compact", "generation.max_tokens": 400}
    )
    events = run_engine(
        script,
        prompt=["One.", "Two.", "Three."],
        settings=settings,
        setup=setup,
        hook=hook,
        timeout=600,
    )
    assert not [e for e in events if isinstance(e, TurnFailed | ModelLoadFailed)]
    dones = [e for e in events if isinstance(e, TurnDone)]
    assert [d.reason for d in dones] == ["eos", "eos", "eos"]
    assert all(d.n_past <= N_CTX for d in dones)
    assert len(slides) >= 2
    # The first slide made room for turn three's prompt, the second came mid-answer.
    kinds = [type(e) for e in events]
    third = [i for i, e in enumerate(events) if isinstance(e, Prefilled)][2]
    first_slide = events.index(slides[0])
    second_slide = events.index(slides[1])
    assert first_slide < third < second_slide
    call = next(i for i, e in enumerate(events) if isinstance(e, CallIssued) and e.id == "a")
    intr = next(i for i, e in enumerate(events) if isinstance(e, Interrupt) and e.id == "a")
    assert call < second_slide < intr, kinds
    assert isinstance(events[intr], Interrupt) and events[intr].value == "gate opened"
    for slide in slides:
        assert slide.dropped_turns >= 1 and slide.n_after < slide.n_before
        assert slide.n_evaluated < slide.n_after  # the system prompt was reused
