"""Widgets that grow at the bottom: one layout pass, repaint only what moved.

Two costs of Textual's default handling of a widget whose size a layout pass
changed, both paid on every streamed update that adds lines:

- It sets the widget's ``virtual_size``, a reactive that requests a second
  full layout pass.  For widgets sized by their parent's layout (not scroll
  views that size their own content) that pass changes nothing.  Anchored
  scrolling does not need it: the compositor moves an anchored container to
  its end during the first pass.
- It marks the whole widget dirty, so every visible line of the answer and of
  its bordered container is rendered again, although growing at the bottom at
  the same width changes only the bottom lines.

Together that was about half of a render's CPU time, measured on 2 cores
where every millisecond the UI spends is taken from decoding.
"""

from __future__ import annotations

from textual.geometry import Region, Size
from textual.widget import Widget


class LayoutOnce(Widget):
    """Mixin for top-aligned widgets that grow or shrink at the bottom.

    List it after a container base (``class Entry(Vertical, LayoutOnce)``):
    Textual takes a widget's CSS type names from its first base only, and
    ``Vertical``'s default CSS must still apply.
    """

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # Textual's Widget._size_updated (8.2.8), with the two changes the
        # module docstring explains; tests/ui/test_stream_markdown.py checks it.
        old = self._size
        if old.width != size.width or not old.height or not size.height:
            return super()._size_updated(size, virtual_size, container_size, layout=False)
        self._layout_cache.clear()
        if (old == size and self.virtual_size == virtual_size
                and self._container_size == container_size):
            return False
        if old.height != size.height:
            # Lines above the old bottom gutter (border, padding) are unchanged.
            # (_set_dirty takes content coordinates.)
            top = max(0, min(old.height, size.height) - self.styles.gutter.bottom)
            lines = Region(0, top, size.width, size.height - top)
            self._set_dirty(lines.translate(-self.content_offset))
        self._size = size
        self.set_reactive(Widget.virtual_size, virtual_size)
        self._container_size = container_size
        if self.is_scrollable:
            self._scroll_update(virtual_size)
        return True
