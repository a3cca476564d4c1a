"""Deterministic app states for snapshots: a fixed event stream, a frozen clock.

The UI is a function of the engine's events, so replaying a recorded-style
stream (with fixed times and durations) gives the same screen on every run,
while everything from the event handlers down is the real code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textual.pilot import Pilot

from asynclm_tui.core.api.delivery import CallBackgrounded, ResultHeld
from asynclm_tui.core.api.enums import (
    CallStatus,
    Deliver,
    DeliverIdle,
    InterruptKind,
    Mode,
    PauseReason,
    StopReason,
)
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    Event,
    Interrupt,
    ModelLoaded,
    Prefilled,
    Resumed,
    Token,
    Trapped,
    TurnDone,
    TurnStarted,
    UserMessage,
)
from asynclm_tui.core.decode.from_settings import build_engine
from asynclm_tui.core.settings.config import Settings, load_settings
from asynclm_tui.core.settings.paths import shipped_tools_dir
from asynclm_tui.ui.app import AsyncLMApp, create_app
from asynclm_tui.ui.engine_messages import EngineEvent

SIZE = (130, 36)
FROZEN_NOW = 5.0
"""The frozen clock: running calls show ``now - started``."""


def settings() -> Settings:
    """Three tools, default theme; nothing from the developer's machine."""
    tools = shipped_tools_dir()
    s = load_settings(None, {"model.n_ctx": 2048})
    s.tools.shipped = False
    s.tools.dirs = [tools / "sleep.yaml", tools / "echo.yaml", tools / "save_note.yaml"]
    return s


def _text(t: float, text: str) -> list[Event]:
    return [
        Token(t + i * 0.01, word, word)
        for i, word in enumerate(text.split(" "))
        for word in [word if i == 0 else " " + word]
    ]


LIST = "\n\n- under 20 minutes\n- before 3 pm\n"
LOADED = [
    ModelLoaded(
        0.3,
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        2048,
        0,
        False,
        300.0,
        0,
        ("echo", "save_note", "sleep"),
    )
]

MID_TURN: list[Event] = [
    *LOADED,
    TurnStarted(1.0, 1, Mode.ASYNC, "How long is a short nap? Save a note to buy tea."),
    Prefilled(1.5, 512, 512, 500.0),
    *_text(1.6, "Let me time one."),
    Token(1.9, " [CALL] t [HEAD] sleep(ms=3000) [END]", " "),
    CallIssued(2.0, "t", "sleep", (), {"ms": 3000}, True, 1000.0),
    CallUpdated(2.0, "t", CallStatus.QUEUED),
    CallUpdated(2.01, "t", CallStatus.RUNNING),
    *_text(2.1, "While that runs, a nap is **short** when it is:"),
    Token(2.3, LIST, LIST),
    Token(2.4, "[CALL] n [HEAD] save_note(text='buy tea') [END]", ""),
    CallIssued(2.5, "n", "save_note", (), {"text": "buy tea"}, True, 10.0),
    CallUpdated(2.5, "n", CallStatus.AWAITING_APPROVAL),
    Token(2.55, " [CALL] e [HEAD] echo(text='hi') [END]", " "),
    CallIssued(2.6, "e", "echo", (), {"text": "hi"}, True, 20.0),
    CallUpdated(2.6, "e", CallStatus.RUNNING),
    CallFinished(2.65, "e", True, 48.0, CallStatus.DONE, "hi"),
    Interrupt(2.9, "e", "hi", 8, 250.0, 12.0, InterruptKind.TOOL),
    *_text(3.0, "Echo said hi."),
    UserMessage(3.5, "also mention coffee"),
    Interrupt(3.5, "user", "also mention coffee", 9, 0.0, 11.0, InterruptKind.USER),
    *_text(3.6, "Coffee before a nap helps too."),
]

STREAMING: list[Event] = [
    CallUpdated(e.t, e.id, CallStatus.RUNNING)
    if isinstance(e, CallUpdated) and e.status is CallStatus.AWAITING_APPROVAL
    else e
    for e in MID_TURN
]
"""The same turn with every call allowed: two running, one done."""

FINISHED: list[Event] = [
    *LOADED,
    TurnStarted(1.0, 1, Mode.ASYNC, "How long is a short nap?"),
    Prefilled(1.5, 512, 512, 500.0),
    *_text(1.6, "Let me time one."),
    Token(1.9, " [CALL] t [HEAD] sleep(ms=1500) [END]", " "),
    CallIssued(2.0, "t", "sleep", (), {"ms": 1500}, True, 1000.0),
    CallUpdated(2.0, "t", CallStatus.RUNNING),
    Token(2.05, " [CALL] e [HEAD] echo(text='hi') [END]", " "),
    CallIssued(2.1, "e", "echo", (), {"text": "hi"}, True, 20.0),
    CallUpdated(2.1, "e", CallStatus.RUNNING),
    *_text(2.2, "Meanwhile: naps under 20 minutes avoid deep sleep."),
    CallFinished(2.3, "e", True, 150.0, CallStatus.DONE, "hi"),
    Interrupt(2.4, "e", "hi", 8, 100.0, 12.0, InterruptKind.TOOL),
    Token(2.9, " [TRAP][END]", " "),
    Trapped(3.0, PauseReason.TRAP, ("t",)),
    CallFinished(3.5, "t", True, 1500.0, CallStatus.DONE, "slept 1500 ms"),
    Resumed(3.5, 500.0),
    Interrupt(3.55, "t", "slept 1500 ms", 12, 1.0, 20.0, InterruptKind.TOOL),
    *_text(3.6, "Done: the nap timer rang after 1.5 s."),
    TurnDone(4.0, StopReason.EOS, 512, 60, 20, 592, 2048, 3000.0, 2000.0, 30.0, ""),
]


BG_NOTE = "still running; it goes on in the background and its result comes in a later turn"
BACKGROUND: list[Event] = [
    *LOADED,
    TurnStarted(1.0, 1, Mode.ASYNC, "Start the long timer, a short one and an echo."),
    Prefilled(1.2, 512, 512, 200.0),
    *_text(1.3, "Starting them."),
    Token(1.4, " [CALL] b1 [HEAD] sleep(ms=60000) [END]", " "),
    CallIssued(1.4, "b1", "sleep", (), {"ms": 60000}, True, 60000.0),
    CallUpdated(1.4, "b1", CallStatus.RUNNING),
    Token(1.45, " [CALL] c2 [HEAD] sleep(ms=1500) [END]", " "),
    CallIssued(1.45, "c2", "sleep", (), {"ms": 1500}, True, 1500.0),
    CallUpdated(1.45, "c2", CallStatus.RUNNING),
    Token(1.5, " [CALL] n3 [HEAD] echo(text='ping') [END]", " "),
    CallIssued(1.5, "n3", "echo", (), {"text": "ping"}, True, 20.0),
    CallUpdated(1.5, "n3", CallStatus.RUNNING),
    *_text(1.6, "I will tell you when they are done."),
    Trapped(1.8, PauseReason.EOS, ("b1", "c2", "n3")),
    Resumed(1.9, 100.0),
    CallBackgrounded(1.9, "b1", Deliver.INTERRUPT, DeliverIdle.ANSWER),
    Interrupt(1.9, "b1", BG_NOTE, 20, 0.0, 1.0, InterruptKind.BACKGROUND),
    CallBackgrounded(1.9, "c2", Deliver.INTERRUPT, DeliverIdle.ANSWER),
    Interrupt(1.9, "c2", BG_NOTE, 20, 0.0, 1.0, InterruptKind.BACKGROUND),
    CallBackgrounded(1.9, "n3", Deliver.INTERRUPT, DeliverIdle.NOTIFY),
    Interrupt(1.9, "n3", BG_NOTE, 20, 0.0, 1.0, InterruptKind.BACKGROUND),
    *_text(1.95, "They run on."),
    TurnDone(2.0, StopReason.EOS, 512, 40, 60, 612, 2048, 1000.0, 600.0, 30.0, ""),
    CallFinished(2.2, "n3", True, 700.0, CallStatus.DONE, "ping"),
    ResultHeld(2.2, "n3", DeliverIdle.NOTIFY),
    CallFinished(2.95, "c2", True, 1500.0, CallStatus.DONE, "slept 1500 ms"),
    ResultHeld(2.95, "c2", DeliverIdle.ANSWER),
    TurnStarted(3.0, 2, Mode.ASYNC, "", started_by=("c2",)),
    Prefilled(3.1, 640, 28, 20.0),
    Interrupt(3.15, "c2", "slept 1500 ms", 8, 0.2, 2.0, InterruptKind.TOOL),
    *_text(3.2, "The short timer is done; the long one still runs."),
    TurnDone(3.6, StopReason.EOS, 640, 12, 8, 660, 2048, 600.0, 400.0, 30.0, ""),
]
"""A call in the background, a notify result waiting, a turn a result started."""


def replay_app(events: Sequence[Event], cfg: Settings | None = None) -> AsyncLMApp:
    """The real app on an engine that is never started; ``events`` are replayed."""
    cfg = cfg or settings()
    engine = build_engine(cfg, interactive=True)
    app = create_app(cfg, engine, clock=lambda: FROZEN_NOW, start_engine=False)
    app._replay = list(events)  # type: ignore[attr-defined]
    return app


async def settle(pilot: Pilot[None]) -> None:
    """Wait until the app has handled every message, drawn its buffered stream
    text and finished its animations: a condition, not a guess at a delay."""
    await pilot.pause()
    await pilot.app.chat.flush_now()  # type: ignore[attr-defined]
    await pilot.wait_for_scheduled_animations()


async def play(pilot: Pilot[None]) -> None:
    """Post the app's replay events through the same path as live events."""
    app = pilot.app
    app.chat.prompt.cursor_blink = False  # type: ignore[attr-defined]
    for event in app._replay:  # type: ignore[attr-defined]
        app.post_message(EngineEvent(event))
    # Streamed text is normally flushed on a timer; settle flushes it now so a
    # slow machine cannot catch the screen between two flushes.
    await settle(pilot)
    # A finished turn turns the blink back on: off again, so the cursor is
    # drawn the same way on every run.
    app.chat.prompt.cursor_blink = False  # type: ignore[attr-defined]
    await settle(pilot)


def missing_model_app() -> AsyncLMApp:
    """A real engine pointed at a model file that does not exist."""
    cfg = settings()
    cfg.model.path = Path("/nonexistent/model.gguf")
    return create_app(cfg, build_engine(cfg, interactive=True), clock=lambda: FROZEN_NOW)
