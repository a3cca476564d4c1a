"""Option groups flattened into a command's options (asynclm_tui.cli.flatten)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from asynclm_tui.cli.flatten import OptionGroup, flatten

NameOpt = Annotated[str, typer.Option("--name", metavar="TEXT", help="A name.")]
CountOpt = Annotated[int, typer.Option("--count", metavar="N", help="How many.")]
LoudOpt = Annotated[bool, typer.Option("--loud", help="Shout.")]
SizeOpt = Annotated[int, typer.Option("--size", metavar="N", help="Own option.")]


@dataclass(frozen=True)
class Greeting(OptionGroup):
    name: NameOpt = "world"
    count: CountOpt = 1


@dataclass(frozen=True)
class Voice(OptionGroup):
    loud: LoudOpt = False


def build(*layout: str) -> tuple[typer.Typer, list[tuple[Greeting, Voice, int]]]:
    seen: list[tuple[Greeting, Voice, int]] = []
    app = typer.Typer(rich_markup_mode=None)

    @app.command()
    @flatten(*layout)
    def greet(greeting: Greeting, voice: Voice, size: SizeOpt = 0) -> None:
        """Say hello."""
        seen.append((greeting, voice, size))

    @app.command()
    def other() -> None:
        """Another command (so greet keeps its name)."""

    return app, seen


def option_lines(app: typer.Typer) -> list[str]:
    out = CliRunner().invoke(app, ["greet", "--help"]).output
    return [line.split()[0] for line in out.splitlines() if line.startswith("  --")]


def test_groups_are_built_from_their_flags() -> None:
    app, seen = build()
    result = CliRunner().invoke(app, ["greet", "--name", "ann", "--loud", "--size", "3"])
    assert result.exit_code == 0, result.output
    assert seen == [(Greeting(name="ann", count=1), Voice(loud=True), 3)]


def test_without_a_layout_each_group_stands_where_its_parameter_does() -> None:
    app, _ = build()
    assert option_lines(app) == ["--name", "--count", "--loud", "--size", "--help"]


def test_a_layout_orders_the_options_and_picks_a_groups_fields() -> None:
    app, seen = build("size", "loud", "name")
    assert option_lines(app) == ["--size", "--loud", "--name", "--help"]
    assert CliRunner().invoke(app, ["greet", "--count", "2"]).exit_code == 2  # not offered
    assert CliRunner().invoke(app, ["greet"]).exit_code == 0
    assert seen == [(Greeting(), Voice(), 0)]  # a field left out keeps its default


@pytest.mark.parametrize(
    ("layout", "problem"),
    [
        (("name", "count", "loud", "colour", "size"), r"unknown \['colour'\]"),
        (("name", "loud"), r"own parameters left out \['size'\]"),
        (("name", "name", "size"), "a name given twice"),
    ],
)
def test_a_bad_layout_fails_at_import_time(layout: tuple[str, ...], problem: str) -> None:
    with pytest.raises(TypeError, match=problem):
        build(*layout)


def test_an_own_parameter_may_not_reuse_a_fields_name() -> None:
    def command(greeting: Greeting, name: SizeOpt = 0) -> None:
        """Clashes with Greeting.name."""

    with pytest.raises(TypeError, match="'name' is declared twice"):
        flatten()(command)


@dataclass(frozen=True)
class Bare(OptionGroup):
    name: NameOpt


def test_a_group_field_needs_a_default() -> None:
    def command(bare: Bare) -> None:
        """A group whose option has no default."""

    with pytest.raises(TypeError, match="an option needs a default"):
        flatten()(command)
