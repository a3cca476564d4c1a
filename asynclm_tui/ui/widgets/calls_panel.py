"""The in-flight calls panel: one row per call with a live timer and bar.

Rows render from :class:`~asynclm_tui.ui.state.CallRecord` objects owned by the
app's :class:`~asynclm_tui.ui.state.ChatState`; the panel only reads them.
Calls that outlived their answer are grouped at the panel's end, under a
heading, until their results are delivered; then they go back among the
others, in the order they were issued.
Selected rows can be cancelled or, when awaiting approval, allowed or denied,
their delivery changed, without stopping the model, and opened in full: the
panel posts messages, and the chat screen talks to the engine and opens the
call's screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.events import Click
from textual.geometry import Size
from textual.layout import DockArrangeResult
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.ui.delivery_words import refusal
from asynclm_tui.ui.state import CallRecord
from asynclm_tui.ui.widgets.call_row import CallDecision, CallRow
from asynclm_tui.ui.widgets.keep_place import KeepsPlace


def calls_summary(active: Iterable[CallRecord], background: int = 0) -> list[str]:
    """``["2 running", "1 to approve", "1 in background"]``: the calls not yet
    finished (``active``, those of the answers) and the ``background`` ones."""
    counts: dict[str, int] = {}
    for call in active:
        waiting = call.status is CallStatus.AWAITING_APPROVAL
        label = "to approve" if waiting else call.status.value
        counts[label] = counts.get(label, 0) + 1
    summary = [f"{n} {status}" for status, n in sorted(counts.items())]
    return [*summary, f"{background} in background"] if background else summary


def group_title(records: Iterable[CallRecord]) -> str:
    """The background group's heading: ``in the background · 1 running · 1 result waiting``."""
    records = list(records)
    running = sum(not c.status.finished for c in records)
    waiting = len(records) - running
    parts = ["in the background"]
    if running:
        parts.append(f"{running} running")
    if waiting:
        parts.append(f"{waiting} result{'' if waiting == 1 else 's'} waiting")
    return " · ".join(parts)


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
        # Not d (deny): a mistaken press must not refuse a call.
        Binding("r", "cycle_delivery", "Delivery", id="calls.delivery"),
        # Escape leaves the panel rather than stopping the model: a user who
        # just cancelled or approved a call wants the input back, not a stop.
        Binding("escape", "back", "Back to input", id="calls.back"),
    ]

    selected: reactive[int] = reactive(-1)
    """Index of the selected row (-1: none)."""

    Decision = CallDecision
    """The user answered an approval (posted by a row's buttons or the keys)."""

    @dataclass
    class CancelRequested(Message):
        """The user asked to cancel a call."""

        call_id: str

    @dataclass
    class DetailRequested(Message):
        """The user asked for a call's full result and what the model saw of it."""

        record: CallRecord

    @dataclass
    class DeliveryRequested(Message):
        """The user asked for the call's next delivery (answer -> notify -> silent)."""

        call_id: str

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
        self._heading = Static("", classes="calls-group", markup=False)
        """Heads the calls that outlived their answer, at the panel's end."""
        self._heading.display = False
        self._group: set[str] = set()
        """Ids of the rows under the heading."""

    def compose(self) -> ComposeResult:
        yield self._empty
        yield self._heading

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
        """Rows in display order (those in the background last)."""
        if not self._group:
            return list(self._rows.values())
        return [row for row in self.children if isinstance(row, CallRow)]

    @property
    def background_rows(self) -> list[CallRow]:
        """Rows under the background heading, in display order."""
        return [row for row in self.rows if row.record.id in self._group]

    @property
    def ticking(self) -> bool:
        """Whether the 10 Hz timer runs (only while some call is going)."""
        return self._ticking

    async def add_call(self, record: CallRecord) -> None:
        """Add a row for a newly issued call and select it."""
        self._empty.display = False
        row = CallRow(record, self.is_mcp_tool)
        await self.mount(row, before=self._heading)
        self._rows[record.id] = row  # only after mounting: tick() redraws rows
        row.refresh_row(self._clock())
        self._wake(record)
        # The newest row is last, or last before the background group.
        position = len(self._rows) - 1 - len(self._group)
        if self.selected < 0 or not self.has_focus:
            self.selected = position
        elif self.selected >= position:
            self.selected += 1  # a row of the group, one further down now

    async def add_earlier(self, records: list[CallRecord]) -> None:
        """Add rows for finished calls above the others (older turns of a
        resumed chat, drawn after the recent ones); the selection stays put."""
        if not records:
            return
        self._empty.display = False
        rows = [CallRow(record, self.is_mcp_tool) for record in records]
        await self.mount_all(rows, after=self._empty)
        now = self._clock()
        for row in rows:
            row.refresh_row(now)
        self._rows = {**{row.record.id: row for row in rows}, **self._rows}
        if self.selected >= 0:
            self.selected += len(rows)
        self.regroup()  # a saved chat's call may still wait for its result

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
        self._group.clear()
        self._heading.display = False
        self.selected = -1
        self._empty.display = True

    def regroup(self) -> None:
        """Move rows into the background group (calls that outlived their
        answer, results not yet delivered) or back among the others, in the
        order they were issued; the selection stays on its call."""
        now = self._clock()
        want = {cid for cid, row in self._rows.items() if row.record.in_background}
        joining, leaving = want - self._group, self._group - want
        if joining or leaving:
            chosen = self.selected_record
            order = list(self._rows)
            self.moved_on_purpose({self._rows[cid] for cid in joining | leaving})
            for cid in sorted(joining | leaving, key=order.index):
                row = self._rows[cid]
                later = order[order.index(cid) + 1 :]
                if cid in want:
                    # Before the next call of the group, or at the end.
                    after = next((self._rows[c] for c in later if c in self._group), None)
                    if after is not None:
                        self.move_child(row, before=after)
                    elif self.children[-1] is not row:
                        self.move_child(row, after=self.children[-1])
                    self._group.add(cid)
                else:
                    self._group.discard(cid)
                    # Back before the next call not in the group, or the heading.
                    ahead = next((self._rows[c] for c in later if c not in self._group), None)
                    self.move_child(row, before=ahead or self._heading)
                row.set_class(cid in want, "-background")
                row.refresh_row(now)
            if chosen is not None:
                self.selected = [r.record.id for r in self.rows].index(chosen.id)
        self._heading.display = bool(want)
        if want:
            self._heading.update(group_title(self._rows[c].record for c in want))

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

    def action_cycle_delivery(self) -> None:
        """Step the selected call's delivery: answer -> notify -> silent."""
        rec = self.selected_record
        if rec is None:
            self.notify("No call selected.", severity="warning", timeout=3)
            return
        problem = refusal(rec)
        if problem is not None:
            self.notify(problem, severity="warning", timeout=4, markup=False)
            return
        self.post_message(self.DeliveryRequested(rec.id))

    def action_back(self) -> None:
        """Return focus to the message box."""
        self.post_message(self.BackRequested())

    def first_awaiting(self) -> CallRecord | None:
        """The oldest call waiting for approval."""
        for row in self._rows.values():
            if row.record.status is CallStatus.AWAITING_APPROVAL:
                return row.record
        return None
