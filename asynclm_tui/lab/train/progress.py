"""The trainer's progress: a live bar on a terminal, plain lines for a log file."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class TrainProgress:
    """A bar with running loss, tokens/s and ETA on stderr, plus :meth:`note` lines.

    On a terminal the bar is live and the notes scroll above it; redirected to
    a file, the bar is off (it would only be drawn once, at the end) and the
    notes are the log.  ``say`` replaces stderr for the notes (tests).
    """

    def __init__(self, total: int, *, say: Callable[[str], None] | None = None) -> None:
        self._console = Console(stderr=True, highlight=False)
        self._say = say
        self._progress = Progress(
            TextColumn("train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[tps]} tok/s"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self._console,
            disable=say is not None or not self._console.is_terminal,
        )
        self._task = self._progress.add_task("train", total=total, loss="-", tps="-")
        self._avg: float | None = None

    def __enter__(self) -> TrainProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def advance(self, *, loss: float, tokens_per_s: float) -> None:
        """One step done; the loss shown is a running (exponential) average."""
        self._avg = loss if self._avg is None else 0.9 * self._avg + 0.1 * loss
        self._progress.update(
            self._task, advance=1, loss=f"{self._avg:.4f}", tps=f"{tokens_per_s:.0f}"
        )

    def note(self, line: str) -> None:
        """A plain line (above the bar when it is live)."""
        if self._say is not None:
            self._say(line)
        else:
            self._console.print(line, markup=False, soft_wrap=True)
