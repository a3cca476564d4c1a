"""The message box: never locked, Enter sends, Ctrl+J (or Alt+Enter) adds a line."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

MAX_LINES = 8
"""The box grows up to this many lines, then scrolls."""


class PromptInput(TextArea):
    """A multi-line input that submits on Enter.

    It stays editable while the model generates: what is sent then lands in
    the model's context as a user interrupt.
    """

    BINDINGS = [
        # Listed for the footer, the help screen and ``ui.keymap``; the keys are
        # acted on in ``_on_key`` (see there for why not as bindings).
        Binding("enter", "submit", "Send", id="send"),
        Binding("ctrl+j,alt+enter,shift+enter", "newline", "New line", id="newline"),
    ]

    @dataclass
    class Submitted(Message):
        """The user pressed Enter on a non-empty message."""

        input: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            """The input that sent it."""
            return self.input

    def __init__(self, **kwargs: str) -> None:
        super().__init__(
            "",
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            placeholder="Message the model · Enter sends · Ctrl+J new line",
            **kwargs,  # type: ignore[arg-type]
        )
        self._height = 3
        self._send_keys = {"enter"}
        self._newline_keys = {"ctrl+j", "alt+enter", "shift+enter"}

    def set_keys(self, send: str, newline: str) -> None:
        """Keys (comma-separated) that send and that insert a line break."""
        self._send_keys = {k.strip() for k in send.split(",") if k.strip()}
        self._newline_keys = {k.strip() for k in newline.split(",") if k.strip()}

    async def _on_key(self, event: events.Key) -> None:
        # Handled here, in the input's own queue, rather than as (priority)
        # bindings: the app checks those as soon as a key arrives, before this
        # widget has inserted the characters typed just before it, so a fast
        # burst ("hi" + Enter in one read) would send an empty box.
        if event.key in self._send_keys:
            event.stop()
            event.prevent_default()
            self.action_submit()
        elif event.key in self._newline_keys:
            event.stop()
            event.prevent_default()
            self.action_newline()
        else:
            await super()._on_key(event)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        """Grow with the text (1-8 lines), touching layout only when the line count changes.

        A height of ``auto`` would re-lay-out the whole screen on every key.
        """
        lines = max(1, min(MAX_LINES, self.wrapped_document.height or self.document.line_count))
        height = lines + 2  # the border
        if self._height != height:
            self._height = height
            self.styles.height = height

    def action_submit(self) -> None:
        """Send the text (if any) and clear the box."""
        text = self.text.strip()
        if not text:
            return
        self.clear()
        self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        """Insert a line break at the cursor."""
        self.insert("\n")
