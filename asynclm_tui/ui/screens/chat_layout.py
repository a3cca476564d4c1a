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

from typing import ClassVar

from textual import events, on
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.ui.state import ChatState
from asynclm_tui.ui.widgets.calls_panel import CallsPanel, CallsStrip, calls_summary
from asynclm_tui.ui.widgets.prompt_input import PromptInput
from asynclm_tui.ui.widgets.transcript import Transcript

NARROW_BELOW = 100
"""Terminals narrower than this get the one-line calls strip."""
SHORT_BELOW = 30
"""Terminals shorter than this get tighter margins and borders."""


class ChatLayout(Screen[None]):
    """Breakpoints, the calls panel's visibility and its one-line summary."""

    HORIZONTAL_BREAKPOINTS = [
        (0, "-narrow"),
        (NARROW_BELOW, "-wide"),
    ]
    VERTICAL_BREAKPOINTS = [
        (0, "-short"),
        (SHORT_BELOW, "-tall"),
    ]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "toggle_calls", "Calls panel", id="toggle_calls"),
        Binding("ctrl+l", "focus_calls", "Calls", id="focus_calls"),
    ]

    # Set by the chat screen's constructor.
    state: ChatState
    _calls: CallsPanel
    _prompt: PromptInput
    _transcript: Transcript
    _strip: CallsStrip

    def init_layout(self, *, shown: bool, open_for_approval: bool) -> None:
        """Panel preferences from the config (call from ``__init__``)."""
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
        return self.size.width < NARROW_BELOW

    @property
    def calls_open(self) -> bool:
        """Whether the calls panel is visible (beside or over the transcript)."""
        return self._overlay if self.narrow else self._panel_wide

    def _set_calls_open(self, value: bool) -> None:
        if self.narrow:
            self._overlay = value
        else:
            self._panel_wide = value
        self._apply_panel()

    def _apply_panel(self) -> None:
        narrow = self.narrow
        self.set_class(self.calls_open, "-calls-open")
        self.set_class(narrow and self._overlay, "-calls-overlay")
        if not self.calls_open and self._calls.has_focus:
            self._prompt.focus()

    def on_resize(self, event: events.Resize) -> None:
        """Re-apply the panel's state for the new size (breakpoint classes are Textual's)."""
        self._apply_panel()

    @on(events.Mount)
    def _first_layout(self) -> None:
        self._apply_panel()

    def action_toggle_calls(self) -> None:
        """Show or hide the calls panel (on narrow terminals: over the transcript)."""
        opening = not self.calls_open
        self._auto_opened = False
        self._set_calls_open(opening)
        if opening and self.narrow:
            self._calls.focus()
        elif not opening:
            self._prompt.focus()

    def action_focus_calls(self) -> None:
        """Jump to the calls panel (to the first call awaiting approval, if any)."""
        awaiting = self._calls.first_awaiting()
        if awaiting is not None:
            self._calls.select_call(awaiting.id)
        if not self.calls_open:
            self._auto_opened = False
            self._set_calls_open(True)
        self._calls.focus()

    @on(events.DescendantFocus)
    def _close_overlay_on_leave(self, event: events.DescendantFocus) -> None:
        """On narrow terminals the overlay closes when focus goes back to the chat."""
        leaving = self._calls not in event.widget.ancestors_with_self
        if self.narrow and self._overlay and not self._auto_opened and leaving:
            self._overlay = False
            self._apply_panel()

    @on(CallsStrip.Clicked)
    def _strip_clicked(self) -> None:
        self.action_focus_calls()

    def approval_requested(self) -> None:
        """A call asks for approval (its toast is up): open the panel if configured and closed."""
        self._approval_toast = True
        if self._open_for_approval and not self.calls_open:
            self._auto_opened = True
            self._set_calls_open(True)

    def approvals_settled(self) -> None:
        """Nothing awaits approval any more: close the panel if it opened itself."""
        if self._approval_toast and self._calls.first_awaiting() is None:
            # The request's toast would otherwise stay up, asking for an answer given.
            self._approval_toast = False
            self.app.clear_notifications()
        if self._auto_opened and self._calls.first_awaiting() is None:
            self._auto_opened = False
            self._set_calls_open(False)

    def update_calls_summary(self) -> None:
        """``calls · 2 running · 1 to approve`` in the panel's title and the strip."""
        summary = calls_summary(self.state.active_calls())
        self.query_one("#calls-title", Static).update(
            " · ".join(["calls", *summary]) + (" (ctrl+l)" if summary else "")
        )
        self._strip.show(
            summary,
            awaiting=any(
                c.status is CallStatus.AWAITING_APPROVAL for c in self.state.active_calls()
            ),
        )
