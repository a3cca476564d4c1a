"""The streaming Markdown widget: incremental rendering, growth steps, themes."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from asynclm_tui.ui.widgets.stream_markdown import GROW_LINES, StreamingMarkdown

TEXT = (
    "## Title\n\nSome **bold** words.\n\n- one\n- two\n\n"
    "```python\ndef f() -> int:\n    return 1\n```\n\nThe end"
)


class Host(App[None]):
    CSS = "StreamingMarkdown { height: auto; }"

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield StreamingMarkdown()


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
        md.finish()
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


async def test_height_grows_in_steps_while_streaming_then_fits() -> None:
    app = Host()
    async with app.run_test(size=(60, 30)) as pilot:
        md = app.query_one(StreamingMarkdown)
        md.append("one line")
        await pilot.pause()
        assert md.size.height == GROW_LINES
        assert md.render_line(0).text.strip() == "one line"
        assert md.render_line(GROW_LINES - 1).text.strip() == ""
        md.finish()
        await pilot.pause()
        assert md.size.height == 1


async def test_theme_change_recolours_the_text() -> None:
    app = Host()
    async with app.run_test(size=(60, 30)) as pilot:
        md = app.query_one(StreamingMarkdown)
        md.append("## Heading\n\ntext")
        md.finish()
        await pilot.pause()
        dark = md.render_line(0)
        app.theme = "textual-light"
        await pilot.pause()
        light = md.render_line(0)
        assert dark.text == light.text
        assert list(dark) != list(light)
