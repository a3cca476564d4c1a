"""MCP names as names the model can write in a CML call.

A call is parsed as Python (``server.tool(arg=value)``), so every part must be
an identifier and not a keyword: ``brave-search`` becomes ``brave_search``,
``list-files`` ``list_files``, a parameter ``from`` ``from_``.  Names that
collapse to the same identifier get ``_2``, ``_3``... in order.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

_BAD = re.compile(r"[^A-Za-z0-9_]+")


def identifier(name: str) -> str:
    """``name`` as a Python identifier that is no keyword (never empty)."""
    text = _BAD.sub("_", name.strip()).strip("_") or "x"
    if text[0].isdigit():
        text = "_" + text
    if keyword.iskeyword(text) or text in ("True", "False", "None"):
        text += "_"
    return text


def unique_identifiers(names: Iterable[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """Map each of ``names`` to a distinct identifier (not one of ``taken``)."""
    used = set(taken)
    out: dict[str, str] = {}
    for name in names:
        base = identifier(name)
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}_{n}"
        used.add(candidate)
        out[name] = candidate
    return out
