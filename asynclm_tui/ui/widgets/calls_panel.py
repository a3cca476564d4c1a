"""The in-flight calls panel: one row per call with a live timer and bar.

Rows render from :class:`~asynclm_tui.ui.state.CallRecord` objects owned by the
app's :class:`~asynclm_tui.ui.state.ChatState`; the panel only reads them.
Selected rows can be cancelled or, when awaiting approval, allowed or denied,
without stopping the model, and opened in full: the panel posts messages, and
the chat screen talks to the engine and opens the call's screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Click
from textual.geometry import Size
from textual.layout import DockArrangeResult
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Button, Static

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.api.events import (
    HeldState,
)
from asynclm_tui.ui.state import CallRecord, fmt_seconds
from asynclm_tui.ui.widgets.keep_place import KeepsPlace

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


def calls_summary(active: Iterable[CallRecord]) -> list[str]:
    """``["2 running", "1 to approve"]`` for the calls not yet finished."""
    counts: dict[str, int] = {}
    for call in active:
        waiting = call.status is CallStatus.AWAITING_APPROVAL
        label = "to approve" if waiting else call.status.value
        counts[label] = counts.get(label, 0) + 1
    return [f"{n} {status}" for status, n in sorted(counts.items())]


class CallsStrip(Static):
    """The calls panel folded into one line (narrow terminals, or panel hidden)."""

    @dataclass
    class Clicked(Message):
        """The user clicked the strip (opens the panel)."""

    def __init__(self, **kwargs: str) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self.show([], awaiting=False)

    def show(self, summary: list[str], *, awaiting: bool) -> None:
        """Show the summary of running calls and how to open the panel."""
        what = " · ".join(summary) if summary else "no calls running"
        self.update(f"calls · {what} · F2 opens")
        self.set_class(awaiting, "-awaiting")
        self.set_class(bool(summary), "-busy")

    def on_click(self, event: Click) -> None:
        """Open the panel."""
        event.stop()
        self.post_message(self.Clicked())


def slug(status: CallStatus) -> str:
    """CSS-friendly status name: ``awaiting approval`` -> ``awaiting-approval``."""
    return status.value.replace(" ", "-")


class CallRow(Vertical):
    """One call: status line, timer bar, result preview, approval buttons."""

    def __init__(self, record: CallRecord, is_mcp_tool: Callable[[str], bool]) -> None:
        super().__init__(classes="call-row", id=f"call-{_css_id(record.id)}")
        self.record = record
        self._is_mcp_tool = is_mcp_tool
        self._body = Static("", classes="call-body", markup=False)
        self._lines = -1
        self._status: CallStatus | None = None
        self._approval: Horizontal | None = None
        """The approval buttons, only while the call awaits approval: four
        widgets on every finished row slowed the opening of a long chat."""

    def compose(self) -> ComposeResult:
        yield self._body

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
        elif rec.status is CallStatus.DENIED or (rec.status.finished and rec.started_t is None):
            # It never ran (refused, unknown tool, bad arguments, cancelled in
            # the queue): no bar, and no run time (the wait was not a run).
            text.append(f"{rec.status.value}, never ran\n")
            preview = " ".join(rec.value.split())
            if preview:
                text.append(preview, style="bold")
        else:
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
            text.append(f" {fmt_seconds(elapsed)}{est}\n")
            if rec.progress is not None and not rec.status.finished:
                done, total, message = rec.progress
                text.append(message or (f"{done:g} of {total:g}" if total else f"{done:g} done"))
                text.append("\n")
            if rec.status.finished:
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
            else:
                text.append(rec.status.value)
        # While a call runs only its timer changes; same line count means
        # same size, so skip the layout pass (this runs 10 times a second).
        lines = text.plain.count("\n")
        self._body.update(text, layout=lines != self._lines)
        self._lines = lines

    @on(Button.Pressed)
    def _approve(self, event: Button.Pressed) -> None:
        decision = (event.button.id or "").removeprefix("approve-")
        event.stop()
        self.post_message(CallsPanel.Decision(self.record.id, decision, self.record.fn))


def _css_id(call_id: str) -> str:
    """Call ids may hold ``~`` (anonymous calls); keep DOM ids valid."""
    return "".join(ch if ch.isalnum() or ch in "_-" else f"_{ord(ch)}_" for ch in call_id)


class CallsPanel(VerticalScroll, KeepsPlace, can_focus=True):
    """All calls of the session, newest at the bottom; keyboard-selectable."""

    BINDINGS = [
        Binding("up,k", "select(-1)", "Prev call", show=False, id="calls.up"),
        Binding("down,j", "select(1)", "Next call", show=False, id="calls.down"),
        Binding("enter,v", "show_call", "Full result", id="calls.show"),
        Binding("x,delete", "cancel_call", "Cancel call", id="calls.cancel"),
        Binding("a", "decide('once')", "Allow once", id="calls.allow_once"),
        Binding("A,shift+a", "decide('always')", "Allow always", id="calls.allow_always"),
        Binding("s", "decide('server')", "Allow its MCP server", id="calls.allow_server"),
        Binding("d", "decide('deny')", "Deny", id="calls.deny"),
        # Escape leaves the panel rather than stopping the model: a user who
        # just cancelled or approved a call wants the input back, not a stop.
        Binding("escape", "back", "Back to input", id="calls.back"),
    ]

    selected: reactive[int] = reactive(-1)
    """Index of the selected row (-1: none)."""

    @dataclass
    class Decision(Message):
        """The user answered an approval: ``once``, ``always`` (this tool),
        ``server`` (every tool of the call's MCP server) or ``deny``."""

        call_id: str
        decision: str
        tool: str = ""
        """The call's tool, for remembering an MCP approval."""

    @dataclass
    class CancelRequested(Message):
        """The user asked to cancel a call."""

        call_id: str

    @dataclass
    class DetailRequested(Message):
        """The user asked for a call's full result and what the model saw of it."""

        record: CallRecord

    @dataclass
    class BackRequested(Message):
        """The user asked to go back to the message box."""

    def __init__(self, clock: Callable[[], float], **kwargs: str) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._clock = clock
        self.is_mcp_tool: Callable[[str], bool] = lambda _name: False
        """Whether a tool is an MCP server's (its approval may cover the server)."""
        self._rows: dict[str, CallRow] = {}
        self._ticker: Timer | None = None
        self._ticking = False
        self._empty = Static(
            "No calls yet.\nTools the model calls show up here with a live timer.",
            classes="calls-empty",
        )

    def compose(self) -> ComposeResult:
        yield self._empty

    def on_mount(self) -> None:
        """Tick running timers; 10 Hz is smooth enough and cheap."""
        self.border_title = "Calls"
        # Paused while no call is going: an idle wake-up ten times a second
        # is CPU taken from decoding on a small machine.
        self._ticker = self.set_interval(0.1, self.tick, pause=True)

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        """Follow the end (Textual's anchor) once the rows overflow the panel:
        a new row, or one that grows (a result's preview, approval buttons),
        stays in view until the reader scrolls up.  Not before: an anchored
        view draws rows that fit at its bottom, and calls read from the top."""
        result = super().arrange(size, optimal)
        overflows = result.total_region.bottom > size.height
        if overflows != self.is_anchored:
            self.anchor(overflows)
        return result

    @property
    def rows(self) -> list[CallRow]:
        """Rows in display order."""
        return list(self._rows.values())

    @property
    def ticking(self) -> bool:
        """Whether the 10 Hz timer runs (only while some call is going)."""
        return self._ticking

    async def add_call(self, record: CallRecord) -> None:
        """Add a row for a newly issued call and select it."""
        self._empty.display = False
        row = CallRow(record, self.is_mcp_tool)
        await self.mount(row)
        self._rows[record.id] = row  # only after mounting: tick() redraws rows
        row.refresh_row(self._clock())
        self._wake(record)
        if self.selected < 0 or not self.has_focus:
            self.selected = len(self._rows) - 1

    async def add_earlier(self, records: list[CallRecord]) -> None:
        """Add rows for finished calls above the others (older turns of a
        resumed chat, drawn after the recent ones); the selection stays put."""
        if not records:
            return
        self._empty.display = False
        rows = [CallRow(record, self.is_mcp_tool) for record in records]
        first = next(iter(self._rows.values()), None)
        await self.mount_all(rows, before=first)
        now = self._clock()
        for row in rows:
            row.refresh_row(now)
        self._rows = {**{row.record.id: row for row in rows}, **self._rows}
        if self.selected >= 0:
            self.selected += len(rows)

    def update_call(self, call_id: str) -> None:
        """Redraw one row after its record changed."""
        row = self._rows.get(call_id)
        if row is not None:
            row.refresh_row(self._clock())
            self._wake(row.record)

    def _wake(self, record: CallRecord) -> None:
        if self._ticker is not None and not record.status.finished and not self._ticking:
            self._ticking = True
            self._ticker.resume()

    async def clear_calls(self) -> None:
        """Forget every row (new chat)."""
        await self.query_children(CallRow).remove()
        self._rows.clear()
        self.selected = -1
        self._empty.display = True

    def tick(self) -> None:
        """Advance the timers of calls that are still going."""
        now = self._clock()
        going = False
        for row in self._rows.values():
            if not row.record.status.finished:
                row.refresh_row(now)
                going = True
        if not going and self._ticker is not None:
            self._ticking = False
            self._ticker.pause()

    def select_call(self, call_id: str) -> None:
        """Select the row of ``call_id``."""
        ids = list(self._rows)
        if call_id in ids:
            self._select(ids.index(call_id))

    def _select(self, index: int) -> None:
        """Select a row and bring it into view (a row chosen, not a new one:
        those are followed by the anchor, or left below a reader scrolled up)."""
        self.selected = index
        self.rows[index].scroll_visible(animate=False)

    def watch_selected(self, old: int, new: int) -> None:
        """Move the highlight."""
        for i, row in enumerate(self.rows):
            row.set_class(i == new, "-selected")

    @property
    def selected_record(self) -> CallRecord | None:
        """The record of the selected row."""
        rows = self.rows
        return rows[self.selected].record if 0 <= self.selected < len(rows) else None

    def action_select(self, step: int) -> None:
        """Move the selection up or down."""
        if self._rows:
            self._select(max(0, min(len(self._rows) - 1, self.selected + step)))

    def action_show_call(self) -> None:
        """Open the selected call's full result and what the model saw of it."""
        rec = self.selected_record
        if rec is None:
            self.app.bell()
            return
        self.post_message(self.DetailRequested(rec))

    def action_cancel_call(self) -> None:
        """Cancel the selected call if it has not finished."""
        rec = self.selected_record
        if rec is None:
            self.notify("No call selected.", severity="warning", timeout=3)
            return
        if rec.status.finished:
            self.notify(
                f"{rec.id} {rec.fn}() already ended ({rec.status.value}): nothing to cancel.",
                severity="warning",
                timeout=3,
                markup=False,
            )
            return
        self.post_message(self.CancelRequested(rec.id))

    def action_decide(self, decision: str) -> None:
        """Answer the selected call's approval request."""
        rec = self.selected_record
        if rec is None or rec.status is not CallStatus.AWAITING_APPROVAL:
            self.notify("The selected call is not awaiting approval.", severity="warning")
            return
        if decision == "server" and not self.is_mcp_tool(rec.fn):
            self.notify(f"{rec.fn} is not an MCP server's tool.", severity="warning")
            return
        self.post_message(self.Decision(rec.id, decision, rec.fn))

    def action_back(self) -> None:
        """Return focus to the message box."""
        self.post_message(self.BackRequested())

    def first_awaiting(self) -> CallRecord | None:
        """The oldest call waiting for approval."""
        for row in self._rows.values():
            if row.record.status is CallStatus.AWAITING_APPROVAL:
                return row.record
        return None
