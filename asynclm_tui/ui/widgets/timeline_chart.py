"""A per-turn picture of decoding against each call, and the time it saved.

Lanes share one time axis: the decode lane shows prefill, decoding, paused
(waiting) spans and the decode calls that appended results (their prefill);
each call lane shows queued, running and its result landing in the context
(◆).  A call that outlived its answer runs on across the turns that follow:
its lane ends in ▸ where it goes on, and each later turn draws it again (↳)
from its left edge, in the background (━) and then held (┄) until its result
lands (◆).  The summary compares the turn's wall time with a synchronous run,
where every call would block decoding for its whole duration.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.cells import cell_len
from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.ui.state import CallRecord, ChatState, TurnRecord, clip, fmt_seconds

LABEL_WIDTH = 26
"""Cells for a lane's label: room for ``id fn(arg=value)`` of a typical call."""
TAIL_WIDTH = 10


def nice_step(span_s: float, cells: int) -> float:
    """A round tick interval giving a tick every 8-16 cells."""
    target = span_s / max(1, cells / 12)
    for step in (0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300):
        if step >= target:
            return step
    return 600.0


def call_label(call_id: str, fn: str, args: str, width: int) -> str:
    """``id fn(args)`` in ``width`` cells, arguments dropped whole rather than
    cut inside one (``ms=3000…`` would read as the wrong number)."""
    full = f"{call_id} {fn}({args})"
    if cell_len(full) <= width:
        return full
    kept = args.split(", ")
    while kept:
        kept.pop()
        shown = f"{call_id} {fn}({', '.join([*kept, '…'])})"
        if cell_len(shown) <= width:
            return shown
    return clip(f"{call_id} {fn}", width)


class TurnTimeline(Widget):
    """Timeline of one turn (kept live while the turn runs)."""

    COMPONENT_CLASSES = {
        "timeline--title",
        "timeline--axis",
        "timeline--prefill",
        "timeline--decode",
        "timeline--wait",
        "timeline--append",
        "timeline--queued",
        "timeline--running",
        "timeline--done",
        "timeline--failed",
        "timeline--land",
        "timeline--background",
        "timeline--held",
        "timeline--saved",
        "timeline--muted",
    }

    def __init__(self, state: ChatState, turn: TurnRecord, clock: Callable[[], float]) -> None:
        super().__init__(classes="turn-timeline")
        self.state = state
        self.turn = turn
        self._clock = clock
        self._carried: list[CallRecord] | None = None

    @property
    def carried(self) -> list[CallRecord]:
        """Calls of earlier answers still in the background when this turn
        started (the same calls once it has ended: kept, not searched for
        at every frame of a long chat's timeline)."""
        if self._carried is not None:
            return self._carried
        carried = self.state.carried_into(self.turn)
        if self.turn.end_t is not None:
            self._carried = carried
        return carried

    @property
    def outlived(self) -> bool:
        """Whether a lane is a call that outlived its answer (its legend shows)."""
        own = (self.state.calls[c] for c in self.turn.calls)
        return bool(self.carried) or any(c.background_t is not None for c in own)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        """Title, axis, decode lane, one lane per call, summary, legend (two
        lines with calls that outlived their answer)."""
        lanes = max(1, len(self.turn.calls) + len(self.carried))
        return 5 + lanes + self.outlived

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"timeline--{name}")

    def render(self) -> RenderableType:
        turn = self.turn
        now = self._clock()
        end = turn.end_t if turn.end_t is not None else now
        span = max(end - turn.start_t, 1e-3)
        cells = max(10, self.size.width - LABEL_WIDTH - TAIL_WIDTH - 2)
        scale = cells / span

        def col(t: float) -> int:
            return max(0, min(cells - 1, int((t - turn.start_t) * scale)))

        out = Text(no_wrap=True, overflow="crop")
        speed = f" · {turn.done.tok_s:.1f} tok/s" if turn.done else " · running"
        out.append(
            f"Turn {turn.number} · {turn.mode} · {fmt_seconds(span * 1000)} wall · "
            f"{turn.n_tokens} tokens{speed}\n",
            self._style("title"),
        )
        out.append(self._axis(span, cells) + "\n", self._style("axis"))

        # Decode lane: prefill, then decoding except where paused.
        lane: list[str] = [" "] * cells
        kinds: list[str] = ["muted"] * cells
        prefill_end = turn.prefill_t if turn.prefill_t is not None else end
        for c in range(col(turn.start_t), col(prefill_end) + 1):
            lane[c], kinds[c] = "▒", "prefill"
        if turn.prefill_t is not None:
            for c in range(col(turn.prefill_t), col(end) + 1):
                lane[c], kinds[c] = "█", "decode"
        for start, stop, _ in turn.pauses:
            for c in range(col(start), col(stop if stop is not None else now) + 1):
                lane[c], kinds[c] = "░", "wait"
        for start, stop in turn.appends:
            for c in range(col(start), col(stop) + 1):
                lane[c], kinds[c] = "▓", "append"
        self._lane(out, "decode", lane, kinds, "")

        for call_id in turn.calls:
            call = self.state.calls[call_id]
            lane = [" "] * cells
            kinds = ["muted"] * cells
            started = call.started_t if call.started_t is not None else now
            stop = call.finished_t if call.finished_t is not None else now
            for c in range(col(call.issued_t), col(min(started, stop)) + 1):
                lane[c], kinds[c] = "·", "queued"
            ok_kind = "done" if call.status is CallStatus.DONE else "failed"
            run_kind = ok_kind if call.status.finished else "running"
            if call.started_t is not None:
                for c in range(col(call.started_t), col(stop) + 1):
                    lane[c], kinds[c] = "━", run_kind
            if call.landed_t is not None and call.landed_t <= end:  # (kept: a later turn)
                c = col(call.landed_t)
                lane[c], kinds[c] = "◆", "land"
            elif call.background_t is not None and call.held is None:
                lane[-1], kinds[-1] = "▸", "background"  # it goes on after this answer
            label = call_label(call.id, call.fn, call.signature(LABEL_WIDTH), LABEL_WIDTH - 2)
            self._lane(out, label, lane, kinds, fmt_seconds(call.elapsed_ms(now)))
        carried = self.carried
        for call in carried:
            lane, kinds = self._carried_lane(call, cells, col, (turn.start_t, end))
            label = call_label(call.id, call.fn, call.signature(LABEL_WIDTH), LABEL_WIDTH - 4)
            self._lane(out, f"↳ {label}", lane, kinds, fmt_seconds(call.elapsed_ms(now)))
        if not turn.calls and not carried:
            out.append(" " * LABEL_WIDTH + "(no calls this turn)\n", self._style("muted"))

        s = self.state.savings(turn, now)
        out.append(" " * LABEL_WIDTH)
        if turn.calls:
            out.append(
                f"saved {fmt_seconds(s.saved_ms)} ({s.saved_fraction:.0%})",
                self._style("saved"),
            )
            out.append(
                f" · sync would take ~{fmt_seconds(s.sync_ms)}, took "
                f"{fmt_seconds(s.actual_ms)} · calls {fmt_seconds(s.calls_ms)}, "
                f"waited {fmt_seconds(s.waited_ms)}\n",
                self._style("muted"),
            )
        else:
            own = "no calls of its own (↳: an earlier answer's)"
            out.append(f"{own if carried else 'nothing to overlap'}\n", self._style("muted"))
        out.append(" " * LABEL_WIDTH)
        for glyph, name, label in (
            ("▒", "prefill", "prefill"),
            ("█", "decode", "decoding"),
            ("░", "wait", "waiting"),
            ("▓", "append", "appending"),
            ("·", "queued", "queued"),
            ("━", "running", "running"),
            ("━", "done", "done"),
            ("━", "failed", "failed"),
            ("◆", "land", "result landed"),
        ):
            out.append(glyph, self._style(name))
            out.append(f" {label}  ", self._style("muted"))
        if self.outlived:
            out.append("\n" + " " * LABEL_WIDTH)
            for glyph, name, label in (
                ("▸", "background", "goes on after the answer"),
                ("↳", "muted", "from an earlier answer"),
                ("━", "background", "in the background"),
                ("┄", "held", "result held"),
            ):
                out.append(glyph, self._style(name))
                out.append(f" {label}  ", self._style("muted"))
        return out

    @staticmethod
    def _carried_lane(
        call: CallRecord, cells: int, col: Callable[[float], int], span: tuple[float, float]
    ) -> tuple[list[str], list[str]]:
        """The lane of a call carried in from an earlier answer (``span``:
        this turn's start and end): running in the background from the left
        edge, then held, until it lands."""
        start, end = span
        lane = ["━"] * cells
        kinds = ["background"] * cells
        if call.finished_t is not None and call.finished_t <= end:
            first = 0 if call.finished_t <= start else col(call.finished_t) + 1
            for c in range(first, cells):
                lane[c], kinds[c] = "┄", "held"
        if call.landed_t is not None and call.landed_t <= end:
            landed = col(call.landed_t)
            lane[landed], kinds[landed] = "◆", "land"
            for c in range(landed + 1, cells):
                lane[c], kinds[c] = " ", "muted"
        else:
            lane[-1] = "▸"  # still not delivered when this turn ended (or now)
        return lane, kinds

    def _axis(self, span: float, cells: int) -> str:
        step = nice_step(span, cells)
        axis = [" "] * (cells + TAIL_WIDTH)
        t = 0.0
        while t <= span + 1e-9:
            c = int(t / span * cells) if span else 0
            label = f"{t:g}s"
            if c + len(label) <= len(axis):
                axis[c : c + len(label)] = list(label)
            t += step
        return " " * LABEL_WIDTH + "".join(axis)

    def _lane(self, out: Text, label: str, lane: list[str], kinds: list[str], tail: str) -> None:
        label = label if len(label) < LABEL_WIDTH - 1 else label[: LABEL_WIDTH - 2] + "…"
        out.append(f"{label:<{LABEL_WIDTH - 1}}▕", self._style("muted"))
        start = 0
        for i in range(1, len(lane) + 1):
            if i == len(lane) or kinds[i] != kinds[start]:
                out.append("".join(lane[start:i]), self._style(kinds[start]))
                start = i
        out.append(f"▏{tail:>{TAIL_WIDTH - 1}}\n", self._style("muted"))
