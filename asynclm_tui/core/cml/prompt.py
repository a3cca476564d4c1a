"""The system prompt: tool docs with estimated durations, CML rules, an example.

The conversation is rendered with the model's own chat template (from the
GGUF) by the backend; this module only writes the system message's text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from asynclm_tui.core.tools.spec import ToolSpec

RULES = """\
You can call tools and keep writing while they run (asynchronous calling).

How to call a tool:
- If you need the result: [CALL] id [HEAD] tool_name(arg=value, ...) [END]
  where id is a short new name (letters, digits, _) used once per conversation.
- If you do not need the result: [CALL] tool_name(arg=value) [END]
- Arguments are Python literals: 'text', 42, 3.5, True, None, [..], {..}.
- Put each call in its own block. Independent calls go one right after another.
- Call the tool with the LONGEST estimated_ms first, then shorter ones.
- Keep writing useful text while calls run; do not repeat a call.
- Results arrive by themselves as [INTR] id [HEAD] value [END]. Never write [INTR].
- A message from the user may also arrive as [INTR] user [HEAD] text [END].
  Take it into account right away.
- If you cannot continue until a result arrives, write [TRAP][END] to wait.
- Give the final answer once the results you need are in."""

EXAMPLE = """\
Example.
User: What time is it in Tokyo, and what is 12*7?
Assistant: [CALL] t [HEAD] clock(timezone='Asia/Tokyo') [END] \
[CALL] m [HEAD] calc(expression='12*7') [END] Checking both now. [TRAP][END]
[INTR] m [HEAD] 84 [END]
12*7 is 84. [TRAP][END]
[INTR] t [HEAD] 2025-05-01 21:04:11 JST (Thursday) [END]
In Tokyo it is 21:04 on Thursday, and 12*7 = 84."""


_TYPE_NAMES = {
    "integer": "int",
    "number": "float",
    "string": "str",
    "boolean": "bool",
    "array": "list",
    "object": "dict",
}


def signature(spec: ToolSpec) -> str:
    """``name(a: int, b?: str)``: a compact, model-friendly signature."""
    props = spec.parameters.get("properties") or {}
    required = set(spec.parameters.get("required") or ())
    parts = []
    for name, prop in props.items():
        typ = prop.get("type") if isinstance(prop, dict) else None
        label = _TYPE_NAMES.get(typ, "any") if isinstance(typ, str) else "any"
        if isinstance(prop, dict) and "enum" in prop:
            label = " | ".join(repr(v) for v in prop["enum"])
        parts.append(f"{name}{'' if name in required else '?'}: {label}")
    return f"{spec.name}({', '.join(parts)})"


COMPACT_RULES = """\
Call tools with [CALL] id [HEAD] tool(arg=value) [END] and keep writing; longest \
estimated_ms first. Results arrive as [INTR] id [HEAD] value [END]. \
Write [TRAP][END] to wait for a result."""


def tool_docs(tools: Iterable[ToolSpec], estimate: Callable[[str], float]) -> str:
    """One line per tool: signature, estimated duration, description.

    Compact signatures instead of full JSON Schemas keep the prompt short, which
    matters for small models and for every later prefill on slow CPUs.
    """
    lines = []
    for spec in tools:
        about = " ".join(spec.description.split())
        lines.append(f"- {signature(spec)}  estimated_ms={round(estimate(spec.name))}: {about}")
    return "\n".join(lines)


def system_prompt(
    tools: Iterable[ToolSpec],
    estimate: Callable[[str], float],
    extra: str = "",
    style: str = "full",
) -> str:
    """The full system message for a session (``style`` full or compact)."""
    docs = tool_docs(tools, estimate)
    parts = [RULES if style == "full" else COMPACT_RULES]
    parts.append("Tools:\n" + docs if docs else "No tools are available right now.")
    if docs and style == "full":
        parts.append(EXAMPLE)
    if extra.strip():
        parts.append(extra.strip())
    return "\n\n".join(parts)


def launch_system_prompt(
    tools: Mapping[str, ToolSpec], extra: str = "", style: str = "full"
) -> str:
    """The system prompt a session starts with, before any call has run (each
    tool's declared estimate): what training data and benchmarks reproduce."""
    return system_prompt(tools.values(), lambda name: tools[name].expected_ms(), extra, style)


def result_notice(ids: Sequence[str]) -> str:
    """What a turn started by results answers, in the user's place: the
    calls that finished (their results follow as ``[INTR]`` at the answer's
    start).  The transcript shows the same news where a message would be.
    With it the bundled model reports the result (docs/background.md); with
    no user message it more often repeated its previous answer."""
    return f"{', '.join(ids)} finished."
