"""``asynclm bench ui``'s arithmetic: windows, frames, key latencies, targets.

No Textual and no model here, so the numbers the bench reports are tested
on their own (tests/bench/test_bench_ui.py).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Protocol

from asynclm_tui.lab.bench.bfcl.report import percentile
from asynclm_tui.lab.bench.bootstrap import median_ci95

GAP_P95_SPARE_CORE_MS = 80.0
"""Target: p95 gap between visible updates with a core left for the UI."""
GAP_P95_NO_SPARE_CORE_MS = 250.0
"""The same when llama.cpp's threads take every core (4 updates/s or more)."""
RATIO_SPARE_CORE = 0.97
"""Target: TUI / headless tok/s with a core left for the UI..."""
RATIO_NO_SPARE_CORE = 0.93
"""...and when every core decodes."""
KEY_P95_MS = 30.0
KEY_MAX_MS = 100.0
"""Targets: key to screen, while decoding, in a tool flood and during load."""


@dataclass
class Window:
    """One stretch of a turn with the UI attached or detached."""

    attached: bool
    start: float
    end: float = 0.0
    tokens: int = 0
    ui_cpu_s: float = 0.0
    """CPU time of the UI thread during the window."""
    frames: list[float] = field(default_factory=list)
    """When a screen update showed more of the answer (attached windows)."""

    @property
    def seconds(self) -> float:
        """Length of the window."""
        return self.end - self.start

    @property
    def tok_s(self) -> float:
        """Decoding rate inside the window."""
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def gaps_ms(self) -> list[float]:
        """Time between two visible updates in this window, the first counted
        from its start (which follows a render); a window that showed nothing
        is one gap.  The stretch after the last update is cut by the switch,
        so it is left out."""
        if not self.attached:
            return []
        frames = sorted(t for t in self.frames if self.start <= t <= self.end)
        times = [self.start, *frames] if frames else [self.start, self.end]
        return [(b - a) * 1000 for a, b in zip(times, times[1:], strict=False)]


def summary(values: list[float]) -> dict[str, float | int | None]:
    """``n``, ``p50``, ``p95`` and ``max`` of a sample (null without one)."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "max": round(max(values), 2),
    }


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


class Comparison(Protocol):
    """A measured comparison reported with a setting's results
    (``ui_background.BackgroundResult``)."""

    def checks(self, key_p95_ms: float, key_max_ms: float) -> dict[str, bool | None]:
        """Its targets, each met or not (null where nothing was measured)."""
        ...

    def to_json(self, key_p95_ms: float, key_max_ms: float) -> dict[str, Any]:
        """Its part of the setting's JSON."""
        ...


@dataclass
class ThreadsResult:
    """What ``bench ui`` measured with llama.cpp on ``threads`` of ``cpus`` CPUs."""

    threads: int
    cpus: int
    window_s: float = 0.0
    n_tokens: int = 0
    watching: list[Window] = field(default_factory=list)
    typing: list[Window] = field(default_factory=list)
    watch_pairs: list[float] = field(default_factory=list)
    """Attached / detached rate of neighbouring windows, user watching."""
    typing_pairs: list[float] = field(default_factory=list)
    keys_decoding_ms: list[float] = field(default_factory=list)
    keys_flood_ms: list[float] = field(default_factory=list)
    keys_load_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    """Message to first token, per turn; the first is the first after launch."""
    background: Comparison | None = None
    """The next message with and without calls running in the background."""

    @property
    def spare_core(self) -> bool:
        """A core is left over for the UI."""
        return self.threads < self.cpus

    def add_turn(self, windows: list[Window], typing: bool) -> None:
        """Record one turn's windows and pair its neighbours."""
        # A turn's last window is cut short by the end of the text: too few
        # tokens to rate.
        kept = [w for w in windows if w.seconds >= self.window_s / 2 and w.tokens]
        (self.typing if typing else self.watching).extend(kept)
        pairs = self.typing_pairs if typing else self.watch_pairs
        for a, b in zip(kept, kept[1:], strict=False):
            if a.attached != b.attached:
                on, off = (a, b) if a.attached else (b, a)
                pairs.append(on.tok_s / off.tok_s)

    @property
    def ratio(self) -> float | None:
        """Median attached / detached rate over neighbouring windows, watching."""
        return statistics.median(self.watch_pairs) if self.watch_pairs else None

    def gaps_ms(self) -> list[float]:
        """Gaps between visible updates in the attached windows, watching."""
        return [g for w in self.watching for g in w.gaps_ms()]

    def updates_per_s(self) -> float | None:
        """Visible updates per second in the attached windows, watching."""
        attached = [w for w in self.watching if w.attached]
        seconds = sum(w.seconds for w in attached)
        return sum(len(w.frames) for w in attached) / seconds if seconds else None

    @staticmethod
    def _rate(windows: list[Window], attached: bool) -> float | None:
        chosen = [w for w in windows if w.attached == attached]
        seconds = sum(w.seconds for w in chosen)
        return sum(w.tokens for w in chosen) / seconds if seconds else None

    @staticmethod
    def _cpu(windows: list[Window], attached: bool) -> float | None:
        chosen = [w for w in windows if w.attached == attached]
        seconds = sum(w.seconds for w in chosen)
        return sum(w.ui_cpu_s for w in chosen) / seconds if seconds else None

    def targets(self) -> dict[str, float]:
        """The issue's targets for this machine shape."""
        spare = self.spare_core
        return {
            "gap_p95_ms": GAP_P95_SPARE_CORE_MS if spare else GAP_P95_NO_SPARE_CORE_MS,
            "ratio": RATIO_SPARE_CORE if spare else RATIO_NO_SPARE_CORE,
            "key_p95_ms": KEY_P95_MS,
            "key_max_ms": KEY_MAX_MS,
        }

    def checks(self) -> dict[str, bool | None]:
        """Each target met (null where nothing was measured)."""
        target = self.targets()
        gaps = summary(self.gaps_ms())
        out: dict[str, bool | None] = {
            "gap_p95": None if gaps["p95"] is None else gaps["p95"] <= target["gap_p95_ms"],
            "ratio": None if self.ratio is None else self.ratio >= target["ratio"],
        }
        for name, values in (
            ("keys_decoding", self.keys_decoding_ms),
            ("keys_flood", self.keys_flood_ms),
            ("keys_load", self.keys_load_ms),
        ):
            p95, top = summary(values)["p95"], summary(values)["max"]
            out[name] = (
                None
                if p95 is None or top is None
                else p95 <= target["key_p95_ms"] and top <= target["key_max_ms"]
            )
        if self.background is not None:
            out |= self.background.checks(target["key_p95_ms"], target["key_max_ms"])
        return out

    def to_json(self) -> dict[str, Any]:
        """This setting's part of the ``--json`` object (no NaN: null)."""
        both = self.watching + self.typing
        ci = median_ci95(self.watch_pairs)
        return {
            "threads": self.threads,
            "cpus": self.cpus,
            "spare_core": self.spare_core,
            "n_tokens": self.n_tokens,
            "window_s": round(self.window_s, 2),
            "visible_updates_per_s": _rounded(self.updates_per_s(), 2),
            "visible_gap_ms": summary(self.gaps_ms()),
            "detached_tok_s": _rounded(self._rate(both, False), 2),
            "tui_tok_s": _rounded(self._rate(self.watching, True), 2),
            "typing_tok_s": _rounded(self._rate(self.typing, True), 2),
            "pairs": len(self.watch_pairs),
            "ratio": _rounded(self.ratio, 4),
            "ratio_ci95": None if ci is None else [round(x, 4) for x in ci],
            "typing_ratio": _rounded(
                statistics.median(self.typing_pairs) if self.typing_pairs else None, 4
            ),
            "key_ms_decoding": summary(self.keys_decoding_ms),
            "key_ms_tool_flood": summary(self.keys_flood_ms),
            "key_ms_model_load": summary(self.keys_load_ms),
            "ttft_ms_first_turn": _rounded(self.ttft_ms[0], 1) if self.ttft_ms else None,
            "ttft_ms_later_turns": summary(self.ttft_ms[1:]),
            "ui_cpu_share_watching": _rounded(self._cpu(self.watching, True), 4),
            "ui_cpu_share_detached": _rounded(self._cpu(both, False), 4),
            "background": (
                None if self.background is None else self.background.to_json(KEY_P95_MS, KEY_MAX_MS)
            ),
            "targets": self.targets(),
            "met": self.checks(),
        }
