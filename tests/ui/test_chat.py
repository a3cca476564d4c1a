"""Pilot tests of the chat screen driving the real engine and bundled model.

Assistant turns are teacher-forced (``--script`` style) so the text, calls
and traps are deterministic while every token still goes through llama.cpp.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from uiharness import running_app, type_text, ui_settings, wait_until

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.backends.adapter import applied_adapter
from asynclm_tui.ui.screens.timeline import TimelineScreen
from asynclm_tui.ui.widgets.calls_panel import CallRow
from asynclm_tui.ui.widgets.transcript import Chip, UserEntry

pytestmark = pytest.mark.model

LONG = " ".join(f"Sentence number {i} keeps the model talking for a while." for i in range(80))


def chips(app, kind: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Labels of the transcript's chips of one kind."""
    return [str(c.content) for c in app.chat.query(Chip) if c.kind == kind]


async def test_loads_and_shows_model_in_status_bar() -> None:
    async with running_app() as (app, pilot, engine):
        model = engine.snapshot().model
        assert model is not None
        # with the shipped adapter applied the bar names it too
        adapter = applied_adapter(model)
        want = f"{model.model} + {Path(adapter).name}" if adapter else model.model
        assert app.chat.status_text("model") == want
        assert app.chat.status_text("device").startswith(("CPU", "GPU"))
        assert "ctx 0/2,048" in app.chat.status_text("ctx")
        assert app.chat.status_text("mode") == "mode: async"
        assert app.focused is app.chat.prompt


async def test_slow_call_runs_in_panel_while_tokens_stream() -> None:
    script = (
        "Checking. [CALL] a [HEAD] sleep(ms=4000) [END] While it sleeps I keep "
        f"writing. {LONG[:120]} [TRAP][END] It returned."
    )
    async with running_app(script) as (app, pilot, engine):
        assert not app.chat.calls.ticking  # no call: no timer waking the UI
        await type_text(pilot, "hello")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "a" in app.state.calls, what="call issued")
        rec = app.state.calls["a"]
        await wait_until(pilot, lambda: rec.status is CallStatus.RUNNING, 10, "running")
        assert app.chat.calls.ticking
        row = app.chat.calls.query_one(CallRow)
        await wait_until(pilot, lambda: "running" in str(row._body.content), 5, "row")
        first = str(row._body.content)
        # While the call runs, its timer moves and the words the model wrote
        # after the call are on screen.
        await wait_until(pilot, lambda: str(row._body.content) != first, 2, "the timer to move")
        entry = app.chat.transcript.current
        assert entry is not None
        await wait_until(
            pilot,
            lambda: "I keep writing" in entry.markdown or rec.status.finished,
            5,
            "text written while the call runs",
        )
        assert not rec.status.finished
        await wait_until(pilot, lambda: not app.chat.generating, 90, "turn done")
        assert any(c.startswith("⚙ a = sleep(ms=4000)") for c in chips(app, "call"))
        assert any(c.startswith("↩ a → slept") and "took" in c for c in chips(app, "result"))
        assert chips(app, "trap")
        assert rec.status is CallStatus.DONE and rec.landed_t is not None
        await wait_until(pilot, lambda: not app.chat.calls.ticking, 2, "timer paused")
        # The same turn as raw CML.
        await pilot.press("ctrl+r")
        entry = app.chat.transcript.current
        assert entry is not None and "[CALL] a [HEAD] sleep(ms=4000) [END]" in entry.raw_text
        assert "[INTR] a [HEAD] slept" in entry.raw_text
        rendered = [part for part in entry.children if part is not entry._raw]
        assert entry._raw.display and not any(part.display for part in rendered)
        await pilot.press("ctrl+r")
        assert not entry._raw.display and all(part.display for part in rendered)
        # Timeline: one lane per call and a savings line.
        await pilot.press("ctrl+t")
        assert isinstance(app.screen, TimelineScreen)
        savings = app.state.savings(app.state.turns[-1], app.clock())
        assert savings.calls_ms >= 4000 and savings.saved_ms > 0
        await pilot.press("escape")
        assert app.screen is app.chat


async def test_enter_while_generating_sends_user_interrupt() -> None:
    async with running_app(f"Here is a long answer. {LONG}") as (app, pilot, engine):
        await type_text(pilot, "go")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: app.state.current is not None and app.state.current.n_tokens > 5,
            60,
            "streaming",
        )
        assert app.chat.generating
        await type_text(pilot, "tea")  # real key presses reach the box mid-answer
        assert app.chat.prompt.text == "tea"
        app.chat.prompt.insert(", please")  # (pilot key presses are slow while streaming)
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(chips(app, "user")), 60, "user chip")
        assert chips(app, "user") == ["✉ you, mid-answer: tea, please"]
        entry = app.chat.transcript.current
        assert entry is not None and "[INTR] user [HEAD] tea, please [END]" in entry.raw_text
        assert len(app.chat.query(UserEntry)) == 1  # not a new turn
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.chat.generating, 30, "stop")


async def test_escape_stops_but_keeps_partial_output_and_app() -> None:
    async with running_app(f"Partial answer. {LONG}") as (app, pilot, engine):
        await type_text(pilot, "go")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: app.state.current is not None and app.state.current.n_tokens > 10,
            60,
            "tokens",
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.chat.generating, 10, "stopped")
        turn = app.state.current
        assert turn is not None and turn.done is not None and turn.done.reason == "stopped"
        assert turn.done.n_generated < 200
        assert chips(app, "stop")
        assert app.is_running and app.chat.status_text("state") == "ready"


async def test_cancel_selected_call_from_keyboard() -> None:
    script = f"Start. [CALL] s [HEAD] sleep(ms=20000) [END] {LONG[:600]} [TRAP][END] Ok."
    async with running_app(script) as (app, pilot, engine):
        await type_text(pilot, "go")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: "s" in app.state.calls and app.state.calls["s"].status is CallStatus.RUNNING,
            60,
            "running",
        )
        await pilot.press("ctrl+l")
        assert app.focused is app.chat.calls
        await pilot.press("x")
        rec = app.state.calls["s"]
        await wait_until(pilot, lambda: rec.status is CallStatus.CANCELLED, 10, "cancelled")
        # The cancellation reaches the model as an error interrupt.
        await wait_until(pilot, lambda: rec.landed_t is not None, 60, "landed")
        entry = app.chat.transcript.current
        assert entry is not None and "[INTR] s [HEAD]" in entry.raw_text
        await wait_until(  # the chip is drawn at the next paint after the state
            pilot, lambda: any(c.startswith("✗ s →") for c in chips(app, "error")), 10, "chip"
        )
        await pilot.press("escape")  # leaves the panel; the model keeps going
        assert app.focused is app.chat.prompt
        await pilot.press("escape")  # now stops


async def test_approval_in_panel_while_model_keeps_writing() -> None:
    script = f"Saving. [CALL] n [HEAD] save_note(text='hi') [END] {LONG[:900]} [TRAP][END] Done."
    async with running_app(script) as (app, pilot, engine):
        await type_text(pilot, "save")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: (
                "n" in app.state.calls
                and app.state.calls["n"].status is CallStatus.AWAITING_APPROVAL
            ),
            60,
            "awaiting approval",
        )
        before = app.state.current.n_tokens  # type: ignore[union-attr]
        row = app.chat.calls.query_one(CallRow)
        assert row.query_one(".approval").display
        # The model keeps writing while the call waits (shown at the next
        # render, at most 1 s later).
        await wait_until(
            pilot,
            lambda: app.state.current.n_tokens > before,  # type: ignore[union-attr]
            5,
            "tokens rendered",
        )
        assert app.state.calls["n"].status is CallStatus.AWAITING_APPROVAL
        await pilot.press("ctrl+l", "d")
        rec = app.state.calls["n"]
        await wait_until(pilot, lambda: rec.status is CallStatus.DENIED, 10, "denied")
        await wait_until(pilot, lambda: rec.landed_t is not None, 60, "landed")
        entry = app.chat.transcript.current
        assert entry is not None and "[INTR] n [HEAD]" in entry.raw_text
        await pilot.press("escape")


async def test_multiline_and_burst_typing() -> None:
    settings = ui_settings()
    settings.ui.keymap = {"newline": "ctrl+j,f4"}
    async with running_app("Fine.", settings) as (app, pilot, engine):
        prompt = app.chat.prompt
        await pilot.press("a", "ctrl+j", "b", "f4")  # f4: remapped extra newline key
        assert prompt.text == "a\nb\n"
        assert prompt.styles.height is not None and prompt.styles.height.value == 5
        prompt.clear()
        # Keys arriving in one read (a fast typist, tmux send-keys): Enter must
        # see every character typed before it.
        for ch in "hey":
            app.post_message(events.Key(ch, ch))
        app.post_message(events.Key("enter", "\r"))
        await wait_until(pilot, lambda: app.state.current is not None, 30, "turn")
        assert app.state.current.user_text == "hey"  # type: ignore[union-attr]
        assert prompt.text == ""
        await wait_until(pilot, lambda: not app.chat.generating, 60, "turn done")


async def test_mode_switch_and_help_and_keymap() -> None:
    settings = ui_settings()
    settings.ui.keymap = {"timeline": "f3", "nonsense": "f9"}
    async with running_app(settings=settings) as (app, pilot, engine):
        # Checked first: the warning is a toast and times out while the rest runs.
        assert any("nonsense" in str(n.message) for n in app._notifications)
        await pilot.press("ctrl+o")
        assert engine.snapshot().mode == "sync"
        assert app.chat.status_text("mode") == "mode: sync"
        await pilot.click("#sb-mode")
        assert engine.snapshot().mode == "parallel"
        await pilot.press("f3")  # remapped from ctrl+t
        assert isinstance(app.screen, TimelineScreen)
        await pilot.press("escape", "f1")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        assert app.screen is app.chat


async def test_missing_model_reports_and_exits_non_zero(tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nope.gguf"
    settings = ui_settings()
    settings.model.path = missing
    async with running_app(settings=settings) as (app, pilot, engine):
        await wait_until(pilot, lambda: app.chat.load_failed, 10, "load failure")
        notices = [str(n.content) for n in app.chat.query(".notice-error")]
        assert notices and "Could not load the model" in notices[0] and "nope.gguf" in notices[0]
        await type_text(pilot, "hi")
        await pilot.press("enter")  # does not crash; says why
        await pilot.press("ctrl+q")
    assert app.return_code == 1


async def test_a_message_that_does_not_fit_ends_the_turn_and_offers_the_way_out() -> None:
    """A context too small for the prompt: the turn ends at once with the
    reason and what to do, and Esc, Ctrl+N and the next message still work."""
    from asynclm_tui.ui.widgets.transcript import NoticeEntry

    def notices() -> list[str]:
        return [str(n.render()) for n in app.chat.query(NoticeEntry)]

    # The full system prompt (532 tokens with these tools; the compact one the
    # shipped adapter selects is 149) in 256 tokens of context.
    settings = ui_settings(**{"model.n_ctx": 256, "generation.prompt_style": "full"})
    async with running_app(settings=settings) as (app, pilot, engine):
        await type_text(pilot, "hi")
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: any("does not fit" in n for n in notices()), 30, "context-full notice"
        )
        assert any("raise model.n_ctx" in n for n in notices())
        await wait_until(pilot, lambda: not app.chat.generating, 10, "turn ended")
        assert app.chat.status_text("state") == "ready"
        await pilot.press("escape")
        assert app.chat.status_text("state") == "ready"  # nothing to stop
        await pilot.press("ctrl+n", "ctrl+n")  # the second press confirms
        await wait_until(pilot, lambda: any("New chat" in n for n in notices()), 10, "new chat")
        await type_text(pilot, "again")
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: (
                sum("does not fit" in n for n in notices()) == 1
                and len(app.state.turns) == 1
                and app.state.turns[0].done is not None
            ),
            30,
            "second attempt answered",
        )
        assert engine.snapshot().session == 2
