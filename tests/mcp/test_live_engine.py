"""MCP tools through the real Engine (scripted backend): a CML call to
``server.tool`` runs while the model keeps writing, its progress and result
come back as events and an interrupt; a changed tool list reaches the next
answer; approval works as for YAML tools."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from asynclm_tui.core.api.enums import CallStatus, Decision
from asynclm_tui.core.api.events import (
    ApproveCall,
    CallFinished,
    CallIssued,
    CallProgress,
    CallUpdated,
    Interrupt,
)
from asynclm_tui.core.decode.from_settings import follow_mcp_tools
from asynclm_tui.core.tools.mcp.hub import McpHub
from asynclm_tui.core.tools.mcp.status import ServerState
from asynclm_tui.core.tools.registry import ToolRegistry
from tests.engine.engine_harness import WAIT_S, Run, scripted, settings
from tests.mcp.mcp_harness import running, stdio, wait_for

FILLER = " word" * 40


@contextmanager
def engine_with(hub: McpHub, turns: list[str], **kwargs: Any) -> Iterator[Run]:
    """A scripted engine whose tools are the YAML ones plus the hub's."""
    cfg = settings()
    base = ToolRegistry.load(cfg.tool_paths(), cfg.tools.disabled)
    with scripted(turns, start=False, **kwargs) as run:
        follow_mcp_tools(run.engine, hub, base)
        run.engine.start()
        assert run.engine.wait_loaded(WAIT_S)
        yield run


def test_a_cml_call_to_an_mcp_tool_runs_while_the_model_writes(tmp_path: Path) -> None:
    script = (
        "Let me check. [CALL] a [HEAD] srv.slow(ms=1500, steps=3) [END]"
        f"{FILLER} [TRAP][END] It says so."
    )
    with running([stdio("srv")], tmp_path) as hub, engine_with(hub, [script]) as run:
        done = run.turn()
        assert "srv.slow(ms: int, steps?: int)" in run.engine.snapshot().system_prompt
    issued = run.index(lambda e: isinstance(e, CallIssued) and e.fn == "srv.slow")
    finished = run.index(lambda e: isinstance(e, CallFinished) and e.id == "a")
    assert run.tokens_between(issued, finished) >= 40  # the answer went on meanwhile
    progress = [e for e in run.of(CallProgress) if e.id == "a"]
    assert [(p.progress, p.total, p.message) for p in progress] == [
        (i, 3.0, f"step {int(i)} of 3") for i in (1.0, 2.0, 3.0)
    ]
    assert all(run.events.index(p) < finished for p in progress)
    [intr] = [e for e in run.of(Interrupt) if e.id == "a"]
    assert intr.value == "worked 1500 ms"
    assert "[INTR] a [HEAD] worked 1500 ms [END]" in run.backend.text()
    assert done.n_past == done.n_prompt + done.n_generated + done.n_injected


def test_a_failing_mcp_call_is_an_error_interrupt_and_the_answer_goes_on(tmp_path: Path) -> None:
    script = "Trying. [CALL] f [HEAD] srv.fails(reason='quota') [END] [TRAP][END] It failed."
    with running([stdio("srv")], tmp_path) as hub, engine_with(hub, [script]) as run:
        run.turn()
    [intr] = [e for e in run.of(Interrupt) if e.id == "f"]
    assert intr.value.startswith("error: ") and "refused: quota" in intr.value
    assert run.backend.text().rstrip().endswith("It failed.")


def test_a_changed_tool_list_reaches_the_next_answer(tmp_path: Path) -> None:
    first = "Adding. [CALL] a [HEAD] srv.add_tool(name='fresh') [END] [TRAP][END] Added."
    second = "Using it. [CALL] b [HEAD] srv.fresh() [END] [TRAP][END] Done."
    with running([stdio("srv")], tmp_path) as hub, engine_with(hub, [first, second]) as run:
        run.turn()
        assert "The added tool fresh." not in run.backend.text()  # the first answer's prompt
        wait_for(lambda: "srv.fresh" in run.engine.snapshot().tools, what="SetTools")
        run.turn()
        prompt = run.engine.snapshot().system_prompt
    assert "srv.fresh()" in prompt and "The added tool fresh." in prompt
    [intr] = [e for e in run.of(Interrupt) if e.id == "b"]
    assert intr.value == "I am fresh"
    # the second answer was written under the new system prompt
    assert run.backend.text().count("The added tool fresh.") == 1


def test_approval_for_an_untrusted_server(tmp_path: Path) -> None:
    script = (
        "Reading. [CALL] r [HEAD] u.echo(text='hi') [END]"
        " Writing. [CALL] w [HEAD] u.fails(reason='x') [END] [TRAP][END] [TRAP][END] Ok."
    )
    config = stdio("u", trust=False)
    with running([config], tmp_path) as hub, engine_with(hub, [script], interactive=True) as run:

        def approve(event: object) -> None:
            if isinstance(event, CallUpdated) and event.status is CallStatus.AWAITING_APPROVAL:
                run.post(ApproveCall(event.id, Decision.ONCE))

        run.hooks.append(approve)
        run.turn()
    asked = [e.id for e in run.of(CallUpdated) if e.status is CallStatus.AWAITING_APPROVAL]
    assert asked == ["w"]  # echo is marked read-only; fails is not
    values = {e.id: e.value for e in run.of(Interrupt)}
    assert values["r"] == "hi" and "refused: x" in values["w"]


def test_always_is_remembered_per_tool_and_per_server(tmp_path: Path) -> None:
    config = stdio("u", trust=False)
    with running([config], tmp_path) as hub:
        assert hub.tools()["u.fails"].confirm and hub.tools()["u.crash"].confirm
        assert hub.remember_approval("u.fails", "tool")
        wait_for(lambda: not hub.tools()["u.fails"].confirm, what="the tool approved")
        assert hub.tools()["u.crash"].confirm
    with running([config], tmp_path) as hub:  # a new chat reads the file
        assert not hub.tools()["u.fails"].confirm and hub.tools()["u.crash"].confirm
        assert hub.remember_approval("u.crash", "server")
        wait_for(lambda: not any(s.confirm for s in hub.tools().values()), what="all approved")
        assert not hub.remember_approval("calc", "tool")  # not an MCP tool
    other = replace(config, args=(*config.args, "stdio"))
    with running([other], tmp_path) as hub:  # the same name running something else asks
        assert hub.statuses()[0].state is ServerState.READY
        assert hub.tools()["u.fails"].confirm
