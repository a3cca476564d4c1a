"""Finding, loading and validating tools from YAML directories."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from asynclm_tui.core.api.enums import Deliver, DeliverIdle
from asynclm_tui.core.settings.yaml_source import UserFileError, yaml_files
from asynclm_tui.core.tools.spec import ToolSpec, load_tool_file


class ArgumentError(ValueError):
    """Arguments that do not fit the tool's schema."""


@dataclass
class ToolRegistry:
    """The tools a session may call, by name."""

    tools: dict[str, ToolSpec] = field(default_factory=dict)
    errors: list[UserFileError] = field(default_factory=list)
    """Files that failed to load; the others still loaded."""

    @classmethod
    def load(cls, paths: Iterable[Path], disabled: Iterable[str] = ()) -> ToolRegistry:
        """Load every tool file under ``paths``; later files override earlier
        ones with the same tool name (user tools override shipped ones)."""
        reg = cls()
        off = set(disabled)
        for file in yaml_files(paths):
            try:
                specs = load_tool_file(file)
            except UserFileError as exc:
                reg.errors.append(exc)
                continue
            for spec in specs:
                if spec.name not in off:
                    reg.tools[spec.name] = spec
        return reg

    def add_function(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        description: str,
        parameters: dict[str, Any] | None = None,
        estimated_ms: float = 500.0,
        timeout_s: float = 30.0,
        max_result_tokens: int | None = None,
        background: bool = False,
        deliver: Deliver = Deliver.INTERRUPT,
        deliver_idle: DeliverIdle = DeliverIdle.ANSWER,
    ) -> ToolSpec:
        """Register a Python callable (sync or async) as a tool."""
        spec = ToolSpec(
            name=name,
            description=description,
            parameters=parameters or {"type": "object", "properties": {}},
            estimated_ms=estimated_ms,
            timeout_s=timeout_s,
            max_result_tokens=max_result_tokens,
            background=background,
            deliver=deliver,
            deliver_idle=deliver_idle,
            handler=fn,
        )
        self.tools[name] = spec
        return spec

    def swap_runner(self, name: str, fn: Callable[..., Any]) -> ToolSpec:
        """Run tool ``name`` with ``fn`` (sync or async, called with the bound
        arguments) instead of its command, HTTP request or Python function.

        Everything the model and the executor read stays as it is (name,
        description, parameters, estimates, timeout, confirm, result budget,
        order in the registry), so the system prompt is unchanged: for offline
        benchmarks and tests of shipped tools that reach the network or disk.

        Raises:
            KeyError: no tool is called ``name``.
        """
        spec = self.tools[name].model_copy(
            update={"command": None, "http": None, "python": None, "handler": fn}
        )
        self.tools[name] = spec
        return spec

    def prompt_key(self) -> tuple[tuple[str, str, str], ...]:
        """What the system prompt says of these tools (names, descriptions,
        parameters), comparable: equal keys describe the same tool set."""
        return tuple(
            (name, spec.description, json.dumps(spec.parameters, sort_keys=True, default=str))
            for name, spec in sorted(self.tools.items())
        )

    def __contains__(self, name: object) -> bool:
        return name in self.tools

    def __len__(self) -> int:
        return len(self.tools)

    def get(self, name: str) -> ToolSpec | None:
        """The tool called ``name``, if registered."""
        return self.tools.get(name)

    def bind(self, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Map positional and keyword arguments to parameter names and
        validate them against the tool's schema.

        Raises:
            KeyError: unknown tool.
            ArgumentError: too many arguments, or a schema violation.
        """
        spec = self.tools[name]
        params = spec.param_names
        if len(args) > len(params):
            raise ArgumentError(f"{name} takes at most {len(params)} positional argument(s)")
        bound: dict[str, Any] = dict(zip(params, args, strict=False))
        for key, value in kwargs.items():
            if key in bound:
                raise ArgumentError(f"argument {key!r} given twice")
            bound[key] = value
        validate_args(spec, bound)
        return bound


def validate_args(spec: ToolSpec, args: Mapping[str, Any]) -> None:
    """Validate ``args`` against ``spec.parameters``.

    Raises:
        ArgumentError: the first schema violation, in one line.
    """
    validator = jsonschema.Draft202012Validator(spec.parameters)
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(args)))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        prefix = f"argument {where!r}: " if where else ""
        raise ArgumentError(f"{prefix}{error.message}")
