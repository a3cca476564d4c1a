"""Theme files: YAML colour schemes validated without any UI import.

A theme file (shipped ``themes/*.yaml`` or the user's XDG ``themes`` dir)
names a theme and its base colours; the UI converts a :class:`ThemeSpec` into
a Textual theme.  This module must stay free of Textual and Rich so the core
can be used headless (a test enforces it).  One bad file never stops the
others from loading: :func:`load_theme_specs` returns both the good themes and
the ``path:line: message`` errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from asynclm_tui.core.settings.yaml_source import (
    UserFileError,
    load_yaml,
    pydantic_problem,
    yaml_files,
)

_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})\Z")
_FUNC = re.compile(r"(?:rgb|rgba|hsl|hsla)\(\s*[-0-9.%]+(?:\s*,\s*[-0-9.%]+){2,3}\s*\)\Z")
_NAME = re.compile(r"[a-z][a-z0-9-]*\Z")
_VARIABLE = re.compile(r"[a-z][a-z0-9-]*\Z")


def _check_colour(value: str) -> str:
    """Accept ``#rgb``, ``#rrggbb``(``aa``), ``rgb()``/``rgba()``/``hsl()``/``hsla()``."""
    text = value.strip()
    if _HEX.match(text) or _FUNC.match(text):
        return text
    raise ValueError(f"{value!r} is not a colour (use #rrggbb, rgb(r, g, b) or hsl(h, s%, l%))")


COLOUR_FIELDS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
"""The colour fields of a theme file (all optional but ``primary``)."""


class ThemeSpec(BaseModel):
    """One theme file, validated.

    Colour fields mirror Textual's base colours; anything left out is derived
    from ``primary`` by Textual's colour system.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    """Theme name used by ``ui.theme``, ``--theme`` and the command palette."""
    dark: bool = True
    """Whether this is a dark theme (Textual derives shades accordingly)."""
    primary: str
    """The main accent colour: borders, focus, selection."""
    secondary: str | None = None
    """A second accent colour."""
    accent: str | None = None
    """Highlights such as call chips."""
    warning: str | None = None
    """Warnings and calls awaiting approval."""
    error: str | None = None
    """Errors, failed and cancelled calls."""
    success: str | None = None
    """Finished calls and result chips."""
    foreground: str | None = None
    """Default text colour."""
    background: str | None = None
    """Screen background."""
    surface: str | None = None
    """Background of widgets such as the input and panels."""
    panel: str | None = None
    """Background of docked bars (status bar, headers)."""
    boost: str | None = None
    """A translucent colour layered on surfaces for emphasis."""
    variables: dict[str, str] = Field(default_factory=dict)
    """Overrides of individual Textual theme variables, e.g. ``footer-key-foreground``."""
    description: str = ""
    """Free text shown nowhere; for the theme's author."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use lower-case letters, digits and '-' (e.g. my-theme)")
        return value

    @field_validator(*COLOUR_FIELDS)
    @classmethod
    def _colour(cls, value: str | None) -> str | None:
        return None if value is None else _check_colour(value)

    @field_validator("variables")
    @classmethod
    def _variables(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not _VARIABLE.match(key):
                raise ValueError(f"{key!r} is not a theme variable name")
        return value


@dataclass
class ThemeLoad:
    """Result of loading theme files: good themes and per-file errors."""

    themes: dict[str, ThemeSpec] = field(default_factory=dict)
    """Themes by name; later directories override earlier ones."""
    sources: dict[str, Path] = field(default_factory=dict)
    """The file each theme came from."""
    errors: list[UserFileError] = field(default_factory=list)
    """Files that were skipped, as ``path:line: message``."""


def load_theme_file(path: Path) -> ThemeSpec:
    """Read and validate one theme file.

    Raises:
        UserFileError: unreadable file, invalid YAML or an invalid field.
    """
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise UserFileError(path, lines.line_of(()), "a theme file must be a mapping")
    try:
        return ThemeSpec.model_validate(data)
    except ValidationError as exc:
        raise pydantic_problem(path, lines, exc.errors()) from None


def load_theme_specs(dirs: Iterable[Path]) -> ThemeLoad:
    """Load every theme file in ``dirs``; bad files are reported, not raised."""
    result = ThemeLoad()
    for path in yaml_files(dirs):
        try:
            spec = load_theme_file(path)
        except UserFileError as exc:
            result.errors.append(exc)
            continue
        result.themes[spec.name] = spec
        result.sources[spec.name] = path
    return result
