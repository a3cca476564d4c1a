"""Scroll views whose lines in view stay put when content above them grows
(older turns of a resumed chat, drawn after the recent ones) or re-wraps at a
new width: what browsers call scroll anchoring."""

from __future__ import annotations

from textual.geometry import Region, Size
from textual.layout import DockArrangeResult
from textual.widget import Widget

from asynclm_tui.ui.textual_internals import follows_end


class KeepsPlace(Widget):
    """Mixin for a scroll view.  List it after the view's class
    (``class Log(VerticalScroll, KeepsPlace)``): Textual takes a widget's CSS
    type names from its first base only."""

    _placed: tuple[dict[Widget, Region], int] | None = None
    """Each child's region at the last layout, and that layout's width."""

    def moved_on_purpose(self, widgets: set[Widget]) -> None:
        """``widgets`` were moved elsewhere in the view (not pushed by what is
        above them): the next layout keeps the place of a child that stayed."""
        if self._placed is not None:
            regions, width = self._placed
            self._placed = ({w: r for w, r in regions.items() if w not in widgets}, width)

    def arrange(self, size: Size, optimal: bool = False) -> DockArrangeResult:
        """Textual's layout; then keep the child at the top of the view where
        it was, in the same frame: moved by as much as what is above it grew
        or shrank, or, at a new width (the text re-wraps), at the same
        fraction of its height.  A view that follows its end is left to its
        anchor."""
        result = super().arrange(size, optimal)
        regions = {p.widget: p.region for p in result.placements}
        # Recorded before scrolling: setting the scroll lays out again, and
        # that pass finds nothing moved.
        placed, self._placed = self._placed, (regions, size.width)
        if placed is None or follows_end(self):
            return result
        before, width = placed
        y = self.scroll_y
        top = next(
            (
                (child, region)
                for child, region in before.items()
                if region.bottom > y and child in regions
            ),
            None,
        )
        if top is None:
            return result
        child, was = top
        now = regions[child]
        into = y - was.y
        if width != size.width:
            into = into / max(1, was.height) * now.height
        # Never past the end: content that fits the view has no place to keep.
        end = max(0, result.total_region.bottom - size.height)
        target = max(0, min(end, round(now.y + into)))
        if target != round(y):
            self.set_scroll(None, target)
            self.set_reactive(Widget.scroll_target_y, target)
            self.vertical_scrollbar.position = target
        return result
