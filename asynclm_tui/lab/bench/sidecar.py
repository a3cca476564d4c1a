"""One side of a side-by-side benchmark, run in a child process.

llama.cpp's CPU backend parallelises each decode step with OpenMP, and
libgomp keeps one thread team per thread that drives a context.  Two contexts
driven from two threads of one process therefore hold two teams; once the
process has more OpenMP threads than cores, libgomp stops spinning at the
barriers between ops, and decoding slows about fourfold even while the other
context is idle (docs/benchmarks.md has the measurement).  A user's process has
one context, so a benchmark that compares two sides puts one of them in a
child process, where each team is alone and both run at the speed a user gets.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")

READY_TIMEOUT_S = 300.0
"""Longest wait for the child to import and build its side (model load)."""


class SidecarError(RuntimeError):
    """The child process failed to build its side, failed a call, or died."""


class Sidecar(Generic[T]):
    """Build ``factory(*args)`` in a spawned child process and call it there.

    ``factory`` must be importable (a module-level class or function) and
    return a callable; if that callable has a ``close`` method it runs when the
    sidecar closes.  Arguments and results travel by pickle.
    """

    def __init__(self, factory: Callable[..., Callable[..., T]], *args: Any) -> None:
        # spawn, not fork: a forked copy of a process that already runs
        # threads (the engine's, Textual's) can inherit held locks.
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, factory, args), daemon=True)
        self._proc.start()
        child.close()
        try:
            if not self._conn.poll(READY_TIMEOUT_S):
                raise SidecarError(
                    f"the benchmark's child process did not start within {READY_TIMEOUT_S:.0f} s"
                )
            self._receive()
        except BaseException:
            self.close()
            raise

    def __call__(self, *args: Any) -> T:
        """Call the side in the child with ``args``; returns its result."""
        self._conn.send(args)
        result: T = self._receive()
        return result

    def _receive(self) -> Any:
        try:
            kind, value = self._conn.recv()
        except (EOFError, OSError):
            self._proc.join(5)
            raise SidecarError(
                f"the benchmark's child process died (exit code {self._proc.exitcode})"
            ) from None
        if kind == "error":
            raise SidecarError(value)
        return value

    def close(self) -> None:
        """Close the side in the child and wait for the child to exit."""
        if self._proc.is_alive():
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(None)
            self._proc.join(30)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._conn.close()

    def __enter__(self) -> Sidecar[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _serve(
    conn: Connection, factory: Callable[..., Callable[..., Any]], args: tuple[Any, ...]
) -> None:
    """The child's loop: build the side, then answer calls until ``None``."""
    try:
        side = factory(*args)
    except Exception as exc:  # reported to the parent, which prints one line
        conn.send(("error", str(exc) or type(exc).__name__))
        return
    conn.send(("ready", None))
    try:
        while (request := conn.recv()) is not None:
            try:
                conn.send(("ok", side(*request)))
            except Exception as exc:
                conn.send(("error", str(exc) or type(exc).__name__))
    finally:
        close = getattr(side, "close", None)
        if callable(close):
            close()
