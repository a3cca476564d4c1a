"""Settings: the example file, lookup order, overrides and errors; model.lora (its flags are
tested with the CLI, tests/cli/test_options.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from asynclm_tui.core.backends.adapter import SHIPPED_WHY, choose_adapter, prompt_style_for
from asynclm_tui.core.backends.base import BackendInfo
from asynclm_tui.core.settings import paths
from asynclm_tui.core.settings.config import Settings, load_settings
from asynclm_tui.core.settings.yaml_source import UserFileError

EXAMPLE = Path(__file__).parent.parent.parent / "config.example.yaml"


def test_example_config_loads_and_matches_defaults() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.model_dump() == Settings().model_dump()


def test_example_documents_every_field() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    for section, model in Settings.model_fields.items():
        if section == "source":
            continue
        found = model.annotation.model_fields.items()  # type: ignore[union-attr]
        fields = {f.alias or name for name, f in found}  # as written in the file
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


# ------------------------------------------------------------ model.lora and --lora


@pytest.mark.parametrize(
    ("value", "expected"),
    [("off", "off"), ("'off'", "off"), ("false", "off"), ("", None), ("''", None)],
)
def test_lora_off_and_empty(tmp_path: Path, value: str, expected: str | None) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model:\n  lora: {value}\n")
    assert load_settings(cfg).model.lora == expected


def test_lora_path_is_relative_to_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {lora: adapters/cml.gguf}\n")
    settings = load_settings(cfg)
    assert settings.model.lora == (tmp_path / "adapters" / "cml.gguf").resolve()
    assert not settings.overridden("model.lora")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("true", "true is not an adapter: give a GGUF file, off, or leave it empty"),
        ("3", "3 is not an adapter: give a GGUF file, off, or leave it empty"),
        ("[a.gguf]", "['a.gguf'] is not an adapter"),
    ],
)
def test_bad_lora_names_file_line_and_field(tmp_path: Path, value: str, problem: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(f"model:\n  n_ctx: 2048\n  lora: {value}\n")
    with pytest.raises(UserFileError) as info:
        load_settings(cfg)
    assert str(info.value).startswith(f"{cfg}:3: model.lora: {problem}")


def test_prompt_style_defaults_to_auto_and_is_checked(tmp_path: Path) -> None:
    assert Settings().generation.prompt_style == "auto"
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("generation:\n  prompt_style: tiny\n")
    with pytest.raises(UserFileError, match=r":2: generation.prompt_style: Input should be 'auto'"):
        load_settings(cfg)


def test_adapter_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = tmp_path / "site" / "SmolLM2.gguf"
    shipped = tmp_path / "adapters" / "cml.gguf"
    own = tmp_path / "own.gguf"
    monkeypatch.setattr(paths, "bundled_model", lambda: bundled)
    monkeypatch.setattr(paths, "shipped_adapter", lambda: shipped)
    mine = tmp_path / "mine.gguf"

    def choice(settings: Settings, model: Path) -> tuple[Path | None, str]:
        got = choose_adapter(settings, model)
        return got.path, got.why

    plain = load_settings(None)
    assert choice(plain, bundled) == (shipped, SHIPPED_WHY)
    assert choice(plain, own) == (None, "none: your own model")
    assert choice(load_settings(None, {"model.lora": mine}), own) == (mine, "from --lora")
    assert choice(load_settings(None, {"model.lora": "off"}), bundled) == (None, "none: --no-lora")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {lora: off}\n")
    assert choice(load_settings(cfg), bundled) == (None, f"none: model.lora in {cfg} is off")
    monkeypatch.setattr(paths, "shipped_adapter", lambda: None)
    assert choice(plain, bundled)[0] is None


def test_shipped_adapter_is_the_file_or_none() -> None:
    found = paths.shipped_adapter()
    assert found is None or found.name == paths.SHIPPED_ADAPTER_FILE and found.is_file()


def test_prompt_style_auto_follows_the_adapter() -> None:
    def info(lora: str) -> BackendInfo:
        return BackendInfo("m.gguf", 2048, 1, 1, 0, False, 1, {"lora": lora})

    assert prompt_style_for("auto", info("/a/cml.gguf")) == "compact"
    assert prompt_style_for("auto", info("")) == "full"
    assert prompt_style_for("auto", None) == "full"
    assert prompt_style_for("full", info("/a/cml.gguf")) == "full"
    assert prompt_style_for("compact", info("")) == "compact"
