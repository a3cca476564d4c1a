"""The project's log file (under the XDG state dir), never the terminal.

The TUI owns the terminal, so llama.cpp's messages and the engine's own go to
``$XDG_STATE_HOME/asynclm/asynclm.log``.  ``--debug`` lowers the level to
DEBUG and, for commands without a UI, also echoes the log to stderr.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from asynclm_tui.core.settings import paths

LOGGER = "asynclm"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(*, debug: bool = False, echo: bool = False) -> Path | None:
    """Send the ``asynclm`` loggers to the log file; returns its path.

    ``echo`` also writes to stderr (only for commands that own no screen).
    Returns None when the state dir cannot be written (logging then stays off
    rather than failing the command).
    """
    root = logging.getLogger(LOGGER)
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False
    path = paths.log_file()
    handler: logging.Handler
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=2, encoding="utf-8"
        )
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    if echo:
        err = logging.StreamHandler(sys.stderr)
        err.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        root.addHandler(err)
    return path if isinstance(handler, logging.handlers.RotatingFileHandler) else None
