"""No process of an MCP stdio server outlives its connection, or asynclm.

The SDK starts each stdio server in a session of its own (a process group
nothing else is in) and, when the connection closes, closes its stdin, waits,
then SIGTERMs and SIGKILLs the group, but only while the server itself still
runs: a child left behind by a server that exited stays, and nothing is
ended at all when asynclm exits without that shutdown (SIGTERM, a crash, an
exit that does not wait for the hub).  So each server's group is registered
with :mod:`~asynclm_tui.core.tools.process_groups` as it is spawned (whose
at-exit and SIGTERM/SIGHUP cleanup kill it), and :func:`end_groups` ends it
for good once the SDK's shutdown is over.

The SDK does not hand out the process, so its spawn function is wrapped
(``mcp`` is pinned; ``tests/mcp/test_live_stdio_groups.py`` fails if the hook
stops seeing spawns).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from asynclm_tui.core.tools import process_groups

log = logging.getLogger("asynclm.mcp")

_SPAWN = "_create_platform_compatible_process"
"""The SDK's function that starts a stdio server (``mcp.client.stdio``)."""

_spawned: ContextVar[list[int] | None] = ContextVar("asynclm_mcp_spawned", default=None)
_installed = False


def install() -> None:
    """Wrap the SDK's spawn so every stdio server's group is tracked (once)."""
    global _installed
    if _installed:
        return
    from mcp.client import stdio

    original: Callable[..., Awaitable[Any]] | None = getattr(stdio, _SPAWN, None)
    if original is None:
        log.warning("the MCP SDK changed: stdio servers' processes are not tracked")
        return

    async def spawn(*args: Any, **kwargs: Any) -> Any:
        process = await original(*args, **kwargs)
        pid = getattr(process, "pid", None)
        if isinstance(pid, int):
            # A new session: the server's pid is its group's id.
            process_groups.track(pid)
            pids = _spawned.get()
            if pids is not None:
                pids.append(pid)
        return process

    setattr(stdio, _SPAWN, spawn)
    _installed = True


def recording() -> list[int]:
    """Collect the groups of servers spawned from the calling task from now on
    (the list fills as the SDK spawns; a task's children share it)."""
    install()
    pids: list[int] = []
    _spawned.set(pids)
    return pids


async def end_groups(pids: list[int]) -> None:
    """End what is left of each group (SIGTERM, then SIGKILL after the grace
    period) and stop tracking it; at once for a group already gone.  A
    cancellation kills the rest outright."""
    try:
        while pids:
            await process_groups.end_group(pids[-1])
            pids.pop()
    finally:
        for pid in pids:
            process_groups.signal_group(pid, signal.SIGKILL)
            process_groups.untrack(pid)
        pids.clear()
