"""MCP tools as tool specs (names, schemas, approval), results as text, and the
approvals file: built from the SDK's own types, no server needed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest

from asynclm_tui.core.api.enums import Deliver, DeliverIdle
from asynclm_tui.core.cml.constrain import tool_shape
from asynclm_tui.core.cml.syntax import parse_call_body
from asynclm_tui.core.settings.mcp_entry import ToolDelivery
from asynclm_tui.core.tools.mcp.approvals import ApprovalStore
from asynclm_tui.core.tools.mcp.config import ServerConfig
from asynclm_tui.core.tools.mcp.naming import identifier, unique_identifiers
from asynclm_tui.core.tools.mcp.results import result_text
from asynclm_tui.core.tools.mcp.tools import McpToolRef, build_specs
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.core.tools.runners import ToolFailure


def tool(name: str, schema: dict[str, Any] | None = None, **fields: Any) -> types.Tool:
    return types.Tool(
        name=name, input_schema=schema or {"type": "object", "properties": {}}, **fields
    )


def config(**fields: Any) -> ServerConfig:
    return ServerConfig(name="my-server", transport="stdio", command="x", **fields)


async def echo_call(ref: McpToolRef, args: dict[str, Any]) -> str:
    return json.dumps([ref.server, ref.tool, args], sort_keys=True)


def specs(cfg: ServerConfig, tools: list[types.Tool], approved: set[str] = frozenset()) -> Any:  # type: ignore[assignment]
    return build_specs(cfg, "my_server", tools, approved=approved.__contains__, call=echo_call)


def test_identifiers_are_callable_names() -> None:
    assert identifier("brave-search") == "brave_search"
    assert identifier("from") == "from_" and identifier("None") == "None_"
    assert identifier("3d-print") == "_3d_print" and identifier("---") == "x"
    assert unique_identifiers(["a-b", "a_b", "a.b"]) == {
        "a-b": "a_b",
        "a_b": "a_b_2",
        "a.b": "a_b_3",
    }


def test_names_and_parameters_the_model_can_write_map_back_to_the_server() -> None:
    schema = {
        "type": "object",
        "properties": {"from": {"type": "string"}, "max-results": {"type": "integer"}},
        "required": ["from"],
    }
    found, skipped = specs(config(), [tool("search-web", schema, description="Searches.")])
    spec = found["my_server.search_web"]
    assert spec.param_names == ["from_", "max_results"] and spec.parameters["required"] == ["from_"]
    call = parse_call_body("my_server.search_web(from_='x', max_results=3)")
    assert call.name == spec.name
    assert tool_shape(spec.parameters).required == {"from_"}
    registry = ToolRegistry(tools=found)
    bound = registry.bind(spec.name, call.args, call.kwargs)
    assert spec.handler is not None
    sent = json.loads(asyncio.run(spec.handler(**bound)))
    assert sent == ["my-server", "search-web", {"from": "x", "max-results": 3}]
    assert skipped == ()


def test_descriptions_are_cut_and_estimates_read_from_the_hint() -> None:
    long = tool("a", description="word " * 200, _meta={"estimatedDurationMs": 2500})
    bare = tool("b")
    found, _ = specs(config(max_description_chars=50), [long, bare])
    assert (
        len(found["my_server.a"].description) == 50 and found["my_server.a"].description[-1] == "…"
    )
    assert found["my_server.a"].estimated_ms == 2500
    assert found["my_server.b"].description == "Tool b of the MCP server my-server."
    assert found["my_server.b"].estimated_ms == 1000


def test_approval_is_asked_unless_trusted_read_only_or_remembered() -> None:
    tools = [
        tool("read", annotations=types.ToolAnnotations(read_only_hint=True)),
        tool("write", annotations=types.ToolAnnotations(destructive_hint=True)),
        tool("plain"),
        tool("auto"),
    ]
    found, _ = specs(config(auto_approve=frozenset({"auto"})), tools, {"plain"})
    assert {n: s.confirm for n, s in found.items()} == {
        "my_server.read": False,
        "my_server.write": True,
        "my_server.plain": False,
        "my_server.auto": False,
    }
    trusted, _ = specs(config(trust=True), tools)
    assert not any(s.confirm for s in trusted.values())


def test_filters_and_unusable_tools_are_reported() -> None:
    tools = [
        tool("keep"),
        tool("drop"),
        tool("tuple", {"type": "object", "properties": {"p": {"type": "nonsense"}}}),
        tool("legacy_task", execution=types.ToolExecution(task_support="required")),
    ]
    found, skipped = specs(config(exclude_tools=frozenset({"drop"})), tools)
    assert set(found) == {"my_server.keep"}
    legacy, bad = skipped
    assert legacy == "legacy_task: runs only as a 2025-11-25 task, which is not supported"
    assert bad.startswith("tuple: parameters: invalid JSON Schema: 'nonsense' is not valid")


def test_results_become_text_with_placeholders() -> None:
    png = "iVBORw0KGgo" + "A" * 1325  # 1,002 bytes
    result = types.CallToolResult(
        content=[
            types.TextContent(text="two things:"),
            types.ImageContent(data=png, mime_type="image/png"),
            types.AudioContent(data="AAAA", mime_type="audio/wav"),
            types.EmbeddedResource(
                resource=types.TextResourceContents(uri="file:///a.txt", text="héllo")
            ),
            types.ResourceLink(
                uri="file:///b.pdf", name="b", mime_type="application/pdf", size=4096
            ),
        ]
    )
    assert result_text(result, 1000).splitlines() == [
        "two things:",
        "[image image/png, 1.0 KB]",
        "[audio audio/wav, 3 B]",
        "[resource file:///a.txt (text, 6 B)]",
        "[resource link file:///b.pdf (application/pdf, 4.1 KB)]",
    ]
    structured = types.CallToolResult(content=[], structured_content={"temp": 21.5})
    assert result_text(structured, 1000) == '{"temp":21.5}'
    assert result_text(types.CallToolResult(content=[]), 1000) == "(empty result)"
    with pytest.raises(ToolFailure, match="^disk full$"):
        result_text(
            types.CallToolResult(content=[types.TextContent(text="disk full")], is_error=True), 100
        )
    cut = result_text(types.CallToolResult(content=[types.TextContent(text="é" * 100)]), 51)
    assert cut == "é" * 25 + "\n…[result cut at 51 of 200 bytes]"


def test_approvals_persist_and_a_foreign_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state" / "mcp-approvals.json"
    store = ApprovalStore(path)
    key = ApprovalStore.key("gh", "abc")
    assert not store.allowed(key, "search")
    store.allow_tool(key, "search")
    assert ApprovalStore(path).allowed(key, "search")
    assert not ApprovalStore(path).allowed(key, "delete")
    store.allow_server(key)
    assert ApprovalStore(path).allowed(key, "delete")
    assert not ApprovalStore(path).allowed(ApprovalStore.key("gh", "other"), "search")
    store.forget(key)
    assert not ApprovalStore(path).allowed(key, "search")
    path.write_text("not json")
    broken = ApprovalStore(path)
    broken.allow_server(key)
    assert broken.allowed(key, "x") and path.read_text() == "not json"


def test_specs_carry_the_servers_and_each_tools_delivery() -> None:
    cfg = config(
        deliver_idle=DeliverIdle.SILENT,
        tool_delivery={"crawl": ToolDelivery(background=True), "gone": ToolDelivery()},
    )
    found, skipped = specs(cfg, [tool("crawl"), tool("ping")])
    crawl, ping = found["my_server.crawl"], found["my_server.ping"]
    assert crawl.background and crawl.deliver_idle is DeliverIdle.SILENT
    assert not ping.background and ping.deliver is Deliver.INTERRUPT
    assert "tools.gone: the server has no tool of that name" in skipped
