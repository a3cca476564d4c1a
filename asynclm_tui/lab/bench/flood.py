"""A bench-only tool whose calls all finish together: a tool flood on demand.

``asynclm bench ui`` has the model start 20 ``held`` calls, then releases
them at once (:func:`release`): 20 results land within a few milliseconds
while the user types.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

TOOL_YAML = """\
name: held
description: Waits until the benchmark releases it, then returns its number.
parameters:
  type: object
  properties:
    n: {type: integer}
  required: [n]
estimated_ms: 1000
timeout_s: 120
python: asynclm_tui.lab.bench.flood:held
"""

_lock = threading.Lock()
_released = False
_gate: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None


async def held(n: int) -> str:
    """Wait for :func:`release`; returns ``n``."""
    global _gate
    loop = asyncio.get_running_loop()
    with _lock:  # checked and armed together, so a release is never missed
        if not _released:
            if _gate is None or _gate[0] is not loop:
                _gate = (loop, asyncio.Event())
            event: asyncio.Event | None = _gate[1]
        else:
            event = None
    if event is not None:
        await event.wait()
    return f"released {n}"


def release() -> None:
    """Let every ``held`` call finish now, and later ones at once (any thread)."""
    global _released
    with _lock:
        _released = True
        gate = _gate
    if gate is not None:
        loop, event = gate
        loop.call_soon_threadsafe(event.set)


def rearm() -> None:
    """Make later ``held`` calls wait again."""
    global _released, _gate
    with _lock:
        _released, _gate = False, None


def write_tool(folder: Path) -> Path:
    """Write the tool's YAML into ``folder``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "held.yaml").write_text(TOOL_YAML)
    return folder
