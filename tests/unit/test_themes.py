"""Theme files: validation in the core, conversion to Textual themes in the UI."""

from __future__ import annotations

from pathlib import Path

import pytest

from asynclm_tui.core.settings import paths
from asynclm_tui.core.settings.themes import ThemeSpec, load_theme_specs
from asynclm_tui.ui.theming import load_themes, to_textual_theme

SHIPPED = {"asynclm-dark", "asynclm-light", "asynclm-high-contrast"}


def test_shipped_themes_load_without_errors() -> None:
    load = load_theme_specs([paths.shipped_themes_dir()])
    assert load.errors == []
    assert set(load.themes) >= SHIPPED
    assert load.themes["asynclm-light"].dark is False


def test_shipped_themes_convert_to_textual() -> None:
    loaded = load_themes([paths.shipped_themes_dir()])
    assert loaded.errors == []
    assert {t.name for t in loaded.themes} >= SHIPPED


def test_bad_colour_reports_path_and_line(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("name: good\nprimary: '#112233'\n")
    (tmp_path / "bad.yaml").write_text("name: bad\ndark: true\nprimary: not-a-colour\n")
    load = load_theme_specs([tmp_path])
    assert set(load.themes) == {"good"}
    assert len(load.errors) == 1
    message = str(load.errors[0])
    assert message.startswith(f"{tmp_path / 'bad.yaml'}:3: primary:")
    assert "not a colour" in message


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("name: x\nprimary: '#fff'\nsparkle: 1\n", ":3: sparkle: unknown field"),
        ("name: Bad Name\nprimary: '#fff'\n", ":1: name:"),
        ("- a\n- b\n", "a theme file must be a mapping"),
        ("name: x\nprimary: [\n", "invalid YAML"),
        ("name: x\n", "primary: Field required"),
    ],
)
def test_invalid_files_are_reported_not_raised(tmp_path: Path, text: str, expect: str) -> None:
    (tmp_path / "t.yaml").write_text(text)
    load = load_theme_specs([tmp_path])
    assert load.themes == {}
    assert expect in str(load.errors[0])


def test_user_theme_overrides_shipped_by_name(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("name: asynclm-dark\nprimary: '#ff0000'\n")
    load = load_theme_specs([paths.shipped_themes_dir(), tmp_path])
    assert load.themes["asynclm-dark"].primary == "#ff0000"
    assert load.sources["asynclm-dark"] == tmp_path / "mine.yaml"


def test_variables_pass_through() -> None:
    spec = ThemeSpec(name="v", primary="#123456", variables={"footer-key-foreground": "#abcdef"})
    theme = to_textual_theme(spec)
    assert theme.variables == {"footer-key-foreground": "#abcdef"}
    assert theme.primary == "#123456"
