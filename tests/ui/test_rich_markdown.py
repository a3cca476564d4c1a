"""Answers rendered with Rich's Markdown in the theme's colours."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType
from textual.app import App

from asynclm_tui.ui.streaming.rich_markdown import ThemedMarkdown

TEXT = (
    "## Title\n\nSome **bold**, ~~struck~~ and `code`.\n\n- one\n- two\n\n"
    "| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\ndef f() -> int:\n    return 1\n```\n"
)


def render(markdown: ThemedMarkdown, renderable: RenderableType, styles: bool = True) -> str:
    console = Console(width=60, file=io.StringIO(), color_system="truecolor", record=True)
    with console.use_theme(markdown.theme):
        console.print(renderable)
    return console.export_text(styles=styles)


def themed() -> ThemedMarkdown:
    return ThemedMarkdown(App[None]().get_css_variables())


def test_one_parser_renders_like_rich_building_its_own() -> None:
    markdown = themed()
    ours = render(markdown, markdown.renderable(TEXT))
    assert ours == render(markdown, markdown._markdown_cls(TEXT, hyperlinks=False))
    plain = render(markdown, markdown.renderable(TEXT), styles=False)
    assert "~~" not in plain and "|---|" not in plain  # strikethrough and tables parsed
    # Renderables share the parser, not their text.
    assert "Title" not in render(markdown, markdown.renderable("other words"))
    assert render(markdown, markdown.renderable(TEXT)) == ours


def test_code_is_highlighted_and_an_unknown_language_is_plain_text() -> None:
    markdown = themed()
    python = render(markdown, markdown.renderable("```python\nx = 1\n```"))
    unknown = render(markdown, markdown.renderable("```no-such-language\nx = 1\n```"))
    assert "x = 1" in unknown
    assert python != unknown  # Python tokens got their own colours


def test_a_single_newline_breaks_the_line_as_the_model_wrote_it() -> None:
    # A poem's lines, an address: Markdown would join them with a space.
    markdown = themed()
    plain = render(markdown, markdown.renderable("Roses are red,\nviolets are blue."), False)
    assert [line.rstrip() for line in plain.splitlines() if line.strip()] == [
        "Roses are red,",
        "violets are blue.",
    ]
    listed = render(markdown, markdown.renderable("- one\n  more\n- two"), False)
    assert "one more" not in listed and "more" in listed
