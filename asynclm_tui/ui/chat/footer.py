"""The footer's keys, updated once per refresh rather than once per event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


class FooterRefresh:
    """Coalesces requests to update the footer (what the keys do).

    ``after_refresh`` schedules a call after the screen's next refresh (a
    widget's ``call_after_refresh``); ``publish`` updates the footer.  Each
    update rebuilds the footer's widgets, and one turn's events ask for it
    several times.
    """

    def __init__(
        self, after_refresh: Callable[[Callable[[], None]], object], publish: Callable[[], None]
    ) -> None:
        self._after_refresh = after_refresh
        self._publish = publish
        self._due = False
        self._held = False

    def request(self) -> None:
        """Update the footer after the next refresh (once, however often asked)."""
        if not self._due:
            self._due = True
            self._after_refresh(self._run)

    def _run(self) -> None:
        if self._held:
            return
        self._due = False
        self._publish()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Update the footer once at the end, not per event (a replay)."""
        self._held = True
        try:
            yield
        finally:
            self._held = False
            self._due = False
            self.request()
