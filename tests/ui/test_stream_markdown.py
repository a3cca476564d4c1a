"""The streaming Markdown widget: incremental rendering, growth, spacing, themes."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App, ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.strip import Strip
from textual.widget import Widget

from asynclm_tui.ui.streaming.stream_markdown import StreamingMarkdown
from asynclm_tui.ui.textual_internals import LayoutOnce

TEXT = (
    "## Title\n\nSome **bold** words.\n\n- one\n- two\n\n"
    "```python\ndef f() -> int:\n    return 1\n```\n\nThe end"
)


class Host(App[None]):
    CSS = "StreamingMarkdown { height: auto; }"

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield StreamingMarkdown()


def count_layouts(app: App[None]) -> Callable[[], int]:
    """Count the screen's layout passes from now on (call the result to read)."""
    calls = 0
    refresh_layout = app.screen._refresh_layout

    def counting(*args: object, **kwargs: object) -> None:
        nonlocal calls
        calls += 1
        refresh_layout(*args, **kwargs)  # type: ignore[arg-type]

    app.screen._refresh_layout = counting  # type: ignore[method-assign]
    return lambda: calls


def plain(widget: StreamingMarkdown) -> list[str]:
    return [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]


async def test_streamed_text_renders_like_the_whole_and_reuses_finished_blocks() -> None:
    app = Host()
    async with app.run_test(size=(60, 30)) as pilot:
        md = app.query_one(StreamingMarkdown)
        rendered: list[str] = []
        original = md._render_text

        def counting(text: str, width: int):  # type: ignore[no-untyped-def]
            rendered.append(text)
            return original(text, width)

        md._render_text = counting  # type: ignore[method-assign]
        for i in range(0, len(TEXT), 7):
            md.append(TEXT[i : i + 7])
            await pilot.pause()
        await pilot.pause()
        lines = plain(md)
        assert md.source == TEXT
        assert lines[0] == "Title"
        assert "Some bold words." in lines
        assert any(line.endswith("one") and "•" in line for line in lines)
        assert any("def f() -> int:" in line for line in lines)
        assert lines[-1] == "The end"
        assert "**" not in "".join(lines)  # Markdown, not source
        # Each finished block was rendered once; re-renders are of the open tail
        # (whose text always ends in what is still being written).
        for block in ("## Title", "Some **bold** words.", "- one\n- two"):
            assert rendered.count(block) == 1, block


async def test_height_is_the_texts_so_the_transcript_scrolls_line_by_line() -> None:
    app = Host()
    async with app.run_test(size=(60, 30)) as pilot:
        md = app.query_one(StreamingMarkdown)
        md.append("one line")
        await pilot.pause()
        assert md.size.height == 1
        assert plain(md) == ["one line"]
        md.append(" and more\n\nsecond")
        await pilot.pause()
        assert plain(md) == ["one line and more", "", "second"]


async def test_one_blank_line_between_blocks_whatever_they_are() -> None:
    # Rich opens a list or a quote with a blank line of its own: with the
    # blank line between blocks that made two.
    app = Host()
    async with app.run_test(size=(60, 30)) as pilot:
        md = app.query_one(StreamingMarkdown)
        text = "Para.\n\n- one\n- two\n\n> quoted\n\n1. first\n\nAfter:\n- tight"
        for i in range(0, len(text), 4):
            md.append(text[i : i + 4])
            await pilot.pause()
        assert [line.strip() for line in plain(md)] == [
            "Para.",
            "",
            "• one",
            "• two",
            "",
            "▌ quoted",
            "",
            "1 first",
            "",
            "After:",
            "",
            "• tight",
        ]


async def test_theme_change_recolours_the_text() -> None:
    app = Host()
    async with app.run_test(size=(60, 30)) as pilot:
        md = app.query_one(StreamingMarkdown)
        md.append("## Heading\n\ntext")
        await pilot.pause()
        dark = md.render_line(0)
        app.theme = "textual-light"
        await pilot.pause()
        light = md.render_line(0)
        assert dark.text == light.text
        assert list(dark) != list(light)


class Box(Vertical, LayoutOnce):
    """A bordered, padded container that grows with its answer (like AssistantEntry)."""


class Pair(App[None]):
    CSS = """
    Box { border: round red; padding: 0 1; height: auto; }
    StreamingMarkdown { height: auto; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            with Box(id="live"):
                yield StreamingMarkdown()
            with Box(id="fresh"):
                yield StreamingMarkdown()


def lines_of(widget: Widget) -> list[list[tuple[str, str]]]:
    """What the compositor gets from the widget (through its line cache)."""
    strips = widget.render_lines(widget.size.region.reset_offset)
    return [[(seg.text, str(seg.style)) for seg in strip] for strip in strips]


async def test_growth_lays_out_once_repaints_the_bottom_and_draws_like_a_fresh_render() -> None:
    app = Pair()
    async with app.run_test(size=(60, 80)) as pilot:
        live_box, fresh_box = app.query(Box)
        live, fresh = live_box.query_one(StreamingMarkdown), fresh_box.query_one(StreamingMarkdown)
        live.append(TEXT[:40])
        await pilot.pause()
        layouts = count_layouts(app)
        drawn: list[int] = []
        render_line = live.render_line

        def recording(y: int) -> Strip:
            drawn.append(y)
            return render_line(y)

        live.render_line = recording  # type: ignore[method-assign]
        height, open_block = live.size.height, live._tail_start
        live.append(TEXT[40:120])  # the open block ends lower: the widget grows
        await pilot.pause()
        assert live.size.height > height
        assert layouts() == 1  # no second pass for the new virtual size
        # Lines above the block that was open came from the line cache.
        assert 0 < open_block <= min(drawn)
        # Streamed in pieces, with repaints of only the changed lines, the
        # answer and its box draw exactly like a single render of the text.
        for i in range(120, len(TEXT), 9):
            live.append(TEXT[i : i + 9])
            await pilot.pause()
        fresh.append(TEXT)
        await pilot.pause()
        assert lines_of(live) == lines_of(fresh)
        assert lines_of(live_box) == lines_of(fresh_box)


def test_answer_containers_keep_their_container_css() -> None:
    # Textual follows only the first base for CSS type names: with LayoutOnce
    # first, an empty answer drew its CSS identifier instead of a blank box.
    from asynclm_tui.ui.widgets.transcript import AssistantEntry

    for cls in (AssistantEntry, Box):
        assert "Vertical" in cls._css_type_names, cls
