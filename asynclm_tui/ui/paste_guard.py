"""A bracketed paste stays one paste, whatever it contains.

A terminal wraps pasted text in ``ESC [200~`` ... ``ESC [201~``.  Textual's
input parser leaves that mode at the first ESC *inside* the paste (a colour
code copied from a log, for instance) and replays the rest as keys, so every
pasted line after it pressed Enter: one paste became many messages.  Between
the markers, this filter turns every ESC that does not start the end marker
into ``␛`` (shown, never obeyed) before the parser sees it.
"""

from __future__ import annotations

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"
SHOWN_ESC = "\u241b"
"""The control picture for ESC: what an escape inside a paste becomes."""


class PasteGuard:
    """Feeds terminal input through, neutralising escapes inside pastes.

    Input arrives in chunks that may split a marker: a chunk ending in part
    of the end marker, or in ``ESC [`` plus part of the start marker, is held
    back until the next chunk says what it was.  A lone trailing ESC outside
    a paste is never held (it may be the Escape key, which the parser times).
    """

    def __init__(self) -> None:
        self.pasting = False
        self._held = ""

    def feed(self, text: str) -> str:
        """The input to hand to the parser for this chunk."""
        text, self._held = self._held + text, ""
        out: list[str] = []
        i = 0
        while i < len(text):
            if self.pasting:
                j = text.find("\x1b", i)
                if j < 0:
                    out.append(text[i:])
                    break
                out.append(text[i:j])
                rest = text[j:]
                if rest.startswith(PASTE_END):
                    out.append(PASTE_END)
                    self.pasting = False
                    i = j + len(PASTE_END)
                elif PASTE_END.startswith(rest):
                    self._held = rest
                    break
                else:
                    out.append(SHOWN_ESC)
                    i = j + 1
            else:
                j = text.find(PASTE_START, i)
                if j >= 0:
                    out.append(text[i : j + len(PASTE_START)])
                    self.pasting = True
                    i = j + len(PASTE_START)
                    continue
                tail = _partial_start(text, i)
                out.append(text[i : len(text) - len(tail)])
                self._held = tail
                break
        return "".join(out)


def _partial_start(text: str, start: int) -> str:
    """The end of ``text[start:]`` that could begin the start marker (``ESC [``
    and more; never a lone ESC)."""
    for size in range(len(PASTE_START) - 1, 1, -1):
        if len(text) - start >= size and text.endswith(PASTE_START[:size]):
            return text[-size:]
    return ""
