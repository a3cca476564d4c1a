"""A prompt that does not fit names the part that is too big and what to do,
and tool sets that would crowd the context are caught before any chat
(issue 36, finding 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asynclm_tui.core.api.enums import StopReason
from asynclm_tui.core.api.events import SetTools, TurnFailed
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.cml.prompt import tool_docs
from asynclm_tui.core.decode.budget import (
    TOOL_SHARE,
    TOOLSET_LIMIT,
    TOOLSET_SHARE,
    PromptParts,
    check_tool_budget,
    estimate_tokens,
    explain,
)
from asynclm_tui.core.settings.paths import shipped_tools_dir
from asynclm_tui.core.settings.yaml_source import UserFileError
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.core.tools.spec import ToolSpec, load_tool_file
from tests.engine.engine_harness import scripted

N_CTX = 2048


def many_tools(n: int, description: str = "Looks up one thing about a place.") -> ToolRegistry:
    registry = ToolRegistry()
    for i in range(n):
        registry.add_function(
            f"lookup_{i}",
            lambda place="": place,
            description=description,
            parameters={"type": "object", "properties": {"place": {"type": "string"}}},
        )
    return registry


def failure(registry: ToolRegistry | None, message: str = "hi", **overrides: Any) -> str:
    """What the engine says when the first turn's prompt does not fit."""
    with scripted(["never"], backend=ScriptedBackend(["never"], n_ctx=N_CTX), **overrides) as run:
        if registry is not None:
            run.post(SetTools(registry))
        done = run.turn(message)
    assert done.reason == StopReason.CONTEXT_FULL
    (failed,) = run.of(TurnFailed)
    assert failed.message.startswith("the conversation (") and "\n" not in failed.message
    assert f"does not fit the context window ({N_CTX:,} tokens): " in failed.message
    return failed.message


def test_too_many_tools_are_named_with_the_way_out() -> None:
    message = failure(many_tools(300))
    assert "the system prompt describes 300 tools in" in message
    assert "disable some tools (tools.disabled) or pass fewer --tools" in message
    assert "message" in message and "shorten the message" not in message


def test_one_huge_tool_is_named() -> None:
    registry = many_tools(5)
    registry.add_function("encyclopedia", lambda: "", description="word " * 5000)
    message = failure(registry)
    assert "the tool 'encyclopedia' alone takes" in message
    assert "tools.disabled: [encyclopedia]" in message


def test_a_huge_message_is_blamed_not_the_tools() -> None:
    message = failure(None, "please read this " * 5000)
    assert "your message alone takes" in message and "shorten the message" in message
    assert "tools.disabled" not in message


def test_a_huge_system_prompt_setting_is_named() -> None:
    message = failure(None, **{"generation.system_prompt": "Be nice. " * 3000})
    assert "generation.system_prompt takes" in message
    assert "shorten generation.system_prompt" in message


def test_the_instructions_themselves_point_to_the_compact_style() -> None:
    with scripted(["never"], backend=ScriptedBackend(["never"], n_ctx=64)) as run:
        run.turn("hi")
    (failed,) = run.of(TurnFailed)
    assert "the system prompt takes" in failed.message
    assert "generation.prompt_style: compact" in failed.message


def test_explain_names_earlier_turns_when_they_are_the_bulk() -> None:
    parts = PromptParts(
        total=3000,
        n_ctx=N_CTX,
        system=300,
        tools=2,
        tool_tokens=80,
        largest_tool=("a", 50),
        message=20,
        earlier=6,
    )
    text = explain(parts)
    assert text.startswith("the earlier turns take 2,680 tokens") and "start a new chat" in text


def test_shipped_tools_pass_the_budget_check() -> None:
    registry = ToolRegistry.load([shipped_tools_dir()])
    assert check_tool_budget(registry.tools.values(), N_CTX) == []


def write_tool(tmp_path: Path, description_chars: int) -> Path:
    path = tmp_path / "big.yaml"
    path.write_text(
        "name: big\nestimated_ms: 10\npython: builtins:len\n"
        "parameters: {type: object, properties: {obj: {type: string}}}\n"
        f"description: {'x' * description_chars}\n"
    )
    return path


def test_a_tool_with_a_megabyte_description_fails_the_check(tmp_path: Path) -> None:
    with pytest.raises(UserFileError, match=r"big.yaml: file is larger than"):
        load_tool_file(write_tool(tmp_path, 1_000_000))
    # Under the file cap, the budget check fails it.
    (spec,) = load_tool_file(write_tool(tmp_path, 300_000))
    (problem,) = [p for p in check_tool_budget([spec], N_CTX) if "'big'" in p.message]
    assert problem.error and problem.share > TOOLSET_LIMIT
    assert problem.message.startswith(f"{tmp_path / 'big.yaml'}: tool 'big': its description")
    assert "shorten it" in problem.message


def test_shares_warn_then_fail() -> None:
    def specs(n: int, tokens_each: int) -> list[ToolSpec]:
        """``n`` tools whose prompt lines take about ``tokens_each`` tokens."""
        bare = estimate_tokens(tool_docs(many_tools(1, "").tools.values(), lambda _: 500))
        return list(many_tools(n, "d" * 3 * (tokens_each - bare)).tools.values())

    (warning,) = check_tool_budget(specs(1, int(N_CTX * (TOOL_SHARE + 0.02))), N_CTX)
    assert not warning.error and "more than 10%" in warning.message
    crowded = check_tool_budget(specs(40, int(N_CTX * (TOOLSET_SHARE + 0.05) / 40)), N_CTX)
    assert [(p.error, "the 40 tools take" in p.message) for p in crowded] == [(False, True)]
    full = check_tool_budget(specs(300, 20), N_CTX)
    assert [p.error for p in full] == [True] and "pass fewer --tools" in full[0].message
    assert full[0].share > TOOLSET_LIMIT
    assert estimate_tokens("abcdef") == 2
