"""Split streaming Markdown into finished blocks and an open tail.

A block is finished once a blank line (outside a code fence) is followed by a
line that starts at the margin: nothing written later can change how it
renders.  Indented lines after a blank line continue the block (a list item's
second paragraph), so they never start a new one.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


class BlockSplitter:
    """Feed text as it arrives; collect the blocks that can no longer change."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        """Complete lines of the open block."""
        self._partial = ""
        """The last line, still being written."""
        self._fence: str | None = None
        """The marker of the open code fence (e.g. ```` ``` ````), if any."""
        self._blank_seen = False

    @property
    def tail(self) -> str:
        """The open block: everything not yet returned as finished."""
        return "".join(self._lines) + self._partial

    def feed(self, text: str) -> list[str]:
        """Add ``text``; returns the blocks it finished (trailing blank lines cut)."""
        finished: list[str] = []
        pieces = (self._partial + text).split("\n")
        self._partial = pieces.pop()
        for line in pieces:
            block = self._line(line + "\n")
            if block:
                finished.append(block)
        # The first character of the next line is enough to close a block.
        if self._partial and self._fence is None and self._blank_seen:
            block = self._close_before(self._partial)
            if block:
                finished.append(block)
        return finished

    def _close_before(self, line: str) -> str | None:
        """Close the open block if ``line`` starts a new one after a blank line."""
        text = "".join(self._lines)
        if line[0].isspace() or not text.strip():
            return None
        self._lines = []
        self._blank_seen = False
        return text.rstrip("\n")

    def _line(self, line: str) -> str | None:
        """Take one complete line; returns the block it closed, if any."""
        closed = None
        if self._fence is not None:
            if line.strip().startswith(self._fence) and not line.strip().strip(self._fence[0]):
                self._fence = None
        elif not line.strip():
            self._blank_seen = True
        else:
            if self._blank_seen:
                closed = self._close_before(line)
            self._blank_seen = False
            match = _FENCE.match(line)
            if match:
                self._fence = match.group(1)
        if self._lines or line.strip():
            self._lines.append(line)
        return closed
