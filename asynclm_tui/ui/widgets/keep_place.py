"""Scroll views whose lines in view stay put when content above them grows
(older turns of a resumed chat, drawn after the recent ones): what browsers
call scroll anchoring."""

from __future__ import annotations

from textual.geometry import Size
from textual.layout import DockArrangeResult
from textual.widget import Widget

from asynclm_tui.ui.textual_internals import follows_end


class KeepsPlace(Widget):
    """Mixin for a scroll view.  List it after the view's class
    (``class Log(VerticalScroll, KeepsPlace)``): Textual takes a widget's CSS
    type names from its first base only."""

    _seen: tuple[Widget, int, int] | None = None
    """A child in view at the last layout: it, its y, and the layout's width."""

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        """Textual's layout; then, if what is above the child that was in view
        grew or shrank, scroll by as much in the same frame.  A view that
        follows its end is left to its anchor, and a new width (the text
        re-wraps) to the view's own handling."""
        result = super().arrange(size, optimal)
        regions = {p.widget: p.region for p in result.placements}
        seen = self._seen
        y = round(self.scroll_y)
        shift = 0
        if seen is not None and not follows_end(self) and seen[2] == size.width:
            child, before, _ = seen
            region = regions.get(child)
            if region is not None:
                shift = region.y - before
        y = max(0, y + shift)
        # Recorded before scrolling: setting the scroll lays out again, and
        # that pass must not shift a second time.
        self._seen = next(((w, r.y, size.width) for w, r in regions.items() if r.bottom > y),
                          None)
        if shift:
            self.set_scroll(None, y)
            self.set_reactive(Widget.scroll_target_y, y)
            self.vertical_scrollbar.position = y
        return result
