"""Keep llama.cpp off the terminal: its log goes to the project's log file.

llama.cpp prints through one callback (``llama_log_set``); without it, or with
llama-cpp-python's own, lines such as ``llama_kv_cache_iswa: using full-size
SWA cache`` land on the screen the TUI draws.  llama-cpp-python also silences
model loading by pointing file descriptors 1 and 2 at /dev/null
(``suppress_stdout_stderr``): process-wide, so every frame the UI thread draws
meanwhile is lost.  With the callback installed that redirection has nothing
left to hide, so it is replaced by a no-op; these are the only llama-cpp-python
internals this project overrides, and each is checked before it is replaced.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
from collections import deque
from types import ModuleType
from typing import Any

LOG = logging.getLogger("asynclm.llama")

# ggml_log_level: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 continue the last line.
# llama.cpp's info is a per-load dump of hundreds of lines: kept for --debug only.
_LEVELS = {3: logging.WARNING, 4: logging.ERROR}
_CONT = 5

_lock = threading.Lock()
_installed: list[Any] = []  # keeps the ctypes callback alive
_errors: deque[str] = deque(maxlen=16)
"""llama.cpp's latest error lines, for messages that say why a load failed."""


def take_errors() -> list[str]:
    """llama.cpp's error lines since the last call, oldest first (then forgotten)."""
    out: list[str] = []
    while _errors:
        out.append(_errors.popleft())
    return out


class _Lines:
    """Joins llama.cpp's fragments (progress dots, continued lines) into lines."""

    def __init__(self) -> None:
        self.buf = ""
        self.level = logging.DEBUG

    def feed(self, level: int, text: str) -> None:
        if level != _CONT:
            self.level = _LEVELS.get(level, logging.DEBUG)
        self.buf += text
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            if line.strip():
                LOG.log(self.level, "%s", line.rstrip())
                if self.level >= logging.ERROR:
                    _errors.append(line.strip())


class _Quiet:
    """Stands in for llama-cpp-python's ``suppress_stdout_stderr``."""

    def __init__(self, disable: bool = True) -> None:
        del disable

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *_: object) -> None:
        return None


class _Forward(logging.Handler):
    """llama-cpp-python's Python logger, into ours (never Python's stderr fallback)."""

    def emit(self, record: logging.LogRecord) -> None:
        LOG.handle(record)


def _replace_suppressor(module: ModuleType) -> None:
    original = getattr(module, "suppress_stdout_stderr", None)
    if original is not None and isinstance(original, type):
        module.suppress_stdout_stderr = _Quiet  # type: ignore[attr-defined]


def route_llama_log(llama_cpp: Any) -> None:
    """Install the callback and the no-op suppressor (once per process)."""
    with _lock:
        if _installed:
            return
        lines = _Lines()

        @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
        def callback(level: int, text: bytes | None, _user: Any) -> None:
            if text:
                with contextlib.suppress(Exception):  # never raise into C
                    lines.feed(int(level), text.decode("utf-8", errors="replace"))

        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
        _installed.append(callback)
        for name in ("llama", "_internals", "llama_chat_format"):
            module = getattr(llama_cpp, name, None)
            if isinstance(module, ModuleType):
                _replace_suppressor(module)
        # Without a handler Python's last resort prints warnings to stderr.
        if not LOG.parent or not LOG.parent.handlers:
            logging.getLogger("asynclm").addHandler(logging.NullHandler())
        py_logger = logging.getLogger("llama-cpp-python")
        py_logger.propagate = False
        py_logger.addHandler(_Forward())
