"""Process groups of running tools: ended on time, and never left behind.

Every command a tool runs starts a new session, so it and whatever it starts
share one process group that nothing else is in.  Ending a call ends the
whole group: SIGTERM, then SIGKILL once :data:`KILL_GRACE_S` has passed.
Every live group is listed here, so :func:`kill_all` (run at interpreter
exit, and before SIGTERM or SIGHUP end the process the default way) leaves
no process of a call behind, whatever state the event loop is in.  A group
of its own also means the terminal's signals (Ctrl+C, a closed window) no
longer reach tools directly: these exits are what ends them.

MCP stdio servers and any later runner that starts processes register their
groups here the same way (:func:`track`, :func:`end_group`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import threading
import time
from types import FrameType

KILL_GRACE_S = 0.5
"""Time a group has to exit after SIGTERM before it gets SIGKILL; a tool that
ignores SIGTERM returns by its ``timeout_s`` plus this."""
POLL_S = 0.01
"""How often a terminating group is checked for having exited."""

_live: set[int] = set()
_lock = threading.Lock()


def track(pgid: int) -> None:
    """Remember a live process group (its leader's pid)."""
    with _lock:
        _live.add(pgid)


def untrack(pgid: int) -> None:
    """Forget a group that has been ended."""
    with _lock:
        _live.discard(pgid)


def live_groups() -> frozenset[int]:
    """The groups started and not yet ended."""
    with _lock:
        return frozenset(_live)


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when no process is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # the pgid was reused by someone else's group
        return False
    return True


def group_alive(pgid: int) -> bool:
    """True while a process of the group is still running.

    A killed process whose new parent does not reap it (PID 1 in some
    containers) stays a zombie in its group: dead, so it does not count.
    Without ``/proc``, any member counts.
    """
    if not signal_group(pgid, 0):
        return False
    members = running_members(pgid)
    return members is None or bool(members)


def running_members(pgid: int) -> list[int] | None:
    """Pids of the group's processes that are not zombies (None: no ``/proc``)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    found = []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:  # it ended meanwhile
            continue
        # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            found.append(int(entry))
    return found


async def end_group(pgid: int, grace: float = KILL_GRACE_S) -> None:
    """SIGTERM the group, SIGKILL it if anything is left after ``grace``.

    A second cancellation while waiting goes straight to SIGKILL, so the
    group never outlives this call either way.
    """
    try:
        if signal_group(pgid, signal.SIGTERM):
            deadline = time.monotonic() + grace
            while group_alive(pgid) and time.monotonic() < deadline:
                await asyncio.sleep(POLL_S)
    finally:
        signal_group(pgid, signal.SIGKILL)
        untrack(pgid)


def kill_all() -> int:
    """SIGKILL every live group at once (exit paths, where nothing may wait);
    returns how many groups still had processes."""
    with _lock:
        groups = list(_live)
        _live.clear()
    return sum(signal_group(pgid, signal.SIGKILL) for pgid in groups)


def _at_exit() -> None:
    with contextlib.suppress(Exception):  # the interpreter is going regardless
        kill_all()


def _on_fatal_signal(signum: int, frame: FrameType | None) -> None:
    """End the groups, then die of the signal as if no handler were set."""
    _at_exit()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install_signal_cleanup() -> None:
    """End the groups before SIGTERM or SIGHUP kill the process, where those
    signals still do their default (a front end that handles them itself
    calls :func:`kill_all` on its way out).  Only the main thread can."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _on_fatal_signal)


atexit.register(_at_exit)
install_signal_cleanup()
