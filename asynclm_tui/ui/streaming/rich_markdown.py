"""Rich's Markdown renderer, styled from the Textual theme's variables.

The transcript renders answers with Rich's Markdown (see
:mod:`.stream_markdown` for why).  Every colour comes
from the running theme: heading, link, list and quote styles from the same
variables Textual's own Markdown widget uses, and code highlighting from
Textual's :class:`~textual.highlight.HighlightTheme` token styles with their
``$variables`` resolved.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import ClassVar

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound
from rich.console import Console, ConsoleOptions, JustifyMethod, RenderResult
from rich.markdown import CodeBlock, Heading, Markdown
from rich.style import Style
from rich.syntax import Syntax, SyntaxTheme
from rich.theme import Theme
from textual.color import Color, ColorParseError
from textual.highlight import HighlightTheme


class Palette:
    """Theme variables resolved to concrete colours over the background."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self._vars = variables
        self.background = self._parse(variables.get("background", "#000000"), Color(0, 0, 0))
        self.foreground = self._parse(variables.get("foreground", "#ffffff"), Color(255, 255, 255))

    @staticmethod
    def _parse(value: str, fallback: Color) -> Color:
        try:
            return Color.parse(value)
        except ColorParseError:
            return fallback

    def raw(self, name: str, default: str = "") -> str:
        """Variable ``name`` as the theme wrote it."""
        return self._vars.get(name, default)

    def color(self, name: str, alpha: float = 1.0) -> str:
        """Variable ``name`` as ``#rrggbb``, blended over the background
        (variables may carry alpha; ``auto`` ones read as the foreground)."""
        raw = self._vars.get(name, "")
        color = self.foreground if raw.startswith("auto") else self._parse(raw, self.foreground)
        return (self.background + color.multiply_alpha(alpha)).hex

    def style(self, spec: str) -> str:
        """Translate a Textual style (``"bold $text-accent on $error-muted 80%"``)
        into a Rich style string."""
        words = spec.split()
        alpha = 1.0
        for word in words:
            if word.endswith("%"):
                alpha = float(word[:-1]) / 100
        out: list[str] = []
        for word in words:
            if word.endswith("%"):
                continue
            out.append(self.color(word[1:], alpha) if word.startswith("$") else word)
        return " ".join(out)


def markdown_theme(palette: Palette) -> Theme:
    """The ``markdown.*`` Rich styles for this palette."""
    styles = {
        "markdown.paragraph": "",
        "markdown.em": "italic",
        "markdown.strong": "bold",
        "markdown.s": "strike",
        "markdown.code": f"bold {palette.color('text-accent')} on {palette.color('surface')}",
        "markdown.code_block": f"on {palette.color('surface')}",
        "markdown.block_quote": f"italic {palette.color('foreground-muted')}",
        "markdown.hr": palette.color("foreground-muted", 0.5),
        "markdown.list": "",
        "markdown.item": "",
        "markdown.item.bullet": f"bold {palette.color('text-primary')}",
        "markdown.item.number": f"bold {palette.color('text-primary')}",
        "markdown.link": f"underline {palette.color('text-primary')}",
        "markdown.link_url": f"underline {palette.color('text-secondary')}",
        "markdown.table.header": f"bold {palette.color('text-primary')}",
        "markdown.table.border": palette.color("foreground-muted", 0.5),
        "markdown.h1.border": palette.color("markdown-h1-color"),
    }
    for level in range(1, 7):
        text_style = palette.raw(f"markdown-h{level}-text-style", "bold")
        text_style = "" if text_style == "none" else text_style
        styles[f"markdown.h{level}"] = f"{text_style} {palette.color(f'markdown-h{level}-color')}"
    return Theme(styles, inherit=True)


TokenType = tuple[str, ...]
"""A Pygments token type (a tuple such as ``("Keyword", "Constant")``)."""


class ThemeSyntax(SyntaxTheme):
    """Code colours from Textual's highlight theme, resolved for this palette."""

    def __init__(self, palette: Palette) -> None:
        self._styles: dict[TokenType, Style] = {
            tuple(token): Style.parse(palette.style(spec) or "none")
            for token, spec in HighlightTheme.STYLES.items()
        }
        self._background = Style(bgcolor=palette.color("surface"))
        self._cache: dict[TokenType, Style] = {}

    def get_style_for_token(self, token_type: TokenType) -> Style:
        """The style of the token type, or of its nearest styled ancestor."""
        key = tuple(token_type)
        style = self._cache.get(key)
        if style is None:
            node = key
            while node and node not in self._styles:
                node = node[:-1]  # a token type's parent is its prefix
            style = self._styles.get(node, Style.null())
            self._cache[key] = style
        return style

    def get_background_style(self) -> Style:
        """Code blocks sit on the theme's surface colour."""
        return self._background


class _LeftHeading(Heading):
    """Headings flush left, like the rest of the transcript."""

    LEVEL_ALIGN: ClassVar[dict[str, JustifyMethod]] = dict.fromkeys(
        ("h1", "h2", "h3", "h4", "h5", "h6"), "left"
    )


LEXER_OPTIONS = {"stripnl": False, "ensurenl": True, "tabsize": 4}
"""The options Rich's Syntax gives the lexers it builds."""
COMMON_FENCES = (
    "python",
    "bash",
    "sh",
    "console",
    "json",
    "yaml",
    "toml",
    "javascript",
    "typescript",
    "c",
    "cpp",
    "rust",
    "go",
    "java",
    "html",
    "css",
    "sql",
    "diff",
    "text",
)
"""Fence names whose lexers :func:`warm_lexers` prepares before the first answer."""
_lexers: dict[str, Lexer] = {}
"""Lexers by fence name, for every theme.  Rich's Syntax looks a name up in
Pygments' whole registry on every use, and a lexer class compiles its
regular expressions on first use (about 70 ms for Python): a streamed code
block is re-rendered several times a second on the UI thread."""


def lexer_for(name: str) -> Lexer:
    """The lexer for a fence name; unknown names show as plain text."""
    lexer = _lexers.get(name)
    if lexer is None:
        try:
            lexer = get_lexer_by_name(name, **LEXER_OPTIONS)
        except ClassNotFound:
            lexer = get_lexer_by_name("text", **LEXER_OPTIONS)
        _lexers[name] = lexer
    return lexer


def warm_lexers(names: tuple[str, ...] = COMMON_FENCES) -> None:
    """Import and compile the lexers for ``names`` (call off the UI thread)."""
    for name in names:
        lexer_for(name)  # a lexer class compiles its expressions when first built


class _ThemedCodeBlock(CodeBlock):
    """A fenced code block highlighted with :class:`ThemeSyntax`."""

    syntax_theme: ClassVar[SyntaxTheme | None] = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        theme = self.syntax_theme if self.syntax_theme is not None else self.theme
        yield Syntax(
            str(self.text).rstrip(),
            lexer_for(self.lexer_name),
            theme=theme,
            word_wrap=True,
            padding=(0, 1),
        )


class ThemedMarkdown:
    """Renders Markdown text to Rich lines with one theme's styles."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        palette = Palette(variables)
        self.theme = markdown_theme(palette)
        self.link_style: Style = self.theme.styles.get("markdown.link", Style(underline=True))
        """How links (and the "copy code" link) look."""
        # A class per palette: Rich builds elements from classes, not instances.
        code_block = type("CodeBlock", (_ThemedCodeBlock,), {"syntax_theme": ThemeSyntax(palette)})
        self._markdown_cls: type[Markdown] = type(
            "Markdown",
            (Markdown,),
            {
                "elements": {
                    **Markdown.elements,
                    "heading_open": _LeftHeading,
                    "fence": code_block,
                    "code_block": code_block,
                }
            },
        )
        # Rich's Markdown builds a new parser per instance, which costs more
        # than parsing a streamed block; one parser is built here instead,
        # configured as Rich configures its own.
        self._parser = MarkdownIt().enable("strikethrough").enable("table")
        self._template = self._markdown_cls("", hyperlinks=False)

    def renderable(self, text: str) -> Markdown:
        """A Rich renderable for ``text``; a single newline breaks the line
        (a model's newline is meant: a poem, an address), as chat clients
        show it, instead of Markdown's soft break into a space."""
        markdown = copy.copy(self._template)
        markdown.markup = text
        markdown.parsed = hard_breaks(self._parser.parse(text))
        return markdown


def hard_breaks(tokens: list[Token]) -> list[Token]:
    """``tokens`` with every soft line break made a hard one (in place)."""
    for token in tokens:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type = "hardbreak"
    return tokens


@functools.lru_cache(maxsize=8)
def _themed(variables: tuple[tuple[str, str], ...]) -> ThemedMarkdown:
    return ThemedMarkdown(dict(variables))


def themed_markdown(variables: Mapping[str, str]) -> ThemedMarkdown:
    """The renderer for a palette, shared by every widget that uses it:
    building one (its element classes and two parsers) costs more than
    rendering a paragraph, and a chat has dozens of Markdown widgets."""
    return _themed(tuple(sorted(variables.items())))
