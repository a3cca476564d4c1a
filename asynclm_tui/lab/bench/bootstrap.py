"""95 % bootstrap intervals: resample the runs (paired runs by their index)."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence

BOOTSTRAP_SAMPLES = 2000


def bootstrap_ci95(
    n: int, statistic: Callable[[list[int]], float], *, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile interval of ``statistic`` over resampled index lists of
    ``range(n)``; None without a sample, or where the statistic is undefined
    (NaN) on more than 5 % of the resamples, so that one tail is unknown."""
    if n == 0:
        return None
    rng = random.Random(seed)
    drawn = (statistic(rng.choices(range(n), k=n)) for _ in range(BOOTSTRAP_SAMPLES))
    values = sorted(v for v in drawn if not math.isnan(v))
    if len(values) < 0.95 * BOOTSTRAP_SAMPLES:
        return None
    return values[int(0.025 * len(values))], values[int(0.975 * len(values))]


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
