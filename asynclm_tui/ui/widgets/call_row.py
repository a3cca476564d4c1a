"""One row of the calls panel: status line, timer bar, result preview, a
line about its delivery, approval buttons.

Rows render from :class:`~asynclm_tui.ui.state.CallRecord` objects owned by the
app's :class:`~asynclm_tui.ui.state.ChatState`; a row only reads its record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

from asynclm_tui.core.api.enums import CallStatus, DeliverIdle
from asynclm_tui.core.api.events import HeldState
from asynclm_tui.ui.delivery_words import delivery_label, held_line
from asynclm_tui.ui.state import CallRecord, fmt_seconds

STATUS_ICONS = {
    CallStatus.COLLECTED: "◌",
    CallStatus.QUEUED: "◌",
    CallStatus.AWAITING_APPROVAL: "?",
    CallStatus.RUNNING: "▶",
    CallStatus.DONE: "✓",
    CallStatus.FAILED: "✗",
    CallStatus.CANCELLED: "⊘",
    CallStatus.TIMED_OUT: "⌛",
    CallStatus.DENIED: "⊘",
}

BAR_WIDTH = 12
PREVIEW_CHARS = 60
"""A finished call's preview: two lines in a narrow panel (Enter shows it all)."""


def progress_bar(elapsed_ms: float, estimate_ms: float, width: int = BAR_WIDTH) -> tuple[str, str]:
    """A bar of ``elapsed / estimate`` and the part beyond the estimate.

    Returns the filled-and-empty bar and a marker for overrun (``+`` cells are
    shown in the warning colour by the caller).
    """
    if estimate_ms <= 0:
        return "─" * width, ""
    fraction = elapsed_ms / estimate_ms
    filled = min(width, int(fraction * width))
    bar = "█" * filled + "░" * (width - filled)
    return bar, ("»" if fraction > 1 else "")


def slug(status: CallStatus) -> str:
    """CSS-friendly status name: ``awaiting approval`` -> ``awaiting-approval``."""
    return status.value.replace(" ", "-")


def css_id(call_id: str) -> str:
    """Call ids may hold ``~`` (anonymous calls); keep DOM ids valid."""
    return "".join(ch if ch.isalnum() or ch in "_-" else f"_{ord(ch)}_" for ch in call_id)


def note_line(rec: CallRecord) -> tuple[str, str]:
    """The row's line about delivery and its style class ('' when none):
    in the background, a result waiting, or where an outlived call's
    result went."""
    held = held_line(rec) if rec.in_background else ""
    if held:
        return held, "-notify" if rec.result_held is DeliverIdle.NOTIFY else "-held"
    label = delivery_label(rec)
    if rec.in_background and rec.status.finished:  # (asynclm quit while it ran)
        return f"{rec.status.value}: the model is told with your next message", "-held"
    if rec.in_background:
        return (
            f"in background · when done: {label or 'its tool decides'} · r changes",
            "-background",
        )
    if rec.background_t is not None and rec.landed_turn is not None:
        return f"outlived its answer · result went into turn {rec.landed_turn}", "-delivered"
    if label and not rec.status.finished and rec.held is None:
        return f"if it outlives the answer: {label}", "-background"
    return "", ""


@dataclass
class CallDecision(Message):
    """The user answered an approval: ``once``, ``always`` (this tool),
    ``server`` (every tool of the call's MCP server) or ``deny``."""

    call_id: str
    decision: str
    tool: str = ""
    """The call's tool, for remembering an MCP approval."""


class CallRow(Vertical):
    """One call: status line, timer bar, result preview, delivery, approval buttons."""

    def __init__(self, record: CallRecord, is_mcp_tool: Callable[[str], bool]) -> None:
        super().__init__(classes="call-row", id=f"call-{css_id(record.id)}")
        self.record = record
        self._is_mcp_tool = is_mcp_tool
        self._body = Static("", classes="call-body", markup=False)
        self._note = Static("", classes="call-note", markup=False)
        self._note.display = False
        self._note_text = ("", "")
        self._lines = -1
        self._text: Text | None = None
        self._status: CallStatus | None = None
        self._approval: Horizontal | None = None
        """The approval buttons, only while the call awaits approval: four
        widgets on every finished row slowed the opening of a long chat."""

    def compose(self) -> ComposeResult:
        yield self._body
        yield self._note

    @property
    def text(self) -> str:
        """The row as plain text (its body, then its delivery line)."""
        note = self._note_text[0]
        return str(self._body.content) + (f"\n{note}" if note else "")

    def _show_approval(self, show: bool) -> None:
        # Rows are redrawn only once mounted (see CallsPanel.add_call).
        if show and self._approval is None:
            buttons = [
                Button("Allow once", id="approve-once", compact=True, variant="success"),
                Button("Always", id="approve-always", compact=True, variant="primary"),
                Button("Deny", id="approve-deny", compact=True, variant="error"),
            ]
            if self._is_mcp_tool(self.record.fn):
                server = Button("Whole server", id="approve-server", compact=True)
                buttons.insert(2, server)
            self._approval = Horizontal(*buttons, classes="approval")
            self.mount(self._approval)
        elif not show and self._approval is not None:
            self._approval.remove()
            self._approval = None

    def refresh_row(self, now: float) -> None:
        """Redraw from the record (``now`` in engine seconds)."""
        rec = self.record
        if rec.status is not self._status:
            # One restyle for the swap, not one per class.
            if self._status is not None:
                self.remove_class(f"status-{slug(self._status)}", update=False)
            self.add_class(f"status-{slug(rec.status)}")
            self._status = rec.status
        self._show_approval(rec.status is CallStatus.AWAITING_APPROVAL)
        self._refresh_note()
        if rec.in_background:
            # Seconds are enough for a call that outlived its answer; the
            # same text is not redrawn, so several of them cost next to
            # nothing while the user types.
            start = rec.started_t or rec.issued_t
            now = start + int(now - start)
        text = self._body_text(rec, now)
        if text == self._text:
            return
        self._text = text
        # While a call runs only its timer changes; same line count means
        # same size, so skip the layout pass (this runs 10 times a second).
        lines = text.plain.count("\n")
        self._body.update(text, layout=lines != self._lines)
        self._lines = lines

    def _refresh_note(self) -> None:
        note = note_line(self.record)
        if note == self._note_text:
            return
        old = self._note_text[1]
        self._note_text = note
        if old:
            self._note.remove_class(old)
        if note[1]:
            self._note.add_class(note[1])
        self._note.update(note[0])
        self._note.display = bool(note[0])

    def _body_text(self, rec: CallRecord, now: float) -> Text:
        elapsed = rec.elapsed_ms(now)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{STATUS_ICONS[rec.status]} ", style="bold")
        text.append(rec.id if rec.wants_result else "·", style="bold")
        text.append(f"  {rec.fn}", style="italic")
        text.append(f"({rec.signature(40)})\n")
        est = f" / ~{fmt_seconds(rec.estimate_ms)}" if rec.estimate_ms > 0 else ""
        if rec.status in (CallStatus.AWAITING_APPROVAL, CallStatus.QUEUED, CallStatus.COLLECTED):
            # Not running yet: a bar against the estimate would mislead.
            text.append(f"{rec.status.value} for {fmt_seconds(elapsed)}")
            if rec.status is CallStatus.AWAITING_APPROVAL:
                server = " · s whole server" if self._is_mcp_tool(rec.fn) else ""
                text.append(f"\nneeds approval: a once · A always{server} · d deny", style="bold")
            return text
        if rec.status is CallStatus.DENIED or (rec.status.finished and rec.started_t is None):
            # It never ran (refused, unknown tool, bad arguments, cancelled in
            # the queue): no bar, and no run time (the wait was not a run).
            text.append(f"{rec.status.value}, never ran\n")
            preview = " ".join(rec.value.split())
            if preview:
                text.append(preview, style="bold")
            return text
        if rec.status is CallStatus.DONE:
            # Done: the whole bar, whatever the estimate said.
            bar, over = "█" * BAR_WIDTH, ""
        elif rec.progress is not None and rec.progress[1]:
            # The tool says how far it is: its word over the estimate.
            done, total, _ = rec.progress
            bar, over = progress_bar(done, total or 1.0)
        else:
            # Running, or ended short (cancelled, timed out, failed): how
            # far it got against the estimate.
            bar, over = progress_bar(elapsed, rec.estimate_ms)
        text.append(bar)
        text.append(over, style="bold")
        # A call running in the background is redrawn once a second.
        whole = rec.in_background and not rec.status.finished and elapsed < 60_000
        text.append(f" {int(elapsed / 1000) if whole else fmt_seconds(elapsed)}")
        text.append(f"{' s' if whole else ''}{est}\n")
        if rec.progress is not None and not rec.status.finished:
            done, total, message = rec.progress
            text.append(message or (f"{done:g} of {total:g}" if total else f"{done:g} done"))
            text.append("\n")
        if not rec.status.finished:
            text.append(rec.status.value)
            return text
        preview = " ".join(rec.value[: PREVIEW_CHARS * 2].split())
        if len(preview) > PREVIEW_CHARS:
            preview = preview[: PREVIEW_CHARS - 1] + "…"
        landed = rec.landed_t is not None or not rec.wants_result
        text.append(f"{rec.status.value} " + ("→ " if landed else "⋯ "))
        text.append(preview or "(no output)", style="italic" if rec.ok else "bold")
        if rec.cut_tokens:
            kept = rec.result_tokens - rec.cut_tokens
            text.append(f"\nmodel saw {kept:,} of {rec.result_tokens:,} tokens · enter")
        elif rec.held is HeldState.HELD:
            text.append("\nheld back from the model · ctrl+g keeps", style="bold")
        elif rec.held is HeldState.DROPPED:
            text.append("\nnot given to the model (answer stopped)")
        return text

    @on(Button.Pressed)
    def _approve(self, event: Button.Pressed) -> None:
        decision = (event.button.id or "").removeprefix("approve-")
        event.stop()
        self.post_message(CallDecision(self.record.id, decision, self.record.fn))
