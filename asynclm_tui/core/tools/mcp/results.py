"""A ``CallToolResult`` as the text a tool result is everywhere else.

Text blocks are kept; structured content is compact JSON when no text says
it; an image, audio clip or resource becomes a one-line placeholder with its
type and size (the model cannot see pixels, and base64 would flood its
context).  The whole is capped in bytes; the token budget of the injection
cuts it further for the model.  ``isError`` raises, so the call ends as an
error interrupt like any failing tool.
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types

from asynclm_tui.core.tools.runners import ToolFailure


def human_size(n: int) -> str:
    """``812 B``, ``3.4 KB``, ``10.5 MB``."""
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1000:.1f} KB"
    return f"{n / 1_000_000:.1f} MB"


def _b64_size(data: str) -> int:
    """Bytes that ``data`` (base64) decodes to, without decoding it."""
    data = data.strip()
    return max(0, len(data) * 3 // 4 - data[-2:].count("="))


def _resource(contents: types.TextResourceContents | types.BlobResourceContents) -> str:
    if isinstance(contents, types.TextResourceContents):
        kind, size = contents.mime_type or "text", len(contents.text.encode("utf-8"))
    else:
        kind, size = contents.mime_type or "binary", _b64_size(contents.blob)
    return f"[resource {contents.uri} ({kind}, {human_size(size)})]"


def block_text(block: Any) -> tuple[str, bool]:
    """One content block as text, and whether it was text the tool wrote."""
    if isinstance(block, types.TextContent):
        return block.text, True
    if isinstance(block, types.ImageContent):
        return f"[image {block.mime_type}, {human_size(_b64_size(block.data))}]", False
    if isinstance(block, types.AudioContent):
        return f"[audio {block.mime_type}, {human_size(_b64_size(block.data))}]", False
    if isinstance(block, types.EmbeddedResource):
        return _resource(block.resource), False
    if isinstance(block, types.ResourceLink):
        about = ", ".join(
            p for p in (block.mime_type, human_size(block.size) if block.size else None) if p
        )
        return f"[resource link {block.uri}" + (f" ({about})]" if about else "]"), False
    return f"[{getattr(block, 'type', 'unknown')} content]", False


def cap_bytes(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes, saying how much was left out."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    kept = data[:limit].decode("utf-8", errors="ignore")
    return f"{kept}\n…[result cut at {limit:,} of {len(data):,} bytes]"


def result_text(result: types.CallToolResult, limit: int) -> str:
    """The result as one string of at most about ``limit`` bytes.

    Raises:
        ToolFailure: the server marked the result as an error (``isError``).
    """
    parts: list[str] = []
    wrote_text = False
    for block in result.content:
        text, is_text = block_text(block)
        parts.append(text)
        wrote_text = wrote_text or is_text
    if not wrote_text and result.structured_content is not None:
        structured = json.dumps(
            result.structured_content, ensure_ascii=False, separators=(",", ":")
        )
        parts.insert(0, structured)
    text = cap_bytes("\n".join(parts), limit)
    if result.is_error:
        raise ToolFailure(text.strip() or "the tool reported an error without a message")
    return text if text.strip() else "(empty result)"
