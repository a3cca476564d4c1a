"""The timeline view: every turn's decoding and calls on a shared time axis."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from asynclm_tui.ui.state import ChatState
from asynclm_tui.ui.widgets.steady_footer import SteadyFooter
from asynclm_tui.ui.widgets.timeline_chart import TurnTimeline


class TimelineScreen(Screen[None]):
    """All turns, newest last; live while a turn runs."""

    CSS_PATH = Path(__file__).with_name("timeline.tcss")  # absolute: subclasses elsewhere keep it

    BINDINGS = [
        Binding("escape,ctrl+t", "app.pop_screen", "Back to chat", id="timeline.close"),
    ]

    def __init__(self, state: ChatState, clock: Callable[[], float]) -> None:
        super().__init__()
        self.state = state
        self.clock = clock
        self._shown = 0

    def compose(self) -> ComposeResult:
        yield Static(
            "Timeline: decoding vs calls. In async mode calls overlap decoding; "
            "the saving is call time that did not block the model. A call that "
            "outlives its answer (▸) runs on into the turns that follow (↳) until "
            "its result lands (◆).",
            id="timeline-title",
        )
        with VerticalScroll(id="timeline-turns"):
            yield Static("No turns yet: send a message first.", id="timeline-empty")
        yield SteadyFooter()

    async def on_mount(self) -> None:
        """Build the turns and keep them live at 5 Hz."""
        await self._sync()
        self.query_one("#timeline-turns", VerticalScroll).scroll_end(animate=False)
        self.set_interval(0.2, self._sync)

    async def _sync(self) -> None:
        container = self.query_one("#timeline-turns", VerticalScroll)
        turns = self.state.turns
        self.query_one("#timeline-empty").display = not turns
        if len(turns) < self._shown:  # new chat: start over
            await container.query(TurnTimeline).remove()
            self._shown = 0
        for turn in turns[self._shown :]:
            await container.mount(TurnTimeline(self.state, turn, self.clock))
        self._shown = len(turns)
        # Live: the running turn, and those since the oldest call still in
        # the background was issued (their lanes' timers run).
        waiting = self.state.background_calls()
        since = min((c.issued_t for c in waiting), default=None)
        widgets = list(container.query(TurnTimeline))
        for widget in widgets:
            end = widget.turn.end_t
            if end is None or (since is not None and end >= since) or widget is widgets[-1]:
                widget.refresh(layout=True)
