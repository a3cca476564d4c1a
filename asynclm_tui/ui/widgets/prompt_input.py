"""The message box: never locked. Enter sends (mid-answer: steers), Tab queues
for after the answer, Ctrl+J (or Alt+Enter) adds a line."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from asynclm_tui.ui.textual_internals import KeysBeforeBindings

MAX_LINES = 8
"""The box grows up to this many lines, then scrolls."""


class PromptInput(KeysBeforeBindings):
    """A multi-line input that submits on Enter.

    It stays editable while the model generates: what is sent then lands in
    the model's context as a user interrupt.
    """

    BINDINGS = [
        # Listed for the footer, the help screen and ``ui.keymap``; the keys are
        # acted on in ``claim_key`` (see there for why not as bindings).
        Binding("enter", "submit", "Send", id="send"),
        # Tab queues only when there is text: in an empty box it still moves
        # the focus (and Shift+Tab always does), as everywhere in Textual.
        # Not in the footer (it is full at 80 columns): the box's title says
        # "Tab queues" while the model writes.
        Binding("tab", "queue", "Queue", id="queue", show=False),
        Binding("ctrl+j,alt+enter,shift+enter", "newline", "New line", id="newline"),
    ]

    @dataclass
    class Queued(Message):
        """The user pressed Tab on a non-empty message: send it after the answer."""

        text: str

    @dataclass
    class UpFromEmpty(Message):
        """Up in an empty box (the queued messages above can take the focus)."""

    @dataclass
    class Submitted(Message):
        """The user pressed Enter on a non-empty message."""

        input: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            """The input that sent it."""
            return self.input

    @dataclass
    class PageScroll(Message):
        """PageUp (-1) or PageDown (1) pressed in the box: scroll the transcript."""

        direction: int

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
        self._queue_keys = {"tab"}

    def set_keys(self, send: str, newline: str, queue: str = "tab") -> None:
        """Keys (comma-separated) that send, insert a line break and queue."""
        self._send_keys = {k.strip() for k in send.split(",") if k.strip()}
        self._newline_keys = {k.strip() for k in newline.split(",") if k.strip()}
        self._queue_keys = {k.strip() for k in queue.split(",") if k.strip()}

    def claim_key(self, key: str) -> bool:
        """Send, new-line and queue keys are acted on here, after the
        characters typed before them (see KeysBeforeBindings)."""
        if key in ("pageup", "pagedown"):
            # The box is at most a few lines: paging belongs to the transcript.
            self.post_message(self.PageScroll(-1 if key == "pageup" else 1))
        elif key in self._send_keys:
            self.action_submit()
        elif key in self._newline_keys:
            self.action_newline()
        elif key in self._queue_keys and self.text.strip():
            self.action_queue()
        elif key == "up" and not self.text:
            self.post_message(self.UpFromEmpty())
        else:
            return False
        return True

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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Queue only with text: in an empty box Tab falls through to the
        screen's focus-next."""
        return action != "queue" or bool(self.text.strip())

    def action_queue(self) -> None:
        """Queue the text (if any) for after the answer and clear the box."""
        text = self.text.strip()
        if not text:
            return
        self.clear()
        self.post_message(self.Queued(text))

    def action_newline(self) -> None:
        """Insert a line break at the cursor."""
        self.insert("\n")
