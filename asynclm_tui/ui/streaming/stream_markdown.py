"""Markdown that grows at the end, at a small cost per update.

Textual's Markdown widget builds a widget per block, and every streamed update
re-lays-out that tree.  On a machine whose cores all decode, that took a third
of a core from llama.cpp's threads and slowed decoding visibly (docs/benchmarks.md):
every millisecond the UI spends is taken from them.  This widget is one widget
per answer segment.  Finished blocks (see :mod:`.markdown_blocks`)
are rendered once with Rich's Markdown in the theme's colours and kept as
strips; an update re-renders only the open block at the end and repaints only
the lines from there down.  The height is always that of the text, so the
transcript scrolls line by line as the answer grows.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.selection import Selection
from textual.strip import Strip
from textual.widget import Widget

from asynclm_tui.ui.clipboard import fenced_code
from asynclm_tui.ui.engine_messages import CopyRequested
from asynclm_tui.ui.streaming.markdown_blocks import BlockSplitter
from asynclm_tui.ui.streaming.rich_markdown import ThemedMarkdown, themed_markdown
from asynclm_tui.ui.textual_internals import LayoutOnce

COPY_LABEL = " ⧉ copy code "
"""The click target under each finished code block."""


class StreamingMarkdown(LayoutOnce, Widget):
    """A Markdown segment of an answer, written to with :meth:`append`."""

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._source: list[str] = []
        self._splitter = BlockSplitter()
        self._blocks: list[str] = []
        self._block_lines: list[list[Strip]] = []
        """Rendered finished blocks, for the width and theme in ``_key``."""
        self._tail_lines: list[Strip] = []
        self._tail_dirty = False
        self._lines: list[Strip] | None = None
        """All lines, blocks separated by a blank line (rebuilt when stale)."""
        self._tail_start = 0
        self._key: tuple[int, str] | None = None
        self._markdown: ThemedMarkdown | None = None
        self._style: Style | None = None
        """The widget's own colours (computing them walks the DOM: cached)."""
        self._painted: dict[int, tuple[Strip, Style, Strip]] = {}
        """Line y as last drawn, with the strip and style it was drawn from."""

    @property
    def source(self) -> str:
        """Everything appended so far."""
        return "".join(self._source)

    def append(self, text: str) -> None:
        """Add Markdown text at the end and repaint what changed."""
        if not text:
            return
        self._source.append(text)
        self._blocks.extend(self._splitter.feed(text))
        self._tail_dirty = True
        if self._key is None:  # not laid out yet
            self.refresh(layout=True)
            return
        before = len(self._lines) if self._lines is not None else -1
        start = self._tail_start
        width = self._key[0]
        height = len(self._lines_at(width))
        # Lines above the open block are unchanged: repaint from there down
        # (and lay out again when the height changed).
        self.refresh(Region(0, start, width, max(height, before) - start), layout=height != before)

    # ------------------------------------------------------------ rendering

    def _lines_at(self, width: int) -> list[Strip]:
        """All lines at ``width``, re-rendering only what is stale."""
        key = (width, self.app.theme)
        if key != self._key or self._markdown is None:
            if self._markdown is None or self._key is None or self._key[1] != key[1]:
                # The renderer depends on the theme only: a new width keeps it.
                self._markdown = themed_markdown(self.app.get_css_variables())
            self._key = key
            self._block_lines = []
            self._tail_dirty = True
        while len(self._block_lines) < len(self._blocks):
            index = len(self._block_lines)
            rendered = self._render_text(self._blocks[index], width)
            if fenced_code(self._blocks[index]):
                rendered.append(self._copy_line(index, width))
            self._block_lines.append(rendered)
            self._lines = None
        if self._tail_dirty:
            tail = self._splitter.tail
            self._tail_lines = self._render_text(tail, width) if tail.strip() else []
            self._tail_dirty = False
            self._lines = None
        if self._lines is None:
            lines: list[Strip] = []
            for block in self._block_lines:
                if lines:
                    lines.append(Strip.blank(width))
                lines.extend(block)
            if lines and self._tail_lines:
                lines.append(Strip.blank(width))
            self._tail_start = len(lines)
            lines.extend(self._tail_lines)
            self._lines = lines
        return self._lines

    def _copy_line(self, index: int, width: int) -> Strip:
        """A right-aligned "copy code" link under block ``index``."""
        assert self._markdown is not None
        style = self._markdown.link_style + Style.from_meta({"@click": f"copy_block({index})"})
        label = COPY_LABEL[: max(0, width)]
        pad = max(0, width - len(label))
        return Strip([Segment(" " * pad), Segment(label, style)], width)

    def action_copy_block(self, index: int) -> None:
        """Copy the code of finished block ``index`` (its "copy code" link)."""
        if 0 <= index < len(self._blocks):
            for language, code in fenced_code(self._blocks[index]):
                self.post_message(CopyRequested(code, f"the {language or 'code'} block", "code"))
                return

    # ------------------------------------------------------------ selection

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The selected text, as rendered (Textual's mouse selection)."""
        lines = self._lines_at(self.content_size.width)
        text = "\n".join(strip.text.rstrip() for strip in lines)
        return selection.extract(text), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        """Repaint with (or without) the selection's highlight."""
        self.refresh()

    def _render_text(self, text: str, width: int) -> list[Strip]:
        assert self._markdown is not None
        console = self.app.console
        options = self.app.console_options.update_width(max(1, width))
        with console.use_theme(self._markdown.theme):
            rows = console.render_lines(self._markdown.renderable(text), options, pad=True)
        strips = [Strip(row, width) for row in rows]
        # Rich puts a blank line before a list or quote that opens the text,
        # and one after the last line; blocks are joined with one blank line.
        start, end = 0, len(strips)
        while start < end and _is_blank(strips[start]):
            start += 1
        while end > start and _is_blank(strips[end - 1]):
            end -= 1
        return strips[start:end]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """Height of the rendered Markdown at ``width``."""
        return len(self._lines_at(width))

    def notify_style_update(self) -> None:
        """CSS or theme changed: recompute colours on the next render."""
        super().notify_style_update()
        self._style = None

    def render_line(self, y: int) -> Strip:
        """Line ``y`` in the widget's colours."""
        width = self.content_size.width
        lines = self._lines_at(width)
        if self._style is None:
            self._style = self.rich_style
        style = self._style
        if y >= len(lines):
            return Strip.blank(width, style)
        strip = lines[y]
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(y)) is not None:
            start, end = span
            end = strip.cell_length if end == -1 else end
            selected = self.screen.get_component_rich_style("screen--selection")
            left, middle, right = strip.divide([start, end, strip.cell_length])
            strip = Strip.join([left, middle.apply_style(selected), right])
            return strip.apply_style(style).apply_offsets(0, y)
        # Offsets map a mouse position to the text under it (for selection).
        # Adding them costs about 30 times more than the style, so a line is
        # kept until its strip or the colours change (most repaints redraw
        # lines that did not).
        cached = self._painted.get(y)
        if cached is not None and cached[0] is strip and cached[1] is style:
            return cached[2]
        painted = strip.apply_style(style).apply_offsets(0, y)
        self._painted[y] = (strip, style, painted)
        return painted


def _is_blank(strip: Strip) -> bool:
    """A row of unstyled spaces (a new line Rich adds around blocks)."""
    return all(
        not seg.text.strip() and (seg.style is None or not seg.style.bgcolor) for seg in strip
    )
