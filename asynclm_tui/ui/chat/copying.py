"""Copying from the chat: the mouse selection, the last answer, code blocks.

Every copy goes through :class:`~asynclm_tui.ui.engine_messages.CopyRequested`; the
app sends it to the terminal clipboard or saves it to a file (see
:mod:`asynclm_tui.ui.clipboard`) and says which.  When there is nothing to
copy, the chat says so instead (a :class:`~asynclm_tui.ui.chat.effects.Notify`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from asynclm_tui.ui.chat.effects import Notify
from asynclm_tui.ui.clipboard import fenced_code
from asynclm_tui.ui.engine_messages import CopyRequested
from asynclm_tui.ui.widgets.transcript import AssistantEntry, Transcript

CODE_STEP_S = 10.0
"""Pressing the copy-code key again within this many seconds copies the block before."""


class CopyPicker:
    """What the copy keys copy from ``transcript`` (``clock``: monotonic seconds)."""

    def __init__(self, transcript: Transcript, clock: Callable[[], float] = time.monotonic) -> None:
        self._transcript = transcript
        self._clock = clock
        self._code_cursor: tuple[float, int, int] | None = None
        """(when, turn, block index) of the last code block copied with the key."""

    def answers(self) -> list[AssistantEntry]:
        """Every assistant turn on screen, oldest first."""
        return list(self._transcript.query(AssistantEntry))

    def answer(self) -> CopyRequested | Notify:
        """The latest answer as Markdown (the text, without the call chips)."""
        for entry in reversed(self.answers()):
            if entry.markdown.strip():
                return CopyRequested(
                    entry.markdown, f"answer {entry.turn} as Markdown", f"answer-{entry.turn}"
                )
        return Notify("No answer to copy yet.", severity="warning", timeout=3)

    def code(self) -> CopyRequested | Notify:
        """The latest code block; again within a few seconds, the one before."""
        blocks = [
            (entry.turn, block) for entry in self.answers() for block in fenced_code(entry.markdown)
        ]
        if not blocks:
            return Notify("No code block in the answers yet.", severity="warning", timeout=3)
        now = self._clock()
        index = len(blocks) - 1
        cursor = self._code_cursor
        if cursor is not None and now - cursor[0] < CODE_STEP_S and cursor[2] > 0:
            index = cursor[2] - 1
        self._code_cursor = (now, blocks[index][0], index)
        turn, (language, code) = blocks[index]
        more = " · F4 again: the one before" if index > 0 else ""
        return CopyRequested(
            code,
            f"code block {index + 1} of {len(blocks)} ({language or 'text'}, turn {turn}){more}",
            "code",
        )

    @staticmethod
    def selection(text: str | None) -> CopyRequested | Notify:
        """The mouse selection ``text`` (None or empty: nothing selected)."""
        if not text:
            return Notify(
                "Nothing selected: drag the mouse over text first. "
                "F3 copies the last answer, F4 its code; Ctrl+Q quits.",
                timeout=4,
            )
        return CopyRequested(text, "the selection", "selection")
