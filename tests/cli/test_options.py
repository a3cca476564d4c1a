"""The options several commands share: declared once, the same on every command
that takes them (flags, metavar, help text, effect on the settings)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from asynclm_tui.cli.app import app
from asynclm_tui.cli.errors import CliError
from asynclm_tui.cli.options import ModelOptions, OutputOptions, SessionOptions, ToolOptions
from asynclm_tui.core.settings.config import Settings

GROUPS = (ModelOptions, ToolOptions, SessionOptions, OutputOptions)
SHARED = {f.name for group in GROUPS for f in dataclasses.fields(group)}

OWN_MEANINGS = {
    ("run", "--json"): "one JSON event per line, not a table's JSON",
    ("run", "--debug"): "also prints a failure's traceback on stderr",
    ("sessions list", "--json"): "JSON lines of saved chats",
    ("mcp list", "--json"): "each server's state and tools as one JSON document",
    ("sessions delete", "--yes"): "do not ask before deleting",
    ("sessions delete", "-y"): "do not ask before deleting",
    ("bench ui", "--threads"): "a list of thread counts to measure",
    ("bench screen", "--threads"): "a list of thread counts to measure",
    ("bench bfcl", "--json"): "a file to write the results to",
    ("train run", "--threads"): "torch threads",
}
"""Commands whose own option has a shared option's flag but another meaning."""


def commands() -> dict[str, Any]:
    """Every command by its path ("" is ``asynclm`` itself, which takes the chat's options)."""
    found: dict[str, Any] = {}

    def walk(path: str, command: Any) -> None:
        found[path] = command
        for name, sub in getattr(command, "commands", {}).items():
            walk(f"{path} {name}".strip(), sub)

    walk("", get_command(app))
    return found


def shared_params() -> dict[str, dict[str, Any]]:
    """Shared field name -> command path -> its click parameter."""
    taken: dict[str, dict[str, Any]] = {}
    for path, command in commands().items():
        for param in command.params:
            if param.name in SHARED:
                taken.setdefault(param.name, {})[path] = param
    return taken


def describe(param: Any, command: Any) -> tuple[object, ...]:
    ctx = typer.Context(command)
    return (
        tuple(param.opts),
        tuple(param.secondary_opts),
        param.metavar,
        param.help,
        param.get_help_record(ctx),
        param.default,
        param.multiple,
        param.is_flag,
        repr(param.bare_type),
        (param.min, param.max),
    )


def test_each_shared_option_is_declared_alike_on_every_command_that_takes_it() -> None:
    taken = shared_params()
    assert set(taken) == SHARED, f"shared options no command takes: {SHARED - set(taken)}"
    every = commands()
    for name, where in taken.items():
        assert len(where) >= 2, f"{name} is taken by {list(where)} alone: not shared"
        described = {path: describe(param, every[path]) for path, param in where.items()}
        first_path, first = next(iter(described.items()))
        for path, seen in described.items():
            assert seen == first, f"{name}: `asynclm {path}` differs from `asynclm {first_path}`"


def test_a_shared_flag_means_something_else_only_where_listed() -> None:
    flags = {
        flag: name
        for name, where in shared_params().items()
        for param in where.values()
        for flag in param.opts
    }
    clashes = set()
    for path, command in commands().items():
        for param in command.params:
            for flag in getattr(param, "opts", []):
                if flag in flags and param.name != flags[flag]:
                    clashes.add((path, flag))
    assert clashes == set(OWN_MEANINGS)


def test_the_model_adapter_flags_come_with_every_model_flag_but_the_servers() -> None:
    for path, command in commands().items():
        names = {p.name for p in command.params}
        if "model_path" in names and path != "bench wire":  # a server applies no client adapter
            assert {"lora", "no_lora"} <= names, path


class Stop(Exception):
    """Raised once the settings are built: the command's work is not the point here."""


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Settings]:
    """The settings each command builds, then the command stopped."""
    monkeypatch.delenv("ASYNCLM_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    seen: list[Settings] = []
    real = ModelOptions.load_settings

    def load(self: ModelOptions, *args: Any, **kwargs: Any) -> Settings:
        seen.append(real(self, *args, **kwargs))
        raise Stop

    monkeypatch.setattr(ModelOptions, "load_settings", load)
    return seen


def effects(tmp_path: Path) -> dict[str, tuple[list[str], Any]]:
    """Shared field -> (flag and value, check of the settings it leads to)."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("generation: {temperature: 0.25}\n")
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    adapter = tmp_path / "a.gguf"
    tools = tmp_path / "tools"
    tools.mkdir()
    return {
        "config": (
            ["--config", str(cfg)],
            lambda s: s.source == cfg and s.generation.temperature == 0.25,
        ),
        "model_path": (["--model", str(model)], lambda s: s.model.path == model),
        "lora": (["--lora", str(adapter)], lambda s: s.model.lora == adapter),
        "no_lora": (["--no-lora"], lambda s: s.model.lora == "off"),
        "backend": (["--backend", "openai"], lambda s: s.model.backend == "openai"),
        "base_url": (
            ["--base-url", "http://127.0.0.1:9"],
            lambda s: s.server.base_url == "http://127.0.0.1:9" and s.model.backend == "openai",
        ),
        "api_key_env": (["--api-key-env", "MY_KEY"], lambda s: s.server.api_key_env == "MY_KEY"),
        "chat_format": (["--chat-format", "chatml"], lambda s: s.model.chat_format == "chatml"),
        "n_threads": (["--threads", "3"], lambda s: s.model.n_threads == 3),
        "tool_paths": (["--tools", str(tools)], lambda s: s.tools.dirs[-1:] == [tools]),
        "mode": (["--mode", "sync"], lambda s: s.generation.mode == "sync"),
        "approve_all": (["--yes"], lambda s: s.tools.approval == "always"),
    }


REQUIRED_ARGS = {"run": ["x"]}
"""What a command needs besides the option under test to get as far as its settings."""


def test_each_shared_option_has_the_same_effect_on_the_settings_everywhere(
    recorded: list[Settings], tmp_path: Path
) -> None:
    checks = effects(tmp_path)
    runner = CliRunner()
    tried = 0
    for name, where in shared_params().items():
        if name not in checks:
            continue  # not a setting: --script, --session, --db, --json ...
        flag, holds = checks[name]
        for path in where:
            args = [*path.split(), *REQUIRED_ARGS.get(path, []), *flag]
            recorded.clear()
            result = runner.invoke(app, args)
            assert isinstance(result.exception, Stop), (args, result.output, result.exception)
            [settings] = recorded
            assert holds(settings), f"{args}: {name} did not reach the settings"
            tried += 1
    assert tried > 50


def test_lora_flags(tmp_path: Path) -> None:
    adapter = tmp_path / "a.gguf"
    given = ModelOptions(lora=adapter).load_settings()
    assert given.model.lora == adapter and given.overridden("model.lora")
    assert ModelOptions(no_lora=True).load_settings().model.lora == "off"
    assert ModelOptions().load_settings().model.lora is None
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {lora: off}\n")
    assert ModelOptions(config=cfg, lora=adapter).load_settings().model.lora == adapter


def test_lora_and_no_lora_together_is_a_usage_error() -> None:
    with pytest.raises(CliError) as info:
        ModelOptions(lora=Path("a.gguf"), no_lora=True).load_settings()
    assert info.value.code == 2
    assert str(info.value) == "--lora and --no-lora: give one of them"


def test_lora_with_a_server_is_refused() -> None:
    with pytest.raises(CliError, match="^--lora: an adapter applies to the in-process model"):
        ModelOptions(lora=Path("a.gguf"), backend="openai").load_settings()
