"""The chat screen's layout: breakpoints and a calls panel that gets out of the way.

Three layouts, chosen by the terminal's size (classes on the screen, styled in
``chat.tcss``):

- wide (``-wide``, at least :data:`NARROW_BELOW` columns): the calls panel
  beside the transcript, unless hidden with F2; the transcript takes the rest.
- narrow (``-narrow``): the panel collapses to a one-line strip above the
  input (``calls · 2 running · 1 to approve``); F2 or Ctrl+L opens it over
  the transcript, Esc or F2 closes it.
- short (``-short``, below :data:`SHORT_BELOW` rows): tighter margins and
  borders, and the short welcome text.

The panel opens by itself when a call asks for approval (``ui.open_calls_for_approval``)
and closes again once nothing awaits approval, if it was closed before.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.api.events import CallFinished, CallProgress, CallUpdated
from asynclm_tui.ui.state import ChatState
from asynclm_tui.ui.widgets.calls_panel import CallsPanel, CallsStrip, calls_summary
from asynclm_tui.ui.widgets.prompt_input import PromptInput

NARROW_BELOW = 100
"""Terminals narrower than this get the one-line calls strip."""
SHORT_BELOW = 30
"""Terminals shorter than this get tighter margins and borders."""
HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_BELOW, "-wide")]
"""The screen's width classes (Textual sets them)."""
VERTICAL_BREAKPOINTS = [(0, "-short"), (SHORT_BELOW, "-tall")]
"""The screen's height classes (Textual sets them)."""


class CallsLayout:
    """Where the calls panel is (beside, over the transcript, or folded into
    the strip), its one-line summary, and approvals asked for.

    ``screen`` gets the panel's classes and gives its size; ``shown`` and
    ``open_for_approval`` are ``ui.calls_panel`` and ``ui.open_calls_for_approval``.
    """

    def __init__(
        self,
        screen: Screen[Any],
        *,
        panel: CallsPanel,
        strip: CallsStrip,
        title: Static,
        prompt: PromptInput,
        state: ChatState,
        shown: bool,
        open_for_approval: bool,
    ) -> None:
        self._screen = screen
        self._panel = panel
        self._strip = strip
        self._title = title
        self._prompt = prompt
        self._state = state
        self._panel_wide = shown
        """Whether the panel is beside the transcript on wide terminals."""
        self._overlay = False
        """Whether the panel is open over the transcript on narrow terminals."""
        self._auto_opened = False
        """The panel was opened for an approval and closes after it."""
        self._open_for_approval = open_for_approval
        self._approval_toast = False

    @property
    def narrow(self) -> bool:
        """Below :data:`NARROW_BELOW` columns (the panel is a strip or an overlay)."""
        return self._screen.size.width < NARROW_BELOW

    @property
    def calls_open(self) -> bool:
        """Whether the calls panel is visible (beside or over the transcript)."""
        return self._overlay if self.narrow else self._panel_wide

    def _set_calls_open(self, value: bool) -> None:
        if self.narrow:
            self._overlay = value
        else:
            self._panel_wide = value
        self.apply()

    def apply(self) -> None:
        """Set the screen's panel classes for its size (mounted, or resized)."""
        narrow = self.narrow
        self._screen.set_class(self.calls_open, "-calls-open")
        self._screen.set_class(narrow and self._overlay, "-calls-overlay")
        if not self.calls_open and self._panel.has_focus:
            self._prompt.focus()

    def toggle(self) -> None:
        """Show or hide the calls panel (on narrow terminals: over the transcript)."""
        opening = not self.calls_open
        self._auto_opened = False
        self._set_calls_open(opening)
        if opening and self.narrow:
            self._panel.focus()
        elif not opening:
            self._prompt.focus()

    def focus_calls(self) -> None:
        """Jump to the calls panel (to the first call awaiting approval, if any)."""
        awaiting = self._panel.first_awaiting()
        if awaiting is not None:
            self._panel.select_call(awaiting.id)
        if not self.calls_open:
            self._auto_opened = False
            self._set_calls_open(True)
        self._panel.focus()

    def focus_moved(self, widget: Widget) -> None:
        """On narrow terminals the overlay closes when focus goes back to the chat."""
        leaving = self._panel not in widget.ancestors_with_self
        if self.narrow and self._overlay and not self._auto_opened and leaving:
            self._overlay = False
            self.apply()

    def call_changed(self, event: CallUpdated | CallProgress | CallFinished) -> None:
        """Redraw the call's row and the summary; ask for an approval, or
        close what an approval opened once none is awaited."""
        self._panel.update_call(event.id)
        self.update_summary()
        match event:
            case CallUpdated(status=CallStatus.AWAITING_APPROVAL):
                rec = self._state.calls[event.id]
                self._screen.notify(
                    f"{rec.fn}({rec.signature(30)}) asks to run. The answer goes on "
                    "until it needs the result: Ctrl+L, then a (once) / A (always) / "
                    "d (deny).",
                    title="Approval needed",
                    severity="warning",
                    timeout=8,
                )
                self.approval_requested()
                # Once the panel has its size (it may have just opened over
                # the transcript): the row asking, not the oldest ones, in view.
                self._screen.call_after_refresh(self._panel.select_call, event.id)
            case _:
                self.approvals_settled()

    def approval_requested(self) -> None:
        """A call asks for approval (its toast is up): open the panel if configured and closed."""
        self._approval_toast = True
        if self._open_for_approval and not self.calls_open:
            self._auto_opened = True
            self._set_calls_open(True)

    def approvals_settled(self) -> None:
        """Nothing awaits approval any more: close the panel if it opened itself."""
        if self._approval_toast and self._panel.first_awaiting() is None:
            # The request's toast would otherwise stay up, asking for an answer given.
            self._approval_toast = False
            self._screen.app.clear_notifications()
        if self._auto_opened and self._panel.first_awaiting() is None:
            self._auto_opened = False
            self._set_calls_open(False)

    def update_summary(self) -> None:
        """``calls · 2 running · 1 to approve · 1 in background`` in the
        panel's title and the strip."""
        active = self._state.foreground_calls()
        summary = calls_summary(active, len(self._state.background_calls()))
        self._title.update(" · ".join(["calls", *summary]) + (" (ctrl+l)" if summary else ""))
        waiting = self._state.active_calls()  # (one in the background may ask too)
        self._strip.show(
            summary, awaiting=any(c.status is CallStatus.AWAITING_APPROVAL for c in waiting)
        )
