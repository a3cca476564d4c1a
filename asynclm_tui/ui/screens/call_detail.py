"""One call in full: arguments, timings, what reached the model, the whole result."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from asynclm_tui.core.api.events import HeldState, format_args
from asynclm_tui.ui.delivery_words import detail_sentence
from asynclm_tui.ui.state import CallRecord, fmt_seconds


def delivery(rec: CallRecord) -> str:
    """What the model got of this call's result, in one sentence."""
    if not rec.wants_result:
        return "No result was asked for (a call without an id)."
    if rec.held is HeldState.HELD:
        return "Held back: its answer was stopped. Ctrl+G in the chat keeps it for the next answer."
    if rec.held is HeldState.DROPPED:
        return "Never given to the model: the next answer started without it."
    background = detail_sentence(rec)
    if background is not None:
        return background
    if rec.landed_t is None:
        return "Not in the model's context yet."
    if rec.cut_tokens:
        kept = rec.result_tokens - rec.cut_tokens
        return (
            f"The model saw the first {kept:,} of {rec.result_tokens:,} tokens, then the "
            f"marker … [truncated: {rec.cut_tokens:,} of {rec.result_tokens:,} tokens] "
            "(budget: max_result_tokens)."
        )
    return f"The model saw all of it ({rec.result_tokens:,} tokens)."


class CallDetailScreen(ModalScreen[None]):
    """The full result of one call (the calls panel shows a one-line preview)."""

    CSS_PATH = Path(__file__).with_name("call_detail.tcss")
    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="call.close")]

    def __init__(self, record: CallRecord) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        rec = self.record
        took = f" · took {fmt_seconds(rec.ms)}" if rec.ms is not None else ""
        head = f"{rec.id} = {rec.fn}({format_args(rec.args, rec.kwargs, 200)})"
        with Vertical(id="call-detail") as box:
            box.border_title = f"Call {rec.id} · Esc closes"
            yield Static(head, id="call-detail-head", markup=False)
            yield Static(f"{rec.status.value}{took} · turn {rec.turn}", id="call-detail-status")
            yield Static(delivery(rec), id="call-detail-delivery", markup=False)
            area = TextArea(
                rec.value or "(no output)",
                read_only=True,
                soft_wrap=True,
                show_line_numbers=False,
                id="call-detail-result",
            )
            area.border_title = f"full result · {len(rec.value):,} characters"
            yield area
