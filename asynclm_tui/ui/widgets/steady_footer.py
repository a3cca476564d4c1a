"""A key footer that is rebuilt only when the keys it shows change, and that
shows whole keys only: those that do not fit are left out rather than cut."""

from __future__ import annotations

from collections.abc import Hashable

from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Footer


class SteadyFooter(Footer):
    """Textual's :class:`Footer`, without rebuilding identical keys.

    Textual's footer throws its keys away and builds them again after every
    change of the screen's bindings, and a focus change is one, although the
    keys shown are usually the same (docs/sessions.md has what it cost).  On
    a narrow terminal it clips the last key mid-word (``^t Timel``); here the
    keys that do not fit whole are hidden, first to last (F1 lists them all).
    """

    _shown: Hashable = None
    _widths: dict[Widget, int] | None = None

    def shown_keys(self) -> Hashable:
        """Everything :meth:`Footer.compose` reads from the screen's bindings."""
        return self.show_command_palette, tuple(
            (binding, enabled, tooltip, self.app.get_key_display(binding))
            for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
        )

    async def recompose(self) -> None:
        """Rebuild the keys if what they would show has changed."""
        shown = self.shown_keys()
        if shown == self._shown:
            return
        self._shown = shown
        self._widths = None
        await super().recompose()
        self.call_after_refresh(self._measure)

    def on_resize(self, event: Resize) -> None:
        """Choose again which keys fit."""
        self._fit()

    def _keys(self) -> list[Widget]:
        return [c for c in self.children if not c.has_class("-command-palette")]

    def _measure(self) -> None:
        """Each key's width, read once after a rebuild (all keys shown then)."""
        self._widths = {key: key.outer_size.width for key in self._keys()}
        self._fit()

    def _fit(self) -> None:
        if self._widths is None:
            return
        room = self.size.width - sum(
            c.outer_size.width for c in self.children if c.has_class("-command-palette")
        )
        used = 0
        for key in self._keys():
            used += self._widths.get(key, 0)
            key.display = used <= room
