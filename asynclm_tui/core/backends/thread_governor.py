"""Decode threads that make room when the CPU is busy.

llama.cpp's CPU threads meet at a barrier after every operation of every
layer.  On free cores the threads that arrive first spin there and a step is
fastest with one thread per core; when other work holds one of those cores,
the thread it displaced keeps the others waiting at every barrier, and a step
takes many times its cost (docs/contention.md).  A step on one thread has no
barrier to wait at.  So the threads of each decode call are chosen just
before it:

- the threads are the CPUs other work leaves free, never more than planned:
  the meter (:mod:`~asynclm_tui.core.backends.cpu_meter`) reads how much CPU
  other work used since its last look, at most every :data:`CHECK_S` (after
  an idle spell, what is runnable right now instead), and a CPU counts as
  free while others use less than :data:`FREE_SHARE` of it;
- a ``command:`` tool this process starts counts as a busy CPU from its start
  (the engine marks it: :func:`~asynclm_tui.core.backends.cpu_meter.tool_started`);
- a step that takes :data:`SLOW_FACTOR` times the fastest recent step at its
  thread count, :data:`SLOW_STEPS` times running, halves the threads even when
  the meter sees nothing (a VM's neighbours, a CPU-bound Python tool inside
  this process, no ``/proc``), and holds them there for :data:`HOLD_S`, twice
  as long each time the slowness comes back;
- the threads go back up once the meter saw the CPUs free :data:`UP_WINDOWS`
  windows running (and no hold is on).

Prompt and injection batches use the planned batch threads while decoding
runs at full threads, and the same fewer threads otherwise.  OpenMP's own
wait policy is left as it is (see :func:`cpu_policy`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from asynclm_tui.core.backends.cpu_meter import CpuMeter, own_busy_cpus

if TYPE_CHECKING:
    from asynclm_tui.core.backends.load_plan import ThreadChoice

CHECK_S = 0.2
"""Shortest window over which the meter measures the others' CPU use."""
STALE_S = 1.0
"""A window longer than this (decoding was idle) says little about now."""
FREE_SHARE = 0.25
"""A CPU counts as free while other work uses less than this share of it."""
SLOW_FACTOR = 4.0
"""A step this many times the fastest recent one at its thread count is slow."""
SLOW_STEPS = 2
"""Slow steps in a row that halve the threads."""
UP_WINDOWS = 2
"""Windows in a row the meter must see free CPUs before threads go back up."""
HOLD_S = 2.0
"""How long threads halved by slow steps stay down (doubles on each relapse)."""
HOLD_MAX_S = 32.0
"""Longest hold."""
RELAPSE_S = 30.0
"""Slow steps within this long of the previous halving count as a relapse."""
AGING = 1.002
"""Per step, the fastest step time remembered grows by this factor, so a
context that grows (and makes every step dearer) is never judged slow."""
OPENMP_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
"""libgomp's variables that decide how its threads wait at a barrier."""


@dataclass(frozen=True)
class Contention:
    """How the CPU treated decoding since the last report."""

    steps: int = 0
    """Decode calls (a token, a prompt, an injected result)."""
    reduced_steps: int = 0
    """Of them, run with fewer threads than planned because the CPU was busy."""
    crowded_steps: int = 0
    """Of them, run with more threads than the CPUs other work left free (the
    threads were fixed, or already one)."""
    slow_steps: int = 0
    """Single-token steps that took several times their usual cost."""
    min_threads: int = 0
    """Fewest decode threads used (0: no step)."""
    others_peak: float | None = None
    """Most CPUs other work used in one window (None: not measured)."""

    @property
    def slowed(self) -> bool:
        """Other work kept the CPU busy, and decoding ran slower for it."""
        return self.reduced_steps + self.crowded_steps > 0 or self.slow_steps >= SLOW_STEPS


@runtime_checkable
class ReportsContention(Protocol):
    """A backend whose decode threads a :class:`ThreadGovernor` chooses."""

    def take_contention(self) -> Contention:
        """What happened since the previous call (and start counting anew)."""


def take_contention(backend: object) -> Contention | None:
    """The backend's contention report, if it keeps one (in-process llama.cpp)."""
    return backend.take_contention() if isinstance(backend, ReportsContention) else None


ApplyFn = Callable[[int, int], None]
"""Sets ``(decode threads, batch threads)`` for the next decode call."""


class ThreadGovernor:
    """Chooses the threads of each decode call (see the module docstring).

    Called on the decode thread only: :meth:`before_step` just before a decode
    call, :meth:`after_step` with what it took.  With ``adaptive`` off (threads
    the user set) it only measures, for the report.
    """

    def __init__(
        self,
        full: int,
        full_batch: int,
        apply: ApplyFn,
        *,
        meter: CpuMeter | None,
        cpus: int,
        clock: Callable[[], float] = time.perf_counter,
        own_busy: Callable[[float], int] = own_busy_cpus,
        adaptive: bool = True,
    ) -> None:
        self.full, self.full_batch, self.cpus = full, full_batch, max(1, cpus)
        self.adaptive = adaptive
        self._apply, self._meter, self._clock, self._own = apply, meter, clock, own_busy
        self.threads = full
        self._window_start = clock()
        self._others: float | None = None
        self._free_windows = 0
        self._best: dict[int, float] = {}
        self._slow_run = 0
        self._hold_until = -math.inf
        self._hold = HOLD_S
        self._last_halving = -math.inf
        self._new_report()

    def _new_report(self) -> None:
        self._steps = self._reduced = self._crowded = self._slow = self._min_threads = 0
        self._peak: float | None = None

    def take_report(self) -> Contention:
        """What happened since the previous call."""
        report = Contention(
            self._steps, self._reduced, self._crowded, self._slow, self._min_threads, self._peak
        )
        self._new_report()
        return report

    # ---------------------------------------------------------- per step

    def before_step(self) -> None:
        """Choose the threads of the decode call about to run."""
        now = self._clock()
        window = now - self._window_start
        if window >= CHECK_S and self._meter is not None:
            others = self._meter.others()
            if window > STALE_S:  # the average over an idle spell says little of now
                others = self._meter.runnable_now()
            self._others, self._window_start = others, now
            if others is not None:
                self._peak = others if self._peak is None else max(self._peak, others)
            free = self._room(now) > self.threads
            self._free_windows = self._free_windows + 1 if free else 0
        target = self._room(now)
        if target < self.threads or (
            target > self.threads
            and now >= self._hold_until
            and (self._meter is None or self._free_windows >= UP_WINDOWS)
        ):
            self._set(target)
        self._steps += 1
        self._reduced += self.threads < self.full
        others = self._others or 0.0
        self._crowded += others > 0 and others + self.threads > self.cpus + FREE_SHARE
        self._min_threads = min(self._min_threads or self.threads, self.threads)

    def _room(self, now: float) -> int:
        """Threads the CPUs left free by other work (and our own tools) allow."""
        busy = float(self._own(now))
        if self._others is not None:
            busy = max(busy, self._others)
        return max(1, min(self.full, math.floor(self.cpus - busy + FREE_SHARE)))

    def after_step(self, n_tokens: int, seconds: float) -> None:
        """Record what a decode call of ``n_tokens`` took; slow single-token
        steps halve the threads (see the module docstring)."""
        if n_tokens != 1:
            return  # a batch costs more than a step: it says nothing of one
        n = self.threads
        best = self._best.get(n)
        self._best[n] = seconds if best is None else min(seconds, best * AGING)
        if best is None or seconds <= SLOW_FACTOR * best:
            self._slow_run = 0
            return
        self._slow += 1
        self._slow_run += 1
        if self._slow_run >= SLOW_STEPS and n > 1 and self.adaptive:
            now = self._clock()
            relapse = now - self._last_halving < RELAPSE_S
            self._hold = min(self._hold * 2, HOLD_MAX_S) if relapse else HOLD_S
            self._hold_until, self._last_halving = now + self._hold, now
            self._free_windows = 0
            self._set(max(1, n // 2))

    def _set(self, n: int) -> None:
        if n == self.threads or not self.adaptive:
            return
        self.threads = n
        self._slow_run = 0
        self._apply(n, self.full_batch if n >= self.full else n)


def governor_for(choice: ThreadChoice, apply: ApplyFn) -> ThreadGovernor:
    """The governor of a context loaded with ``choice`` (``apply`` sets its threads)."""
    meter = CpuMeter()
    return ThreadGovernor(
        choice.n_threads,
        choice.n_threads_batch,
        apply,
        meter=meter if meter.available else None,
        cpus=len(meter.cpus),
        adaptive=choice.adaptive,
    )


# ------------------------------------------------------------------ asynclm doctor


@dataclass(frozen=True)
class CpuPolicy:
    """How decoding shares the CPU, and why (``asynclm doctor`` prints it)."""

    threads: str
    """The threads and how they change."""
    openmp: str
    """How llama.cpp's OpenMP threads wait, and why."""

    def lines(self) -> list[str]:
        """``label: text`` lines."""
        return [f"threads under load: {self.threads}", f"OpenMP wait: {self.openmp}"]


def cpu_policy(choice: ThreadChoice, env: Mapping[str, str] = os.environ) -> CpuPolicy:
    """The policy a load with ``choice`` follows, with the reasons."""
    meter = CpuMeter()
    if choice.adaptive:
        how = (
            f"measured from /proc every {CHECK_S:g} s on this process's {len(meter.cpus)} CPU(s)"
            if meter.available
            else f"no /proc here, so only steps {SLOW_FACTOR:g}x slower than usual count"
        )
        threads = (
            f"adaptive: {choice.n_threads} decode and {choice.n_threads_batch} batch thread(s) "
            f"while the CPU is free, fewer (down to 1) while other work keeps it busy ({how}); "
            "llama.cpp's threads wait for each other after every layer, so one displaced "
            "thread stalls them all, and a single thread never waits"
        )
    else:
        threads = (
            f"fixed at {choice.n_threads} decode and {choice.n_threads_batch} batch thread(s) "
            f"({choice.why}); when other work keeps the CPU busy decoding slows, and the "
            "answer's stats say so"
        )
    user = [f"{var}={env[var]}" for var in OPENMP_VARS if env.get(var)]
    if user:
        openmp = f"{', '.join(user)} (set in the environment; asynclm sets neither)"
    else:
        why = ", since fewer threads keep a busy CPU from stalling them" if choice.adaptive else ""
        openmp = (
            "libgomp's default (spin briefly, then sleep): fastest on free cores; "
            f"asynclm sets neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT{why}"
        )
    return CpuPolicy(threads, openmp)
