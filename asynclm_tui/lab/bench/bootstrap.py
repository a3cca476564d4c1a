"""95 % bootstrap intervals: resample the runs (paired runs by their index)."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence

BOOTSTRAP_SAMPLES = 2000


def bootstrap_ci95(
    n: int, statistic: Callable[[list[int]], float], *, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile interval of ``statistic`` over resampled index lists of
    ``range(n)`` (None without a sample)."""
    if n == 0:
        return None
    rng = random.Random(seed)
    values = sorted(statistic(rng.choices(range(n), k=n)) for _ in range(BOOTSTRAP_SAMPLES))
    return values[int(0.025 * BOOTSTRAP_SAMPLES)], values[int(0.975 * BOOTSTRAP_SAMPLES)]


def median_ci95(values: Sequence[float]) -> tuple[float, float] | None:
    """95 % interval of the median (the same sample, the same interval)."""
    return bootstrap_ci95(len(values), lambda idx: statistics.median(values[i] for i in idx))


def ratio_ci95(num: Sequence[float], den: Sequence[float]) -> tuple[float, float] | None:
    """95 % interval of mean(num) / mean(den) for paired samples (task i of
    one strategy against task i of another)."""
    if len(num) != len(den) or not num or min(den) <= 0:
        return None

    def ratio(idx: list[int]) -> float:
        return sum(num[i] for i in idx) / sum(den[i] for i in idx)

    return bootstrap_ci95(len(num), ratio)
