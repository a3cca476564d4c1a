"""Function execution times: deterministic draws in the paper's 30-500 ms range.

The paper gives only the range (30-500 ms) and the mean (110 ms).  Each call's
time is 30 ms plus an exponential of mean 80 ms, truncated at 500 ms (by
inverting the truncated CDF, so there is no spike at the cap); the mean comes
out at about 110 ms.  A draw depends only on (task id, call index, seed), so
every strategy of a task waits exactly as long for the same call.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

MIN_MS = 30.0
MAX_MS = 500.0
EXP_MEAN_MS = 80.0


def unit(*parts: object) -> float:
    """A uniform number in [0, 1) from the hash of ``parts`` (stable across
    runs and Python versions, unlike ``hash``)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class LatencyModel:
    """Draws per-call execution times in milliseconds."""

    seed: int = 0
    min_ms: float = MIN_MS
    max_ms: float = MAX_MS
    exp_mean_ms: float = EXP_MEAN_MS

    def duration_ms(self, task_id: str, index: int) -> float:
        """Execution time of call ``index`` of ``task_id``."""
        u = unit("latency", self.seed, task_id, index)
        span = self.max_ms - self.min_ms
        keep = 1.0 - math.exp(-span / self.exp_mean_ms)  # mass below the cap
        return self.min_ms - self.exp_mean_ms * math.log(1.0 - u * keep)

    def expected_mean_ms(self) -> float:
        """The distribution's exact mean (for docs and tests)."""
        span = self.max_ms - self.min_ms
        lam = 1.0 / self.exp_mean_ms
        tail = math.exp(-lam * span)
        return self.min_ms + self.exp_mean_ms - span * tail / (1.0 - tail)
