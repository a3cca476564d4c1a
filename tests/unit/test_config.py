"""Settings: the example file, lookup order, overrides and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from asynclm_tui.core.config import Settings, load_settings
from asynclm_tui.core.yamlsrc import UserFileError

EXAMPLE = Path(__file__).parent.parent.parent / "config.example.yaml"


def test_example_config_loads_and_matches_defaults() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.model_dump() == Settings().model_dump()


def test_example_documents_every_field() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    for section, model in Settings.model_fields.items():
        if section == "source":
            continue
        fields = set(model.annotation.model_fields)  # type: ignore[union-attr]
        assert set(data[section]) == fields, section


def test_lookup_env_then_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "asynclm").mkdir(parents=True)
    (xdg / "asynclm" / "config.yaml").write_text("generation: {mode: sync}\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.delenv("ASYNCLM_CONFIG", raising=False)
    assert load_settings().generation.mode == "sync"
    env_file = tmp_path / "env.yaml"
    env_file.write_text("generation: {mode: parallel}\n")
    monkeypatch.setenv("ASYNCLM_CONFIG", str(env_file))
    assert load_settings().generation.mode == "parallel"
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("generation: {mode: async}\n")
    settings = load_settings(explicit, {"generation.temperature": 0.7, "model.seed": None})
    assert settings.generation.mode == "async" and settings.generation.temperature == 0.7


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {path: models/m.gguf}\ntools: {dirs: [mytools]}\n")
    settings = load_settings(cfg)
    assert settings.model.path == (tmp_path / "models" / "m.gguf").resolve()
    assert settings.tools.dirs == [tmp_path / "mytools"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("generation:\n  mode: turbo\n", ":2: generation.mode: Input should be"),
        ("model:\n  n_ctx: 10\n", ":2: model.n_ctx: Input should be greater than or equal to 256"),
        ("ui:\n  colour: red\n", ":2: ui.colour: unknown field"),
        ("tools: [1]\n", ":1: tools: Input should be a valid dictionary"),
        ("- 1\n", ":1: the config must be a mapping"),
        ("model: {n_ctx: [}\n", ":1: invalid YAML"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, body: str, expected: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(body)
    with pytest.raises(UserFileError) as info:
        load_settings(cfg)
    assert str(info.value).startswith(str(cfg) + expected)


def test_bad_override_names_the_flag() -> None:
    with pytest.raises(UserFileError, match="generation.max_tokens"):
        load_settings(EXAMPLE, {"generation.max_tokens": 0})
