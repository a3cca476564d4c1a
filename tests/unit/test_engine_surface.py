"""Consumers use the engine only through its declared surface."""

from __future__ import annotations

import re
from pathlib import Path

from asynclm_tui.core.api.handle import EngineHandle
from asynclm_tui.core.decode.engine import Engine

PACKAGE = Path(__file__).parent.parent.parent / "asynclm_tui"
CONSUMERS = sorted(
    path
    for path in PACKAGE.rglob("*.py")
    if path.relative_to(PACKAGE).parts[0] != "core"
    or path.is_relative_to(PACKAGE / "core" / "sessions")
)
"""Everything outside the core, and the sessions recorder inside it."""
USE = re.compile(r"\bengine\.([A-Za-z_]\w*)")


def surface() -> set[str]:
    return {name for name in vars(EngineHandle) if not name.startswith("_")}


def test_every_engine_attribute_a_consumer_uses_is_on_the_protocol() -> None:
    used = {
        (path.relative_to(PACKAGE).as_posix(), name)
        for path in CONSUMERS
        for name in USE.findall(path.read_text(encoding="utf-8"))
    }
    assert used, "the scan found no engine use at all"
    outside = sorted((where, name) for where, name in used if name not in surface())
    assert outside == []


def test_the_engine_implements_exactly_the_protocol_in_public() -> None:
    public = {name for name in vars(Engine) if not name.startswith("_")}
    assert public == surface()
