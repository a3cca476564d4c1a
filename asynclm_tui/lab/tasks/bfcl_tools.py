"""The benchmark's tools: BFCL functions registered as Python callables.

Every call really runs: it executes on BFCL's Python backend classes when the
task is a multi-turn one (fresh instances per run, loaded with the sample's
``initial_config``), then sleeps the rest of its drawn execution time.  The
single-turn categories have no executable backend, so their calls only sleep.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.lab.tasks.bfcl_data import PlannedCall, Task
from asynclm_tui.lab.tasks.latency import LatencyModel

BACKEND_PACKAGE = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"
BACKEND_MODULES = {
    "GorillaFileSystem": "gorilla_file_system",
    "MathAPI": "math_api",
    "MessageAPI": "message_api",
    "TwitterAPI": "posting_api",
    "TicketAPI": "ticket_api",
    "TradingBot": "trading_bot",
    "TravelAPI": "travel_booking",
    "VehicleControlAPI": "vehicle_control",
}
STATELESS = frozenset({"MathAPI"})
SIMULATED_RESULT = "ok"
"""Result of calls that have no executable backend (kept short: it is
injected into the context, and every strategy pays for it alike)."""

_TYPES = {
    "dict": "object",
    "float": "number",
    "tuple": "array",
    "int": "integer",
    "str": "string",
    "bool": "boolean",
    "list": "array",
    "String": "string",
}
_JSON_TYPES = {"object", "number", "array", "integer", "string", "boolean", "null"}


def json_schema(params: Any) -> dict[str, Any]:
    """BFCL's parameter docs as valid JSON Schema (``dict`` -> ``object``,
    ``float`` -> ``number``, ``any`` dropped), keeping property order."""
    if not isinstance(params, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key == "type":
            typ = _TYPES.get(value, value) if isinstance(value, str) else None
            if typ in _JSON_TYPES:
                out["type"] = typ
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {k: json_schema(v) for k, v in value.items()}
        elif key == "items":
            out["items"] = json_schema(value)
        elif key in ("required", "enum", "description"):
            out[key] = value
    return out


def loose_schema(params: Any) -> dict[str, Any]:
    """Parameter names only (in order): the replay oracle's arguments come from
    BFCL's answers, whose types do not always match the docs, and a schema
    rejection would skip the call's execution time."""
    props = params.get("properties", {}) if isinstance(params, dict) else {}
    return {"type": "object", "properties": {name: {} for name in props}}


def missing_backends() -> dict[str, str]:
    """Backend classes that cannot be imported here, with the reason (their
    calls are then simulated: sleep only)."""
    missing: dict[str, str] = {}
    for cls, module in BACKEND_MODULES.items():
        try:
            importlib.import_module(f"{BACKEND_PACKAGE}.{module}")
        except Exception as exc:  # noqa: BLE001 - any import failure means simulate
            missing[cls] = f"{type(exc).__name__}: {exc}"
    return missing


@dataclass
class TaskTools:
    """The tools of one run of one task (fresh backend state per run)."""

    task: Task
    latency: LatencyModel
    strict_schemas: bool = False
    executed: list[tuple[int, float]] = field(default_factory=list)
    """(planned call index or -1, drawn ms) in execution order."""
    _instances: list[dict[str, Any]] = field(default_factory=list)
    _taken: set[int] = field(default_factory=set)
    _extra: int = 0

    def __post_init__(self) -> None:
        for sub in self.task.subtasks:
            self._instances.append(self._load(sub.classes, sub.initial_config))

    @staticmethod
    def _load(classes: tuple[str, ...], config: dict[str, Any]) -> dict[str, Any]:
        instances: dict[str, Any] = {}
        for cls in classes:
            try:
                module = importlib.import_module(f"{BACKEND_PACKAGE}.{BACKEND_MODULES[cls]}")
            except Exception:  # noqa: BLE001 - reported by missing_backends()
                continue
            instance = getattr(module, cls)()
            if cls not in STATELESS:
                instance._load_scenario(copy.deepcopy(config.get(cls, {})), long_context=False)
            instances[cls] = instance
        return instances

    def durations(self) -> list[float]:
        """Drawn execution time of every planned call, in ms."""
        return [self.latency.duration_ms(self.task.id, i) for i in range(len(self.task.calls))]

    def registry(self, names: set[str] | None = None) -> ToolRegistry:
        """A registry with the task's functions (only ``names`` if given)."""
        reg = ToolRegistry()
        durations = self.durations()
        for doc in self.task.functions:
            name = doc["name"]
            if names is not None and name not in names:
                continue
            mine = [d for d, c in zip(durations, self.task.calls, strict=True) if c.name == name]
            estimate = sum(mine) / len(mine) if mine else self.latency.expected_mean_ms()
            about = " ".join(str(doc.get("description", "")).split())
            params = doc.get("parameters")
            reg.add_function(
                name,
                self._handler(name),
                description=about.split(". ")[0][:100],
                parameters=json_schema(params) if self.strict_schemas else loose_schema(params),
                estimated_ms=max(1.0, estimate),
            )
        return reg

    def _match(self, name: str, kwargs: dict[str, Any]) -> int | None:
        """The planned call this invocation is (first free one with the same
        name and arguments, else the same name)."""
        free = [i for i, c in enumerate(self.task.calls) if i not in self._taken and c.name == name]
        for i in free:
            if _bound(self.task.calls[i], self._param_names(name)) == kwargs:
                return i
        return free[0] if free else None

    def _param_names(self, name: str) -> list[str]:
        for doc in self.task.functions:
            if doc["name"] == name:
                return list((doc.get("parameters") or {}).get("properties", {}))
        return []

    def _handler(self, name: str) -> Any:
        async def run(**kwargs: Any) -> str:
            index = self._match(name, kwargs)
            if index is not None:
                self._taken.add(index)
                group = self.task.calls[index].group
                ms = self.latency.duration_ms(self.task.id, index)
            else:  # a call the answer key does not have (model driver)
                self._extra += 1
                group = 0
                ms = self.latency.duration_ms(self.task.id, len(self.task.calls) + self._extra)
            self.executed.append((index if index is not None else -1, ms))
            start = time.perf_counter()
            value = self.execute(group, name, kwargs)
            left = ms / 1000 - (time.perf_counter() - start)
            if left > 0:
                await asyncio.sleep(left)
            return value

        return run

    def execute(self, group: int, name: str, kwargs: dict[str, Any]) -> str:
        """Run one call on the backend instances (group first); its result text."""
        for instances in (self._instances[group], *self._instances):
            for instance in instances.values():
                method = getattr(instance, name, None)
                if method is not None and not name.startswith("_"):
                    try:
                        result = method(**kwargs)
                    except Exception as exc:  # noqa: BLE001 - a tool error is a result
                        return f"error: {type(exc).__name__}: {exc}"
                    # Compact JSON, as the HTTP runner does: every injected token costs a
                    # prefill step, whatever the strategy.
                    return (
                        result
                        if isinstance(result, str)
                        else json.dumps(result, separators=(",", ":"), ensure_ascii=False)
                    )
        return SIMULATED_RESULT


def _bound(call: PlannedCall, params: list[str]) -> dict[str, Any]:
    """The call's arguments by parameter name (positional ones mapped)."""
    return {**dict(zip(params, call.args, strict=False)), **call.kwargs}
