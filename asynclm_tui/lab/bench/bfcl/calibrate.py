"""What one decode call costs on this machine, measured in the benchmark's run.

A decode call appends ``k`` tokens at context length ``n`` and samples the
next token: ``k = 1`` is a plain decode step, ``k > 1`` a step that carries an
interrupt (or a prefill).  :func:`calibrate` measures it on a grid of ``k``
and ``n`` on the thread that owns the model, before any run, and fits

    cost(k, n) = s0 + s1 n + a0 (k - 1) + a1 (k - 1) n

by least squares (numbers in ms, ``n`` in thousands of tokens) to report it in a few
numbers.  The bounds (:mod:`asynclm_tui.lab.bench.bfcl.bound`) charge every token
and every interrupt the measured cost (cell medians, interpolated) and
nothing else.
"""

from __future__ import annotations

import bisect
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from asynclm_tui.core.backends.base import Backend, SamplingParams

APPEND_SIZES = (1, 2, 4, 8, 12, 32, 128, 512)
"""``k``: a decode step; a sampled token with a jump-forward run (2-8); a
minimal interrupt, a typical one, a long one, a prefill."""
FILLER = " The quick brown fox jumps over the lazy dog while the band plays on."
MAX_POSITION = 1536
"""Context lengths are measured up to here (or the window, less room for
the largest append): the benchmark's prompts with their answers (150-1200
tokens here) stay inside it; beyond, the fit extrapolates."""
LONG_APPEND = 12
"""From this many tokens an append is an interrupt or a prefill (scaled by
the run's own appends, :meth:`CostModel.scaled`); below, a decode step."""
STEPS_BEFORE = 3
"""Plain steps before each measured append, as in a turn: llama.cpp builds a
new compute graph when the batch size changes, so a step right after a large
append (or an append right after another) costs more than it does in a turn."""


@dataclass(frozen=True)
class CalibrationPlan:
    """How much to measure: appends per (k, n) cell, fewer for the costly sizes."""

    repeats: tuple[int, ...] = (5, 5, 5, 5, 5, 3, 2)
    """Per size of :data:`APPEND_SIZES` beyond the first (each follows two steps,
    which are the ``k = 1`` samples)."""
    positions: int = 3
    warmup: int = 2
    """Untimed passes over every size first: the first calls of a cold
    process run slower than the same calls later (docs/benchmarks.md)."""


QUICK_PLAN = CalibrationPlan(repeats=(3, 3, 3, 3, 3, 2, 1))


@dataclass(frozen=True)
class Sample:
    """One measured decode call."""

    k: int
    n: int
    ms: float


def _interp(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    """Piecewise-linear through (xs, ys), extended linearly past both ends."""
    if len(xs) == 1:
        return ys[0]
    i = max(1, min(len(xs) - 1, bisect.bisect_left(xs, x)))
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


@dataclass(frozen=True)
class CostModel:
    """The cost of one decode call: the measured cell medians, interpolated
    (piecewise linear in ``k``, then in ``n``), and a linear fit that sums
    them up for the report."""

    ks: tuple[int, ...]
    ns: tuple[int, ...]
    medians: tuple[tuple[float, ...], ...]
    """``medians[i][j]``: ms to append ``ks[i]`` tokens at ``ns[j]`` and sample."""
    fit: tuple[float, float, float, float]
    """``(s0, s1, a0, a1)`` of ``s0 + s1 n + (k - 1)(a0 + a1 n)``, n in thousands."""
    step_noise: float
    """How much faster than the median a plain step ran: 1 - p10/median of the
    ``k = 1`` samples, worst over the context lengths measured."""
    max_residual: float
    """Largest relative gap between a cell's median and the linear fit."""

    def cost_ms(self, k: int, n: int) -> float:
        """A decode call that appends ``k`` tokens after ``n`` and samples."""
        at_n = [_interp(self.ks, [row[j] for row in self.medians], k) for j in range(len(self.ns))]
        return max(0.0, _interp(self.ns, at_n, n))

    def scaled(self, level: float, append_level: float | None = None) -> CostModel:
        """The cells of steps (``k`` below :data:`LONG_APPEND`) times ``level``
        and those of longer appends times ``append_level`` (default: the
        same): the machine ran that much slower or faster, and a busy machine
        slows a decode step and a long append by different factors."""
        long = level if append_level is None else append_level
        medians = tuple(
            tuple(m * (long if k >= LONG_APPEND else level) for m in row)
            for k, row in zip(self.ks, self.medians, strict=True)
        )
        s0, s1, a0, a1 = self.fit
        fit = (s0 * level, s1 * level, a0 * long, a1 * long)
        return CostModel(self.ks, self.ns, medians, fit, self.step_noise, self.max_residual)

    def level_of(self, steps: Sequence[tuple[float, int]]) -> float:
        """How much slower than calibrated a run's plain steps ran: the median
        over its measured ``(ms, n)`` steps of ``ms`` over the calibrated step
        at that ``n`` (1.0 with fewer than five)."""
        ratios = [ms / self.cost_ms(1, n) for ms, n in steps if self.cost_ms(1, n) > 0]
        return statistics.median(ratios) if len(ratios) >= 5 else 1.0

    def append_level_of(self, samples: Sequence[tuple[int, int, float]]) -> float | None:
        """The same for long appends: the median over measured ``(k, n, ms)``
        appends of ``ms`` over the calibrated cost (None without one).  An
        append's measured time leaves out sampling the next token, so this
        errs low, as a floor should."""
        ratios = [
            ms / self.cost_ms(k, n)
            for k, n, ms in samples
            if k >= LONG_APPEND and ms > 0 and self.cost_ms(k, n) > 0
        ]
        return statistics.median(ratios) if ratios else None

    def steps_ms(self, count: int, n: int) -> float:
        """``count`` plain steps starting at context length ``n``."""
        if count <= 0:
            return 0.0
        # A step's cost is close to linear in n: count steps at the middle length.
        return count * self.cost_ms(1, n + (count - 1) // 2)

    def to_json(self) -> dict[str, object]:
        """The ``calibration`` object of ``--json``."""
        s0, s1, a0, a1 = self.fit
        return {
            "bound_uses": "the cell medians, interpolated piecewise linearly in k, then in n",
            "fit": "cost_ms(k, n) = s0 + s1*n + (k-1)*(a0 + a1*n), n in thousands of tokens",
            "s0": round(s0, 4),
            "s1": round(s1, 4),
            "a0": round(a0, 5),
            "a1": round(a1, 5),
            "step_ms_at_1k": round(self.cost_ms(1, 1000), 3),
            "append_ms_per_token_at_1k": round(a0 + a1, 4),
            "step_noise": round(self.step_noise, 4),
            "max_residual": round(self.max_residual, 4),
            "cells": [
                {
                    "k": k,
                    "n": n,
                    "median_ms": round(self.medians[i][j], 3),
                    "fit_ms": round(_linear(self.fit, k, n), 3),
                }
                for i, k in enumerate(self.ks)
                for j, n in enumerate(self.ns)
            ],
        }


def _linear(coef: tuple[float, float, float, float], k: int, n: int) -> float:
    s0, s1, a0, a1 = coef
    return s0 + s1 * n / 1000 + (k - 1) * (a0 + a1 * n / 1000)


def positions(n_ctx: int, count: int) -> list[int]:
    """``count`` context lengths from 128 to the largest one measured."""
    top = max(256, min(MAX_POSITION, n_ctx - max(APPEND_SIZES) - 8))
    if count < 2:
        return [top]
    return [round(128 + (top - 128) * i / (count - 1)) for i in range(count)]


def calibrate(
    backend: Backend, sampling: SamplingParams, plan: CalibrationPlan = CalibrationPlan()
) -> CostModel:
    """Measure with the runs' sampler settings and fit; leaves the KV cache
    empty.  Must run on the thread that owns ``backend`` while nothing else
    uses it."""
    ns = positions(backend.info.n_ctx, plan.positions)
    need = ns[-1] + max(APPEND_SIZES)
    filler = backend.tokenize(FILLER)
    tokens = (filler * (need // len(filler) + 1))[:need]
    backend.start_sampling(sampling)
    samples: list[Sample] = []
    backend.truncate(0)
    try:
        for _ in range(plan.warmup):
            backend.append(tokens[: ns[0]])
            for k in APPEND_SIZES:
                _timed(backend, tokens[ns[0] : ns[0] + k])
                backend.truncate(ns[0])
            backend.truncate(0)
        for n in ns:
            backend.append(tokens[backend.n_past : n])  # extend to n (not timed)
            for rep in range(max(plan.repeats)):
                # Sizes interleaved, so a burst of foreign load hits every size.
                for k, times in zip(APPEND_SIZES[1:], plan.repeats, strict=True):
                    if rep >= times:
                        continue
                    for i in range(STEPS_BEFORE):
                        ms = _timed(backend, tokens[n + i : n + i + 1])
                        if i:  # the first follows the previous append
                            samples.append(Sample(1, n, ms))
                    backend.truncate(n)
                    samples.append(Sample(k, n, _timed(backend, tokens[n : n + k])))
                    backend.truncate(n)
    finally:
        backend.truncate(0)
    return fit(samples)


def _timed(backend: Backend, tokens: Sequence[int]) -> float:
    """One decode call as a turn makes it: append, sample, accept; in ms."""
    t0 = time.perf_counter()
    backend.append(tokens)
    token = backend.sample()
    ms = (time.perf_counter() - t0) * 1000
    backend.accept(token)
    return ms


def fit(samples: Sequence[Sample]) -> CostModel:
    """The cost model of ``samples``: cell medians (one stall must not move
    them) on a full grid of sizes and context lengths, and their fit.

    Raises:
        ValueError: a (k, n) cell of the grid has no sample.
    """
    import numpy

    cells: dict[tuple[int, int], list[float]] = {}
    for s in samples:
        cells.setdefault((s.k, s.n), []).append(s.ms)
    ks = sorted({k for k, _ in cells})
    ns = sorted({n for _, n in cells})
    if any((k, n) not in cells for k in ks for n in ns):
        raise ValueError("calibration: every size needs a sample at every context length")
    medians = tuple(tuple(statistics.median(cells[k, n]) for n in ns) for k in ks)
    keys = [(k, n) for k in ks for n in ns]
    target = numpy.array([medians[ks.index(k)][ns.index(n)] for k, n in keys])
    rows = numpy.array([[1.0, n / 1000, k - 1, (k - 1) * n / 1000] for k, n in keys])
    # Relative errors matter (a 10 ms step and a 2 s prefill alike): weight by 1/median.
    weights = 1.0 / numpy.maximum(target, 1e-3)
    coef = numpy.linalg.lstsq(rows * weights[:, None], target * weights, rcond=None)[0]
    s0, s1, a0, a1 = (float(c) for c in coef)
    residual = max(
        abs(_linear((s0, s1, a0, a1), k, n) - float(m)) / float(m)
        for (k, n), m in zip(keys, target, strict=True)
    )
    noise = 0.0
    for (k, _n), values in cells.items():
        if k == 1 and len(values) >= 10:
            p10 = statistics.quantiles(values, n=10)[0]
            noise = max(noise, 1.0 - p10 / statistics.median(values))
    return CostModel(tuple(ks), tuple(ns), medians, (s0, s1, a0, a1), noise, residual)
