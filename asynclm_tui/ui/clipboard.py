"""Copying text out of the app: the terminal's clipboard, or a file.

Textual's :meth:`~textual.app.App.copy_to_clipboard` writes an OSC 52 escape
sequence; the terminal never answers it, so whether it worked cannot be read
back.  ``auto`` therefore decides from what is known to drop the sequence:

- macOS Terminal (``TERM_PROGRAM=Apple_Terminal``) and the Linux console
  (``TERM=linux``) do not implement it;
- GNU screen (``STY`` set) swallows it;
- tmux (``TMUX`` set) drops it unless its ``set-clipboard`` option is ``on``
  (``external``, the default, ignores applications' requests).

In those cases, or with ``ui.clipboard: file``, the text is also saved to a
file in the data dir (``copied/``), and the notice says where.  With ``osc52`` the
sequence is always sent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from asynclm_tui.core.settings import paths

TMUX_QUERY_TIMEOUT_S = 1.0
_FENCE_START = ("```", "~~~")
_PARSER = MarkdownIt()


def fenced_code(markdown: str) -> list[tuple[str, str]]:
    """``(language, code)`` of each fenced code block in ``markdown``."""
    if not any(fence in markdown for fence in _FENCE_START):
        return []
    return [
        (token.info.strip(), token.content)
        for token in _PARSER.parse(markdown)
        if token.type == "fence"
    ]


def tmux_set_clipboard() -> str | None:
    """tmux's ``set-clipboard`` option, or None when it cannot be read."""
    tmux = shutil.which("tmux")
    if tmux is None:
        return None
    try:
        done = subprocess.run(
            [tmux, "show-options", "-gv", "set-clipboard"],
            capture_output=True,
            text=True,
            timeout=TMUX_QUERY_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def osc52_blocker(
    env: Mapping[str, str], tmux_option: Callable[[], str | None] = tmux_set_clipboard
) -> str | None:
    """Why OSC 52 would not reach a clipboard here, or None if it should."""
    if env.get("TERM_PROGRAM") == "Apple_Terminal":
        return "macOS Terminal ignores clipboard escape sequences"
    if env.get("TERM") == "linux":
        return "the Linux console has no clipboard"
    if env.get("STY"):
        return "GNU screen drops clipboard escape sequences"
    if env.get("TMUX"):
        option = tmux_option()
        if option != "on":
            return (
                f"tmux's set-clipboard is {option or 'unknown'} "
                "(`tmux set -g set-clipboard on` lets copies through)"
            )
    return None


@dataclass(frozen=True)
class Copied:
    """Where a copy went, for the notice."""

    path: Path | None
    """The file it was saved to, or None when sent to the terminal clipboard."""
    reason: str = ""
    """Why a file was used instead of the clipboard."""

    def notice(self, what: str, text: str) -> str:
        """``Copied the last answer (12 lines) ...``: one line for a toast."""
        lines = text.count("\n") + 1
        size = f"{lines} line{'s' if lines != 1 else ''}"
        if self.path is None:
            return f"Copied {what} ({size}) to the clipboard."
        why = f" ({self.reason})" if self.reason else ""
        return f"Saved {what} ({size}) to {self.path}{why}."


class Clipboard:
    """Sends copies to the terminal clipboard or saves them as files."""

    def __init__(
        self,
        send: Callable[[str], None],
        mode: str = "auto",
        *,
        env: Mapping[str, str] | None = None,
        folder: Path | None = None,
        tmux_option: Callable[[], str | None] = tmux_set_clipboard,
    ) -> None:
        self._send = send
        self._mode = mode
        self._env = os.environ if env is None else env
        self.folder = folder or paths.user_data_dir() / "copied"
        """Where copies are saved when the clipboard cannot take them."""
        self._tmux_option = tmux_option
        self._blocker: str | None = None
        self._checked = False

    def blocker(self) -> str | None:
        """Why copies go to a file (checked once: it may run ``tmux``)."""
        if self._mode == "file":
            return "ui.clipboard is file"
        if self._mode == "osc52":
            return None
        if not self._checked:
            self._blocker = osc52_blocker(self._env, self._tmux_option)
            self._checked = True
        return self._blocker

    def copy(self, text: str, name: str) -> Copied:
        """Copy ``text``; ``name`` (e.g. ``answer-3``) names the file if one is needed.

        Raises:
            OSError: the fallback file could not be written.
        """
        # Sent in every case: it also fills the app's own clipboard (paste
        # into the input), and costs nothing where the terminal ignores it.
        self._send(text)
        reason = self.blocker()
        if reason is None:
            return Copied(None)
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.folder / f"{stamp}-{name}.md"
        n = 1
        while path.exists():
            n += 1
            path = self.folder / f"{stamp}-{name}-{n}.md"
        path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        return Copied(path, reason)
