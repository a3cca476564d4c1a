"""Copying from the chat: the mouse selection, the last answer, code blocks.

Every copy goes through :class:`~asynclm_tui.ui.engine_messages.CopyRequested`; the
app sends it to the terminal clipboard or saves it to a file (see
:mod:`asynclm_tui.ui.clipboard`) and says which.
"""

from __future__ import annotations

import time
from typing import ClassVar

from textual.binding import Binding, BindingType

from asynclm_tui.ui.clipboard import fenced_code
from asynclm_tui.ui.engine_messages import CopyRequested
from asynclm_tui.ui.screens.chat_layout import ChatLayout
from asynclm_tui.ui.widgets.transcript import AssistantEntry

CODE_STEP_S = 10.0
"""Pressing the copy-code key again within this many seconds copies the block before."""


class ChatCopy(ChatLayout):
    """Copy keys of the chat screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f3", "copy_answer", "Copy answer", id="copy_answer"),
        Binding("f4", "copy_code", "Copy code", id="copy_code"),
    ]

    _code_cursor: tuple[float, int, int] | None = None
    """(when, turn, block index) of the last code block copied with the key."""

    def answers(self) -> list[AssistantEntry]:
        """Every assistant turn on screen, oldest first."""
        return list(self._transcript.query(AssistantEntry))

    def action_copy_answer(self) -> None:
        """Copy the latest answer as Markdown (the text, without the call chips)."""
        for entry in reversed(self.answers()):
            if entry.markdown.strip():
                self.post_message(
                    CopyRequested(
                        entry.markdown, f"answer {entry.turn} as Markdown", f"answer-{entry.turn}"
                    )
                )
                return
        self.notify("No answer to copy yet.", severity="warning", timeout=3)

    def action_copy_code(self) -> None:
        """Copy the latest code block; again within a few seconds, the one before."""
        blocks = [
            (entry.turn, block) for entry in self.answers() for block in fenced_code(entry.markdown)
        ]
        if not blocks:
            self.notify("No code block in the answers yet.", severity="warning", timeout=3)
            return
        now = time.monotonic()
        index = len(blocks) - 1
        cursor = self._code_cursor
        if cursor is not None and now - cursor[0] < CODE_STEP_S and cursor[2] > 0:
            index = cursor[2] - 1
        self._code_cursor = (now, blocks[index][0], index)
        turn, (language, code) = blocks[index]
        more = " · F4 again: the one before" if index > 0 else ""
        self.post_message(
            CopyRequested(
                code,
                f"code block {index + 1} of {len(blocks)} ({language or 'text'}, turn {turn})"
                f"{more}",
                "code",
            )
        )

    def action_copy_text(self) -> None:
        """Copy the mouse selection (Ctrl+C)."""
        text = self.get_selected_text()
        if not text:
            self.notify(
                "Nothing selected: drag the mouse over text first. "
                "F3 copies the last answer, F4 its code; Ctrl+Q quits.",
                timeout=4,
            )
            return
        self.post_message(CopyRequested(text, "the selection", "selection"))
