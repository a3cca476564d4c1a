"""How busy the CPU is with work other than this process's decoding.

Two readings, Linux only (``/proc``), used by the thread governor
(:mod:`~asynclm_tui.core.backends.thread_governor`):

- :meth:`CpuMeter.others`: CPU time other work used on this process's CPUs
  over a window (``/proc/stat`` less this process's own CPU time), in CPUs;
  steal time (a VM's neighbours) counts as other work;
- :meth:`CpuMeter.runnable_now`: threads of other processes ready to run at
  this instant (``/proc/loadavg`` less this process's running threads), for
  when the last window is too old to say what the CPU does now.

And the one thing the meter cannot know in time: a ``command:`` tool this
process just started (:func:`tool_started`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

TOOL_UNSEEN_S = 0.4
"""How long a tool process counts as busy before the meter has measured it
(two of the governor's windows)."""


class _OwnWork:
    """When this process's CPU-bound tools started (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, float] = {}
        self._serial = 0

    def start(self) -> int:
        with self._lock:
            self._serial += 1
            self._running[self._serial] = time.perf_counter()
            return self._serial

    def end(self, key: int) -> None:
        with self._lock:
            self._running.pop(key, None)

    def busy_cpus(self, since: float) -> int:
        """Tools started at ``since`` or later that still run."""
        with self._lock:
            return sum(1 for started in self._running.values() if started >= since)


_OWN = _OwnWork()


def tool_started() -> int:
    """A tool process of this one (a ``command:`` tool) started and may use a
    whole CPU: decoding makes room for it from its next step, before the meter
    can have measured it (see :func:`own_busy_cpus`).  Returns the key for
    :func:`tool_ended`."""
    return _OWN.start()


def tool_ended(key: int) -> None:
    """The tool process of ``key`` ended."""
    _OWN.end(key)


def own_busy_cpus(now: float) -> int:
    """Tool processes started within :data:`TOOL_UNSEEN_S` of ``now`` (a
    ``time.perf_counter`` reading) and still running: each counts as a busy CPU."""
    return _OWN.busy_cpus(now - TOOL_UNSEEN_S)


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _own_running(tasks: Path) -> int:
    """Threads of this process in the running state (``R``)."""
    count = 0
    with contextlib.suppress(OSError):
        for task in tasks.iterdir():
            with contextlib.suppress(OSError):
                stat = (task / "stat").read_text()
                # The state follows the command name, which may hold ") ".
                if stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] == "R":
                    count += 1
    return count


class CpuMeter:
    """CPU use of other work on this process's CPUs (see the module docstring)."""

    def __init__(
        self,
        cpus: frozenset[int] | None = None,
        *,
        proc: Path = Path("/proc"),
        own: Callable[[], float] = _own_cpu_seconds,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if cpus is None:
            try:
                cpus = frozenset(os.sched_getaffinity(0))
            except AttributeError:  # not Linux
                cpus = frozenset(range(os.cpu_count() or 1))
        self.cpus = cpus
        self._proc, self._own, self._clock = proc, own, clock
        self._tick = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
        self._last: tuple[float, float, float] | None = None
        self.available = self._busy_seconds() is not None
        """Whether the readings work here (Linux with ``/proc``)."""
        self.others()  # the first window starts now

    def _busy_seconds(self) -> float | None:
        """Busy seconds of this process's CPUs since boot (None: unreadable)."""
        try:
            text = (self._proc / "stat").read_text()
        except OSError:
            return None
        busy = seen = 0
        for line in text.splitlines():
            name, _, rest = line.partition(" ")
            if not name.startswith("cpu") or name == "cpu":
                continue
            try:
                if int(name[3:]) not in self.cpus:
                    continue
                f = [int(x) for x in rest.split()]
            except ValueError:
                continue
            # user nice system idle iowait irq softirq steal (guest is in user)
            busy += f[0] + f[1] + f[2] + sum(f[5:8])
            seen += 1
        return busy / self._tick if seen else None

    def others(self) -> float | None:
        """CPUs other work used since the previous call (None on the first
        call, for a window of no length, or where ``/proc`` is missing)."""
        busy = self._busy_seconds()
        if busy is None:
            return None
        now, own = self._clock(), self._own()
        last, self._last = self._last, (now, busy, own)
        if last is None or now <= last[0]:
            return None
        used = (busy - last[1]) - (own - last[2])
        return max(0.0, used / (now - last[0]))

    def runnable_now(self) -> float | None:
        """Threads of other processes ready to run right now (None: unknown)."""
        try:
            running = int((self._proc / "loadavg").read_text().split()[3].partition("/")[0])
        except (OSError, ValueError, IndexError):
            return None
        return float(max(0, running - _own_running(self._proc / "self" / "task")))
