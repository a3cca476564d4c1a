"""Turn validated :class:`~asynclm_tui.core.settings.themes.ThemeSpec` files into Textual themes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

from asynclm_tui.core.settings import paths
from asynclm_tui.core.settings.themes import COLOUR_FIELDS, ThemeSpec, load_theme_specs
from asynclm_tui.core.settings.yaml_source import UserFileError

DEFAULT_THEME = "asynclm-dark"
"""Used when the configured theme is unknown."""
CHOSEN_THEME_FILE = "theme"
"""Under the XDG state dir: the theme last picked in the app (command palette)."""


@dataclass
class LoadedThemes:
    """Textual themes ready to register, plus the files that were skipped."""

    themes: list[Theme] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """One ``path:line: message`` per skipped file."""


def to_textual_theme(spec: ThemeSpec) -> Theme:
    """Build a Textual :class:`Theme` from a validated spec.

    Raises:
        ValueError: a colour the core's syntax check accepted but Textual cannot parse.
    """
    colours: dict[str, str | None] = {}
    for name in COLOUR_FIELDS:
        value = getattr(spec, name)
        if value is not None:
            try:
                Color.parse(value)
            except ColorParseError as exc:
                raise ValueError(f"{name}: {exc}") from None
        colours[name] = value
    return Theme(
        name=spec.name,
        dark=spec.dark,
        variables=dict(spec.variables),
        **colours,  # type: ignore[arg-type]
    )


def theme_dirs() -> list[Path]:
    """Shipped themes first, then the user's (which may override them by name)."""
    return [paths.shipped_themes_dir(), paths.user_themes_dir()]


def load_themes(dirs: Iterable[Path] | None = None) -> LoadedThemes:
    """Load and convert every theme file; never raises on a bad file."""
    load = load_theme_specs(theme_dirs() if dirs is None else dirs)
    result = LoadedThemes(errors=[str(err) for err in load.errors])
    for name, spec in load.themes.items():
        try:
            result.themes.append(to_textual_theme(spec))
        except ValueError as exc:
            source = load.sources[name]
            result.errors.append(str(UserFileError(source, None, str(exc))))
    return result


def chosen_theme() -> str | None:
    """The theme last picked in the app, if any (the config file wins over it)."""
    try:
        name = (paths.user_state_dir() / CHOSEN_THEME_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return name or None


def remember_theme(name: str) -> None:
    """Keep ``name`` for the next start; a failure to write costs only that."""
    target = paths.user_state_dir() / CHOSEN_THEME_FILE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(name + "\n", encoding="utf-8")
    except OSError:
        pass
