"""BFCL tasks read from the ``bfcl-eval`` wheel, turned into call plans.

The wheel is installed with ``--no-deps`` (its own dependencies are huge), so
nothing here imports ``bfcl_eval``'s Python modules except the multi-turn
backend classes, and those only in :mod:`asynclm_tui.lab.bench.bfcl.backends`.
Data files are JSON Lines despite their ``.json`` suffix.
"""

from __future__ import annotations

import importlib.util
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asynclm_tui.core.cml.syntax import CallSyntaxError, parse_call_body

BFCL_VERSION = "2026.3.23"
INSTALL_HINT = f"pip install --no-deps bfcl-eval=={BFCL_VERSION}"

SINGLE_TURN = ("parallel", "parallel_multiple", "live_parallel", "live_parallel_multiple")
MULTI_STEP = ("multi_step", "multi_step_user")
DATASETS: tuple[str, ...] = (*SINGLE_TURN, *MULTI_STEP)

TASKS_PER_SCENARIO = 3
"""The paper's multi-step parallel set joins three first-turn samples."""

FUNC_DOC_FILES = {
    "GorillaFileSystem": "gorilla_file_system.json",
    "MathAPI": "math_api.json",
    "MessageAPI": "message_api.json",
    "TwitterAPI": "posting_api.json",
    "TicketAPI": "ticket_api.json",
    "TradingBot": "trading_bot.json",
    "TravelAPI": "travel_booking.json",
    "VehicleControlAPI": "vehicle_control.json",
}


class BenchError(Exception):
    """A problem the user must fix; printed as one line, never a traceback."""


@dataclass(frozen=True)
class PlannedCall:
    """One ground-truth call: what the oracle writes and the executor runs."""

    name: str
    kwargs: dict[str, Any]
    args: tuple[Any, ...] = ()
    """Positional arguments (BFCL multi-turn answers use a few)."""
    deps: tuple[int, ...] = ()
    """Indexes (in the task's ``calls``) whose results must be in first."""
    group: int = 0
    """Which sub-task (user request) the call belongs to."""
    allowed: dict[str, list[Any]] | None = None
    """BFCL's allowed values per parameter (single-turn answers), for AST match."""

    def render(self) -> str:
        """The call as Python syntax, as the model would write it."""
        parts = [repr(a) for a in self.args]
        parts += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"


@dataclass(frozen=True)
class SubTask:
    """One user request inside a task (multi_step joins three)."""

    source_id: str
    prompt: str
    classes: tuple[str, ...] = ()
    initial_config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    """A benchmark scenario: prompts, offered functions and the call DAG."""

    id: str
    dataset: str
    subtasks: tuple[SubTask, ...]
    functions: tuple[dict[str, Any], ...]
    calls: tuple[PlannedCall, ...]

    @property
    def prompt(self) -> str:
        """Every request in one user message (all but multi_step_user)."""
        return " ".join(s.prompt for s in self.subtasks)

    @property
    def executable(self) -> bool:
        """True when calls run on BFCL's Python backend classes."""
        return any(s.classes for s in self.subtasks)


def data_dir() -> Path:
    """The ``bfcl_eval/data`` folder of the installed wheel.

    Raises:
        BenchError: bfcl-eval is not installed.
    """
    spec = importlib.util.find_spec("bfcl_eval")  # locates without importing
    if spec is None or not spec.submodule_search_locations:
        raise BenchError(f"bfcl-eval is not installed; run: {INSTALL_HINT}")
    root = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not (root / "BFCL_v4_parallel.json").is_file():
        raise BenchError(f"bfcl-eval data files not found in {root}; run: {INSTALL_HINT}")
    return root


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a BFCL data file (one JSON object per line)."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _first_user_text(turns: list[list[dict[str, str]]]) -> str:
    first = turns[0] if turns else []
    texts = [m["content"] for m in first if m.get("role") == "user"]
    return texts[-1] if texts else ""


def _pick_value(allowed: list[Any]) -> tuple[bool, Any]:
    """The first allowed value; ``""`` first means the parameter is optional
    and the oracle leaves it out (what a minimal correct call does)."""
    if not allowed or allowed[0] == "":
        return False, None
    return True, allowed[0]


def _single_turn_task(entry: dict[str, Any], answer: dict[str, Any], dataset: str) -> Task:
    calls: list[PlannedCall] = []
    for item in answer["ground_truth"]:
        ((name, params),) = item.items()
        kwargs = {}
        for param, allowed in params.items():
            keep, value = _pick_value(allowed)
            if keep:
                kwargs[param] = value
        calls.append(PlannedCall(name, kwargs, allowed=params))
    prompt = _first_user_text(entry["question"])
    return Task(
        id=entry["id"],
        dataset=dataset,
        subtasks=(SubTask(entry["id"], prompt),),
        functions=tuple(entry.get("function") or ()),
        calls=tuple(calls),
    )


def _first_turn_calls(answer: dict[str, Any], group: int, offset: int) -> list[PlannedCall]:
    """A multi-turn sample's first turn: calls in order, each depending on the
    previous one (BFCL lists them as a sequence, e.g. ``cd`` then ``mv``)."""
    out: list[PlannedCall] = []
    for k, text in enumerate(answer["ground_truth"][0]):
        try:
            parsed = parse_call_body(text)
        except CallSyntaxError as exc:
            raise BenchError(f"{answer['id']}: cannot parse ground truth {text!r}: {exc}") from None
        deps = (offset + k - 1,) if k else ()
        out.append(
            PlannedCall(parsed.name, dict(parsed.kwargs), parsed.args, deps=deps, group=group)
        )
    return out


def load_func_docs(root: Path, classes: list[str]) -> list[dict[str, Any]]:
    """The documented functions of BFCL multi-turn backend classes."""
    docs: list[dict[str, Any]] = []
    for cls in classes:
        docs += read_jsonl(root / "multi_turn_func_doc" / FUNC_DOC_FILES[cls])
    return docs


def load_tasks(dataset: str, *, limit: int | None = None, seed: int = 0) -> list[Task]:
    """Tasks of ``dataset`` in file order (multi_step: seeded scenarios).

    Raises:
        BenchError: unknown dataset, bfcl-eval missing, or malformed data.
    """
    if dataset not in DATASETS:
        raise BenchError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    root = data_dir()
    if dataset in SINGLE_TURN:
        entries = read_jsonl(root / f"BFCL_v4_{dataset}.json")
        answer_file = root / "possible_answer" / f"BFCL_v4_{dataset}.json"
        answers = {a["id"]: a for a in read_jsonl(answer_file)}
        tasks = [
            _single_turn_task(e, answers[e["id"]], dataset) for e in entries if e["id"] in answers
        ]
        return tasks[:limit] if limit is not None else tasks
    return _multi_step_tasks(root, dataset, limit, seed)


def _multi_step_tasks(root: Path, dataset: str, limit: int | None, seed: int) -> list[Task]:
    entries = read_jsonl(root / "BFCL_v4_multi_turn_base.json")
    answer_file = root / "possible_answer" / "BFCL_v4_multi_turn_base.json"
    answers = {a["id"]: a for a in read_jsonl(answer_file)}
    pool = [e for e in entries if e["id"] in answers and answers[e["id"]]["ground_truth"][0]]
    count = len(pool) if limit is None else limit
    # The scenario list does not depend on the dataset name, so multi_step and
    # multi_step_user run the very same tasks (only their arrival differs).
    rng = random.Random(f"multi_step:{seed}")
    tasks: list[Task] = []
    for n in range(count):
        picked = rng.sample(pool, TASKS_PER_SCENARIO)
        subtasks: list[SubTask] = []
        calls: list[PlannedCall] = []
        functions: list[dict[str, Any]] = []
        for group, entry in enumerate(picked):
            classes = list(entry["involved_classes"])
            subtasks.append(
                SubTask(
                    entry["id"],
                    _first_user_text(entry["question"]),
                    tuple(classes),
                    entry.get("initial_config") or {},
                )
            )
            calls += _first_turn_calls(answers[entry["id"]], group, len(calls))
            seen = {f["name"] for f in functions}
            excluded = set(entry.get("excluded_function") or ())
            functions += [
                f
                for f in load_func_docs(root, classes)
                if f["name"] not in seen and f["name"] not in excluded
            ]
        tasks.append(
            Task(
                id=f"multi_step_{seed}_{n}",
                dataset=dataset,
                subtasks=tuple(subtasks),
                functions=tuple(functions),
                calls=tuple(calls),
            )
        )
    return tasks


HELD_OUT_TASKS = 100
"""BFCL ``parallel`` and ``parallel_multiple`` tasks 0-99 (file order) are held
out of the CML adapter's training set; tasks 100 and on train it.  No
``multi_step`` (built from ``multi_turn_base``) or ``live_*`` task ever does."""
TRAINED_DATASETS = ("parallel", "parallel_multiple")
"""The datasets whose later tasks train the adapter."""
