"""Approving an MCP call in the chat's calls panel: "whole server" answers the
call and is remembered for every tool of that server; a YAML tool offers no
such choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.ui.mcp_link import McpLink
from asynclm_tui.ui.widgets.calls_panel import CallRow
from tests.mcp.mcp_harness import running, stdio, wait_for
from tests.ui.uiharness import running_app, type_text, ui_settings, wait_until

pytestmark = pytest.mark.ui

LONG = " ".join(f"Sentence number {i} keeps the model talking." for i in range(60))


async def test_whole_server_approval_is_remembered(tmp_path: Path) -> None:
    script = f"Trying. [CALL] f [HEAD] u.fails(reason='quota') [END] {LONG} [TRAP][END] Done."
    settings = ui_settings()
    base = ToolRegistry.load(settings.tool_paths(), settings.tools.disabled)
    with running([stdio("u", trust=False)], tmp_path) as hub:
        assert hub.tools()["u.crash"].confirm
        link = McpLink(hub, base)
        async with running_app(script, settings, mcp=link) as (app, pilot, _engine):
            await type_text(pilot, "go")
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: (
                    "f" in app.state.calls
                    and app.state.calls["f"].status is CallStatus.AWAITING_APPROVAL
                ),
                60,
                "awaiting approval",
            )
            row = app.chat.calls.query_one(CallRow)
            assert row.query("#approve-server"), "an MCP call offers the whole server"
            await pilot.press("ctrl+l", "s")
            rec = app.state.calls["f"]
            await wait_until(pilot, lambda: rec.status is CallStatus.FAILED, 30, "ran and failed")
            await wait_until(pilot, lambda: rec.landed_t is not None, 60, "landed")
            assert "quota" in rec.value  # it ran: approved, not denied
            await pilot.press("escape")
        # Every tool of the server runs without asking from now on, remembered on disk.
        wait_for(lambda: not hub.tools()["u.crash"].confirm, what="the server approved")
    assert '"all": true' in (tmp_path / "approvals.json").read_text()


async def test_a_yaml_tool_has_no_whole_server_choice() -> None:
    script = f"Saving. [CALL] n [HEAD] save_note(text='hi') [END] {LONG} [TRAP][END] Done."
    async with running_app(script) as (app, pilot, _engine):
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
        row = app.chat.calls.query_one(CallRow)
        assert not row.query("#approve-server")
        await pilot.press("ctrl+l", "s")  # refused with a notice: still waiting
        assert app.state.calls["n"].status is CallStatus.AWAITING_APPROVAL
        await pilot.press("d")
        rec = app.state.calls["n"]
        await wait_until(pilot, lambda: rec.status is CallStatus.DENIED, 10, "denied")
        await pilot.press("escape")
