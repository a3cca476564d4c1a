"""Teacher-forcing scripts: the assistant's text, fixed in advance.

A script is a text file holding what the assistant writes, CML included.
Several assistant turns are separated by a line that is exactly ``=== turn ===``.
The engine feeds the script's tokens through the real model one decode step at
a time, so calls, traps and interrupts behave as in free generation while the
text stays deterministic (for demos, tests and benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asynclm_tui.core.cml.syntax import INTR
from asynclm_tui.core.settings.yaml_source import UserFileError, read_user_file

TURN_SEPARATOR = "=== turn ==="
MAX_SCRIPT_BYTES = 16 * 1024 * 1024
"""Largest script read (many turns of text; ``/dev/zero`` is refused at once)."""


@dataclass
class Script:
    """The assistant turns of a script, consumed in order."""

    turns: list[str]
    source: Path | None = None
    _next: int = 0

    @classmethod
    def from_text(cls, text: str, source: Path | None = None) -> Script:
        """Split ``text`` into turns and reject system-only markup.

        Raises:
            UserFileError: the script writes ``[INTR]`` (only the system may).
        """
        turns: list[list[str]] = [[]]
        for number, line in enumerate(text.splitlines(keepends=True), start=1):
            if line.strip() == TURN_SEPARATOR:
                turns.append([])
                continue
            if INTR in line:
                raise UserFileError(
                    source or Path("script"),
                    number,
                    "[INTR] blocks are written by the system, not by the assistant",
                )
            turns[-1].append(line)
        texts = ["".join(t).strip("\n") for t in turns]
        return cls([t for t in texts if t.strip()], source)

    @classmethod
    def load(cls, path: Path) -> Script:
        """Read a script file.

        Raises:
            UserFileError: unreadable file or invalid content.
        """
        text = read_user_file(path, MAX_SCRIPT_BYTES, "script")
        script = cls.from_text(text, path)
        if not script.turns:
            raise UserFileError(path, None, "the script is empty")
        return script

    def next_turn(self) -> str | None:
        """The next assistant turn, or None when the script is used up."""
        if self._next >= len(self.turns):
            return None
        self._next += 1
        return self.turns[self._next - 1]
