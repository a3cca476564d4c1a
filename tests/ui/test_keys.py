"""Keys a new user tries: paging from the input, Ctrl+N, x on a finished call, toasts."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.cells import cell_len

sys.path.insert(0, str(Path(__file__).parents[1] / "snapshots"))

from replay import FINISHED, LOADED, MID_TURN, _text, play, replay_app, settle  # noqa: E402
from uiharness import wait_until  # noqa: E402

from asynclm_tui.core.api.enums import (
    CallStatus,  # noqa: E402
    Decision,  # noqa: E402
)
from asynclm_tui.core.api.events import (  # noqa: E402
    ApproveCall,
    CallUpdated,
    Event,
    Input,
    PromptWarmed,
    TurnStarted,
)
from asynclm_tui.ui.engine_messages import EngineEvent  # noqa: E402
from asynclm_tui.ui.state import clip  # noqa: E402
from asynclm_tui.ui.widgets.calls_panel import CallRow  # noqa: E402
from asynclm_tui.ui.widgets.transcript import AssistantEntry, Chip  # noqa: E402


def messages(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


def test_clip_keeps_emoji_clusters_whole() -> None:
    text = "ok 👍🏽👍🏽👍🏽 done"
    for width in range(2, cell_len(text) + 1):
        cut = clip(text, width)
        assert cell_len(cut) <= width
        assert cut.count("👍") == cut.count("\U0001f3fd")  # never split from its tone
    assert clip(text, 100) == text


async def test_page_keys_in_the_input_scroll_the_transcript() -> None:
    app = replay_app([*FINISHED, *_text(4.1, " ".join(["more words"] * 300))])
    async with app.run_test(size=(80, 24)) as pilot:
        await play(pilot)
        transcript = app.chat.transcript
        assert app.focused is app.chat.prompt
        bottom = transcript.scroll_y
        await pilot.press("pageup")
        await wait_until(pilot, lambda: transcript.scroll_y < bottom, 5, "scrolled up")
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: transcript.scroll_y == bottom, 5, "back at the bottom")
        assert app.focused is app.chat.prompt


async def test_ctrl_n_asks_first_then_erases_and_resets_speed() -> None:
    app = replay_app(FINISHED)
    async with app.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        assert "30.0 tok/s" in app.chat.status_text("speed")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: any("again" in m for m in messages(app)), 5, "the question")
        assert app.chat.query(AssistantEntry)  # still there
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: not app.chat.query(AssistantEntry), 5, "a new chat")
        assert app.chat.status_text("speed") == "— tok/s"
        assert not any("again" in m for m in messages(app))  # the question went with the chat


async def test_x_on_a_finished_call_says_why_nothing_happens() -> None:
    app = replay_app(FINISHED)
    async with app.run_test(size=(130, 36)) as pilot:
        await play(pilot)
        await pilot.press("ctrl+l", "x")
        await wait_until(pilot, lambda: any("already ended" in m for m in messages(app)), 5, "why")
        assert any("already ended" in m and "nothing to cancel" in m for m in messages(app))


async def test_approval_toast_goes_once_answered() -> None:
    app = replay_app(MID_TURN)
    async with app.run_test(size=(130, 36)) as pilot:
        await play(pilot)
        assert any("asks to run" in m for m in messages(app))
        app.post_message(EngineEvent(CallUpdated(4.0, "n", CallStatus.RUNNING)))
        await wait_until(
            pilot,
            lambda: not any("asks to run" in m for m in messages(app)),
            5,
            "the approval toast to go",
        )


async def test_approval_buttons_answer_and_live_only_while_asked() -> None:
    app = replay_app(MID_TURN)
    posted: list[Input] = []
    async with app.run_test(size=(130, 36)) as pilot:
        await play(pilot)
        # Only the call that waits has buttons (the others would pay four
        # widgets each for nothing).
        rows = {row.record.id: row for row in app.chat.calls.query(CallRow)}
        assert [cid for cid, row in rows.items() if row.query(".approval")] == ["n"]
        app.engine.post = posted.append  # type: ignore[method-assign]
        await pilot.click("#approve-deny")
        assert posted == [ApproveCall("n", Decision.DENY)]
        app.post_message(EngineEvent(CallUpdated(4.0, "n", CallStatus.DENIED)))
        await wait_until(pilot, lambda: not rows["n"].query(".approval"), 5, "the buttons to go")


async def test_a_burst_of_engine_events_is_applied_in_slices_with_keys_between() -> None:
    app = replay_app(MID_TURN)
    async with app.run_test(size=(130, 36)) as pilot:
        await play(pilot)
        burst = [CallUpdated(4.0 + i / 100, "n", CallStatus.RUNNING) for i in range(3)]
        applied: list[object] = []
        apply = app.chat.apply

        async def counted(event: Event) -> None:
            applied.append(event)
            await apply(event)

        app.chat.apply = counted  # type: ignore[method-assign]
        app._pending.extend(burst)
        # Out of time after the first: the rest wait for a message of their
        # own, so keys queued behind this one go first.
        assert not await app.drain_events(0.0)
        assert applied == burst[:1] and list(app._pending) == burst[1:]
        await pilot.pause()
        assert applied == burst and not app._pending
        # Without a budget (a render, a test settling) everything goes at once.
        app._pending.extend(burst)
        assert await app.drain_events()
        assert applied == burst * 2


async def test_emoji_in_a_result_chip_is_not_cut() -> None:
    from asynclm_tui.core.api.enums import InterruptKind
    from asynclm_tui.core.api.events import CallFinished, CallIssued, Interrupt, Token

    value = "ab" + "👍🏽 " * 60
    app = replay_app(
        [
            *FINISHED[:-1],
            CallIssued(3.7, "z", "echo", (), {"text": value}, True, 1.0),
            CallFinished(3.8, "z", True, 2.0, CallStatus.DONE, value),
            Interrupt(3.9, "z", value, 40, 1.0, 1.0, InterruptKind.TOOL),
            Token(3.95, " More.", " More."),
        ]
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        label = [str(c.content) for c in app.chat.query(Chip) if "z →" in str(c.content)][0]
        assert label.count("👍") == label.count("\U0001f3fd") > 0


async def test_chips_and_bars_do_not_mislead() -> None:
    from asynclm_tui.core.api.enums import InterruptKind, PauseReason
    from asynclm_tui.core.api.events import (
        CallFinished,
        Interrupt,
        Resumed,
        Trapped,
        UserMessage,
    )
    from asynclm_tui.ui.widgets.calls_panel import CallRow

    events = [
        *MID_TURN[:-1],
        # n is denied after 9 s of waiting for approval: no run time, no bar.
        CallFinished(3.6, "n", False, 9550.0, CallStatus.DENIED, "error: denied by the user"),
        Interrupt(3.6, "n", "error: denied by the user", 9, 1.0, 1.0, InterruptKind.TOOL),
        # A duplicate id: the error is not given e's run time.
        Interrupt(3.7, "e", "error: duplicate id e", 9, 1.0, 1.0, InterruptKind.ERROR),
        # A trap for t, ended by a message while t still runs.
        Trapped(3.8, PauseReason.TRAP, ("t",)),
        UserMessage(3.9, "hurry"),
        Resumed(3.9, 96.0),
    ]
    app = replay_app(events)
    async with app.run_test(size=(160, 45)) as pilot:
        await play(pilot)
        labels = [str(c.content) for c in app.chat.query(Chip)]
        assert any("n → error: denied" in label and "took" not in label for label in labels)
        assert any("duplicate id" in label and "took" not in label for label in labels)
        assert any("waited 96 ms; t still running" in label for label in labels)
        rows = {row.record.id: str(row._body.content) for row in app.chat.query(CallRow)}
        assert "never ran" in rows["n"] and "█" not in rows["n"]
        assert "█" * 12 in rows["e"]  # ended: a whole bar


async def test_a_message_sent_while_the_system_prompt_is_read_says_it_waits() -> None:
    app = replay_app(LOADED)  # loaded; the first launch still reads the system prompt
    async with app.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        chat = app.chat
        assert chat.warming and chat.status_text("state") == "ready"
        chat.prompt.load_text("hello")
        await pilot.press("enter")
        assert chat.status_text("state") == "reading the system prompt"
        app.post_message(EngineEvent(PromptWarmed(0.5, "evaluated", 700)))
        await settle(pilot)
        assert not chat.warming  # the message is next: no "ready" in between
        assert chat.status_text("state") == "reading the system prompt"
        app.post_message(EngineEvent(TurnStarted(0.6, 1, "async", "hello")))
        await settle(pilot)
        assert chat.status_text("state") == "reading prompt"


async def test_the_warm_system_prompt_leaves_an_idle_chat_ready() -> None:
    app = replay_app([*LOADED, PromptWarmed(0.4, "restored", 700)])
    async with app.run_test(size=(100, 30)) as pilot:
        await play(pilot)
        assert not app.chat.warming and app.chat.status_text("state") == "ready"
