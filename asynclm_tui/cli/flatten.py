"""Option groups: options declared once and taken by many commands.

Typer builds a command's options from its function's parameters and has no
way to reuse a set of them (clap calls it ``flatten``).  Here an option group
is a frozen dataclass (subclass of :class:`OptionGroup`) whose fields are
``Annotated[T, typer.Option(...)]`` with defaults.  A command takes the group
as one typed parameter; :func:`flatten` shows Typer the group's fields as
parameters instead and calls the command with the group built from their
values::

    @dataclass(frozen=True)
    class ModelOptions(OptionGroup):
        config: Annotated[Path | None, typer.Option("--config", ...)] = None
        model_path: Annotated[Path | None, typer.Option("--model", ...)] = None

    @bench_app.command("decode")
    @flatten("config", "model_path", "tokens")
    def decode(model: ModelOptions, tokens: TokensOpt = 256) -> None: ...

``@flatten()`` offers every field of every group, each group's fields where
its parameter stands.  Given names, the command offers exactly those options,
in that order (its help lists them so): a name is a group's field or one of
the command's own parameters, every own parameter is named, and a group's
fields left out keep their defaults.  A ``typer.Context`` parameter is passed
through first.  Field names are unique across the groups and distinct from
every own parameter's name, which is what lets one test check that an option
means the same on every command that takes it.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, get_type_hints

import typer

Command = Callable[..., Any]


@dataclasses.dataclass(frozen=True)
class OptionGroup:
    """Base of the option groups: frozen dataclasses of typer options, each
    with a default (the value when the flag is not given)."""

    @classmethod
    @functools.cache
    def option_fields(cls) -> Mapping[str, inspect.Parameter]:
        """Each field as the keyword parameter Typer reads its option from."""
        hints = get_type_hints(cls, include_extras=True)
        found: dict[str, inspect.Parameter] = {}
        for field in dataclasses.fields(cls):
            if field.default is dataclasses.MISSING:
                raise TypeError(f"{cls.__name__}.{field.name}: an option needs a default")
            found[field.name] = inspect.Parameter(
                field.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=field.default,
                annotation=hints[field.name],
            )
        return found

    def values(self) -> dict[str, Any]:
        """Field name to the value given (or the default), shallow."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def flatten(*layout: str) -> Callable[[Command], Command]:
    """Give Typer the fields of the command's :class:`OptionGroup` parameters
    as options, in ``layout`` order (default: where each group stands).

    Raises TypeError at import time for a name that is neither a field nor a
    parameter, an own parameter left out, or a name used twice."""

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        context: list[inspect.Parameter] = []
        own: dict[str, inspect.Parameter] = {}
        groups: dict[str, tuple[type[OptionGroup], list[str]]] = {}
        fields: dict[str, inspect.Parameter] = {}
        natural: list[str] = []
        for param in signature.parameters.values():
            kind = param.annotation
            if kind is typer.Context:
                context.append(param)
            elif isinstance(kind, type) and issubclass(kind, OptionGroup):
                mine = kind.option_fields()
                groups[param.name] = (kind, list(mine))
                for name, field in mine.items():
                    _claim(command, name, fields)
                    fields[name] = field
                    natural.append(name)
            else:
                own[param.name] = param.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                natural.append(param.name)
        for name in own:
            _claim(command, name, fields)
        names = list(layout) if layout else natural
        if len(set(names)) != len(names):
            raise TypeError(f"{command.__qualname__}: a name given twice in {names}")
        unknown = [n for n in names if n not in own and n not in fields]
        missing = [n for n in own if n not in names]
        if unknown or missing:
            raise TypeError(
                f"{command.__qualname__}: unknown {unknown}, own parameters left out {missing}"
            )
        params = [*context, *(own[n] if n in own else fields[n] for n in names)]
        offered = set(names)

        @functools.wraps(command)
        def run(**given: Any) -> Any:
            kwargs = {p.name: given[p.name] for p in context}
            kwargs.update({name: given[name] for name in own})
            for name, (group, group_fields) in groups.items():
                kwargs[name] = group(**{f: given[f] for f in group_fields if f in offered})
            return command(**kwargs)

        run.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        run.__annotations__ = {
            **{p.name: p.annotation for p in params},
            "return": signature.return_annotation,
        }
        return run

    return decorate


def _claim(command: Command, name: str, taken: Mapping[str, inspect.Parameter]) -> None:
    if name in taken:
        raise TypeError(f"{command.__qualname__}: {name!r} is declared twice")
