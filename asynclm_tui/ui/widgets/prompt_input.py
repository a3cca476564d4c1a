"""The message box: never locked, Enter sends, Ctrl+J (or Alt+Enter) adds a line."""

from __future__ import annotations

from dataclasses import dataclass

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
        # Priority so TextArea's own Enter handling (insert a newline) never runs first.
        Binding("enter", "submit", "Send", priority=True, id="send"),
        Binding(
            "ctrl+j,alt+enter,shift+enter",
            "newline",
            "New line",
            priority=True,
            id="newline",
        ),
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
