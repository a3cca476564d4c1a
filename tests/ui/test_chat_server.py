"""Pilot tests of the chat UI on the server backend (llama-cpp-python's server
on loopback), teacher-forced like the in-process UI tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_server import LlamaServer
from test_chat import LONG, chips
from uiharness import running_app, type_text, ui_settings, wait_until

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.ui.widgets.transcript import NoticeEntry

pytestmark = pytest.mark.model


async def test_call_overlaps_decoding_and_user_interrupt_lands_mid_answer(
    llama_server: LlamaServer,
) -> None:
    script = (
        "Checking. [CALL] a [HEAD] sleep(ms=1500) [END] While it sleeps I keep "
        f"writing. {LONG[:400]} [TRAP][END] It returned."
    )
    settings = ui_settings(**{"model.backend": "openai", "server.base_url": llama_server.url})
    mark = llama_server.log_size()
    async with running_app(script, settings) as (app, pilot, engine):
        assert app.chat.status_text("model") == engine.snapshot().model.model  # type: ignore[union-attr]
        assert app.chat.status_text("device") == llama_server.url.removeprefix("http://")
        await type_text(pilot, "hello")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "a" in app.state.calls, 120, "call issued")
        rec = app.state.calls["a"]
        await wait_until(
            pilot,
            lambda: rec.status is CallStatus.RUNNING or rec.status.finished,
            30,
            "running",
        )
        app.chat.prompt.insert("tea, please")
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(chips(app, "user")), 120, "user chip")
        assert chips(app, "user") == ["✉ you, mid-answer: tea, please"]
        await wait_until(pilot, lambda: not app.chat.generating, 300, "turn done")
        entry = app.chat.transcript.current
        assert entry is not None
        assert "[INTR] user [HEAD] tea, please [END]" in entry.raw_text
        raw = entry.raw_text
        call_end = raw.index("[END]", raw.index("[CALL] a"))
        # Text was decoded between the call's [END] and its result's injection.
        assert len(raw[call_end + 5 : raw.index("[INTR] a [HEAD] slept")].strip()) > 20
    hits = llama_server.prefix_hits(mark)
    assert hits and all(r / (r + e) >= 0.95 for r, e in hits[1:]), hits


async def test_server_killed_mid_answer_shows_error_keeps_answer_and_recovers(
    tmp_path: Path,
) -> None:
    server = LlamaServer(tmp_path / "server.log")
    server.start()
    settings = ui_settings(
        **{"model.backend": "openai", "server.base_url": server.url, "server.retries": 1}
    )
    try:
        async with running_app(f"Partial answer. {LONG}\n=== turn ===\nBack again.", settings) as (
            app,
            pilot,
            engine,
        ):
            await type_text(pilot, "go")
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: app.state.current is not None and app.state.current.n_tokens > 5,
                120,
                "streaming",
            )
            server.kill()
            await wait_until(pilot, lambda: not app.chat.generating, 60, "turn ended")
            errors = [
                str(n.render()) for n in app.chat.query(NoticeEntry) if n.has_class("notice-error")
            ]
            assert errors and str(server.port) in errors[0]
            turn = app.state.current
            assert turn is not None and turn.done is not None and turn.done.reason == "error"
            partial = turn.done.text
            assert partial.startswith("Partial answer.")
            assert app.is_running and app.chat.status_text("state") == "ready"
            server.start()
            app.chat.prompt.insert("again")
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: (
                    app.state.current is not turn
                    and app.state.current is not None
                    and app.state.current.done is not None
                ),
                120,
                "second turn",
            )
            assert app.state.current.done.reason == "eos"  # type: ignore[union-attr]
            assert "Back again." in app.state.current.done.text  # type: ignore[union-attr]
            # The partial answer stayed in the conversation the second turn read.
            second = app.state.current.done  # type: ignore[union-attr]
            assert second.n_prompt > turn.done.n_prompt + turn.done.n_generated // 2
    finally:
        server.stop()
