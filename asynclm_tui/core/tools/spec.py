"""YAML tool definitions: the schema of one tool file and its validation."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import jsonschema
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from asynclm_tui.core.api.enums import Deliver, DeliverIdle
from asynclm_tui.core.cml.syntax import RESERVED_IDS, is_dotted_name
from asynclm_tui.core.settings.yaml_source import (
    LineMap,
    UserFileError,
    load_yaml,
    pydantic_problem,
)

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


class HttpSpec(BaseModel):
    """An HTTP request made with httpx; ``{param}`` placeholders are filled in."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    """HTTP method."""
    url: str
    """URL template; placeholder values are percent-encoded."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Headers; ``${env:VAR}`` is replaced by the environment variable."""
    query: dict[str, str] = Field(default_factory=dict)
    """Query parameters; a value that is exactly ``{param}`` is dropped when
    the argument is absent."""
    json_body: Any = Field(default=None, alias="json")
    """JSON body; strings that are exactly ``{param}`` keep the argument's type."""
    max_bytes: int = Field(default=65536, gt=0, le=16 * 1024 * 1024)
    """Response size cap; longer bodies are cut."""

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url


class ToolSpec(BaseModel):
    """One tool as written in a YAML file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    """Name the model calls (dotted names allowed)."""
    description: str
    """What the tool does; shown to the model."""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    """JSON Schema (type object) the arguments are validated against."""
    estimated_ms: float = Field(default=500.0, gt=0)
    """Expected duration, shown to the model for longest-first ordering."""
    duration_arg: str | None = None
    """The numeric argument that says how long a call takes (``ms`` of
    ``sleep``): a call that gives it is expected to take that long, instead
    of the moving average of earlier runs."""
    duration_unit: Literal["ms", "s"] = "ms"
    """Unit of :attr:`duration_arg`."""
    timeout_s: float = Field(default=30.0, gt=0, le=86400)
    """The call fails with a timeout error after this many seconds."""
    confirm: bool = False
    """Ask the user before each run."""
    max_output_bytes: int = Field(default=16384, gt=0, le=16 * 1024 * 1024)
    """Cap on a command's captured output."""
    max_result_tokens: int | None = Field(default=None, gt=0, le=1_000_000)
    """Most tokens of a result injected into the model's context (the rest is
    cut, with a marker); empty means ``tools.max_result_tokens`` of the config."""
    background: bool = False
    """An answer ends without waiting for this tool's calls: they run on in
    the background and their results are delivered when they finish."""
    deliver: Deliver = Deliver.INTERRUPT
    """A result that lands while an answer is written: ``interrupt`` it, or
    wait ``when_idle`` (until the answer ends)."""
    deliver_idle: DeliverIdle = DeliverIdle.ANSWER
    """A result that lands while nothing is written: start an ``answer``,
    ``notify`` the user (it goes in with the next message) or keep it
    ``silent`` (the same, unannounced)."""
    command: list[str] | None = None
    """Runner: argv list, never run through a shell."""
    http: HttpSpec | None = None
    """Runner: an HTTP request."""
    python: str | None = None
    """Runner: ``module:function`` (sync or async)."""

    source: Path | None = Field(default=None, exclude=True)
    """File the tool came from."""
    handler: Callable[..., Any] | None = Field(default=None, exclude=True)
    """Runner for tools registered from Python (benchmarks, embedding apps)."""
    handled_by: str | None = Field(default=None, exclude=True)
    """What the handler stands for in listings (``mcp:files``); default ``handler``."""

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not is_dotted_name(name):
            raise ValueError("must be a Python identifier or dotted name")
        if name in RESERVED_IDS:
            raise ValueError(f"{name!r} is reserved")
        return name

    @field_validator("parameters")
    @classmethod
    def _schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("type") not in ("object", "dict"):
            raise ValueError("must be a JSON Schema with type: object")
        schema = {**schema, "type": "object"}
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"invalid JSON Schema: {exc.message}") from None
        return schema

    @field_validator("duration_arg")
    @classmethod
    def _duration_arg(cls, name: str | None, info: ValidationInfo) -> str | None:
        if name is None or "parameters" not in info.data:
            return name
        props = info.data["parameters"].get("properties") or {}
        if name not in props:
            known = ", ".join(props) or "none"
            raise ValueError(f"{name!r} is not a declared parameter (parameters: {known})")
        kind = props[name].get("type") if isinstance(props[name], dict) else None
        if kind not in ("integer", "number"):
            raise ValueError(f"parameter {name!r} must have type integer or number, not {kind}")
        return name

    @field_validator("command")
    @classmethod
    def _argv(cls, argv: list[str] | None) -> list[str] | None:
        if argv is not None and (not argv or not argv[0].strip()):
            raise ValueError("must be a non-empty argv list")
        return argv

    @field_validator("python")
    @classmethod
    def _python(cls, ref: str | None) -> str | None:
        if ref is not None:
            module, _, func = ref.partition(":")
            if not (is_dotted_name(module) and func.isidentifier()):
                raise ValueError("must look like package.module:function")
        return ref

    @property
    def runner(self) -> str:
        """Which runner the tool uses: command, http, python, or what runs its
        handler (``mcp:server``)."""
        for kind in ("command", "http", "python", "handler"):
            if getattr(self, kind) is not None:
                return self.handled_by or kind if kind == "handler" else kind
        raise AssertionError("validated specs have a runner")

    @property
    def param_names(self) -> list[str]:
        """Declared parameter names, in schema order."""
        return list((self.parameters.get("properties") or {}).keys())

    def declared_ms(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> float | None:
        """How long a call with these arguments says it takes (from
        :attr:`duration_arg`), or None when it does not say."""
        if self.duration_arg is None:
            return None
        value = kwargs.get(self.duration_arg)
        index = self.param_names.index(self.duration_arg)
        if value is None and index < len(args):
            value = args[index]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return None
        return float(value) * (1000.0 if self.duration_unit == "s" else 1.0)

    def expected_ms(
        self,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        observed: float | None = None,
    ) -> float:
        """How long a call is expected to take: what its duration argument says,
        else ``observed`` (the runs seen so far), else :attr:`estimated_ms`."""
        declared = self.declared_ms(args, kwargs or {})
        if declared is not None:
            return declared
        return observed if observed is not None else self.estimated_ms

    def templates(self) -> list[tuple[str, str]]:
        """Every templated string with the field it sits in (for checks)."""
        out: list[tuple[str, str]] = []
        if self.command:
            out += [(f"command.{i}", a) for i, a in enumerate(self.command)]
        if self.http:
            out.append(("http.url", self.http.url))
            out += [(f"http.query.{k}", v) for k, v in self.http.query.items()]
            out += _json_strings("http.json", self.http.json_body)
        return out


def _json_strings(where: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _json_strings(f"{where}.{k}", v)]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _json_strings(f"{where}.{i}", v)]
    return []


def _check_runner(spec: ToolSpec, path: Path, lines: LineMap) -> None:
    runners = [k for k in ("command", "http", "python") if getattr(spec, k) is not None]
    if len(runners) != 1:
        found = ", ".join(runners) or "none"
        raise UserFileError(
            path,
            lines.line_of(()),
            f"exactly one runner (command, http or python) is required; found {found}",
        )
    declared = set(spec.param_names)
    for where, text in spec.templates():
        for name in PLACEHOLDER.findall(text):
            if name not in declared:
                loc = where.split(".")
                key: list[Any] = [int(p) if p.isdigit() else p for p in loc]
                raise UserFileError(
                    path,
                    lines.line_of(key),
                    f"{where}: placeholder {{{name}}} is not a declared parameter",
                )


def load_tool_file(path: Path) -> list[ToolSpec]:
    """Load one YAML file holding a tool mapping or a list of them.

    Raises:
        UserFileError: with ``path:line: message`` for the first problem.
    """
    data, lines = load_yaml(path)
    items = data if isinstance(data, list) else [data]
    specs: list[ToolSpec] = []
    for index, item in enumerate(items):
        prefix: list[Any] = [index] if isinstance(data, list) else []
        if not isinstance(item, dict):
            raise UserFileError(path, lines.line_of(prefix), "a tool must be a mapping")
        try:
            spec = ToolSpec.model_validate({**item, "source": path})
        except ValidationError as exc:
            raise pydantic_problem(path, lines, exc.errors(), prefix) from None
        _check_runner(spec, path, _Sub(lines, prefix))
        specs.append(spec)
    return specs


class _Sub(LineMap):
    """A :class:`LineMap` view rooted at one list item."""

    def __init__(self, parent: LineMap, prefix: list[Any]) -> None:
        super().__init__(parent.lines)
        self._prefix = tuple(prefix)

    def line_of(self, loc: Any) -> int | None:
        return super().line_of((*self._prefix, *loc))
