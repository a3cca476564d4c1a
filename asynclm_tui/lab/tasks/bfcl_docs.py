"""BFCL's function documents as tools the model has never seen, with requests.

The ``bfcl-eval`` wheel ships thousands of documented functions with a user
question and its right call (``simple_python``, ``multiple``, ``live_simple``,
``live_multiple``) and questions no offered function fits (``irrelevance``).
They become training tools here: the question is the request, the ground
truth (each parameter's first allowed value; an optional one left out) is the
call, and the others of the same entry are distractors.

Kept out: every function the benchmark asks about (``parallel`` and
``parallel_multiple``'s held-out head, ``multi_step``'s documents), questions
that are long or not in English, and calls whose arguments do not fit the
function's own schema.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from asynclm_tui.core.tools.registry import ArgumentError, ToolRegistry
from asynclm_tui.lab.tasks.bfcl_data import (
    FUNC_DOC_FILES,
    HELD_OUT_TASKS,
    TRAINED_DATASETS,
    data_dir,
    load_tasks,
    read_jsonl,
)
from asynclm_tui.lab.tasks.bfcl_tools import json_schema
from asynclm_tui.lab.tasks.requests import Need, ToolAsk

SOURCES = ("simple_python", "multiple", "live_simple", "live_multiple")
IRRELEVANT = ("irrelevance",)
MAX_QUESTION = 220
"""Longer questions are left out (they cost training time out of proportion)."""
_PLAIN = re.compile(r"[ -~\u00c0-\u017f\u2019\u00b0]+\Z")
"""Printable Latin text (a question in another script is left out)."""


@dataclass(frozen=True)
class DocTool:
    """A BFCL function written as a tool (description cut to its first sentence)."""

    name: str
    description: str
    schema: dict[str, Any]
    estimated_ms: float


@dataclass(frozen=True)
class DocTask:
    """A question, the functions offered with it, and its right call (None:
    no offered function fits it)."""

    id: str
    question: str
    tools: tuple[DocTool, ...]
    call: tuple[str, dict[str, Any]] | None


def first_sentence(text: str, limit: int = 160) -> str:
    """The description's first sentence, at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    cut = flat.split(". ")[0].rstrip(".")
    return (cut if len(cut) <= limit else cut[: limit - 1].rsplit(" ", 1)[0]) + "."


def _tool(doc: dict[str, Any], rng: random.Random) -> DocTool | None:
    name = str(doc.get("name", ""))
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", name):
        return None
    ms = float(round(rng.uniform(40, 1500), -1))
    return DocTool(name, first_sentence(doc.get("description", "")), _schema(doc), ms)


def _schema(doc: dict[str, Any]) -> dict[str, Any]:
    schema = json_schema(doc.get("parameters"))
    schema["type"] = "object"
    schema.setdefault("properties", {})
    return schema


def _ground_truth(answer: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    truth = answer.get("ground_truth") or []
    if len(truth) != 1 or not isinstance(truth[0], dict) or len(truth[0]) != 1:
        return None
    ((name, params),) = truth[0].items()
    kwargs: dict[str, Any] = {}
    for param, allowed in params.items():
        if allowed and allowed[0] != "":
            kwargs[param] = allowed[0]
    return name, kwargs


@cache
def benchmark_functions() -> frozenset[str]:
    """Every function name the BFCL benchmark asks about (never trained as a tool)."""
    names: set[str] = set()
    for dataset in TRAINED_DATASETS:
        for task in load_tasks(dataset)[:HELD_OUT_TASKS]:
            names |= {str(f.get("name")) for f in task.functions}
    root = data_dir()
    for file in FUNC_DOC_FILES.values():
        names |= {str(d.get("name")) for d in read_jsonl(root / "multi_turn_func_doc" / file)}
    return frozenset(names)


def _fits(tool: DocTool, kwargs: dict[str, Any]) -> bool:
    reg = ToolRegistry()
    reg.add_function(
        tool.name, lambda **kw: "", description=tool.description, parameters=tool.schema
    )
    try:
        reg.bind(tool.name, (), kwargs)
    except (ArgumentError, KeyError, ValueError):
        return False
    return True


@cache
def doc_tasks(kind: str = "call") -> tuple[DocTask, ...]:
    """The usable BFCL entries: ``call`` (questions with their one right call)
    or ``none`` (questions no offered function fits), in file order.

    Raises:
        BenchError: bfcl-eval is not installed.
    """
    root = data_dir()
    banned = benchmark_functions()
    rng = random.Random("bfcl-docs")
    out: list[DocTask] = []
    for source in SOURCES if kind == "call" else IRRELEVANT:
        entries = read_jsonl(root / f"BFCL_v4_{source}.json")
        answers: dict[str, dict[str, Any]] = {}
        if kind == "call":
            answers = {
                a["id"]: a for a in read_jsonl(root / "possible_answer" / f"BFCL_v4_{source}.json")
            }
        for entry in entries:
            turns = entry.get("question") or [[]]
            users = [m["content"] for m in turns[0] if m.get("role") == "user"]
            question = " ".join(str(users[-1]).split()) if users else ""
            if not question or len(question) > MAX_QUESTION or not _PLAIN.match(question):
                continue
            tools = tuple(t for d in entry.get("function") or () if (t := _tool(d, rng)))
            if not tools or any(t.name in banned for t in tools):
                continue
            call = None
            if kind == "call":
                answer = answers.get(entry["id"])
                call = _ground_truth(answer) if answer else None
                target = next((t for t in tools if call and t.name == call[0]), None)
                if call is None or target is None or not _fits(target, call[1]):
                    continue
            out.append(DocTask(entry["id"], question, tools, call))
    return tuple(out)


def _result(name: str, kwargs: dict[str, Any], rng: random.Random) -> str:
    """A short, plausible result (the real function's output is not known)."""
    lowered = name.lower()
    if any(w in lowered for w in ("calc", "compute", "area", "math", "sum", "average", "total")):
        return f"{rng.uniform(1, 5000):.2f}".rstrip("0").rstrip(".")
    if lowered.split(".")[-1].startswith(("get", "find", "search", "fetch", "list", "lookup")):
        return f'{{"status": "ok", "results": {rng.randint(1, 12)}}}'
    return "ok"


def doc_ask(task: DocTask, rng: random.Random) -> ToolAsk:
    """The task's question and its call, reported as what the tool returned."""
    assert task.call is not None
    name, kwargs = task.call
    value = _result(name, kwargs, rng)
    stem = name.split(".")[-1].replace("_", " ")
    need = Need(
        name,
        dict(kwargs),
        lambda _rng: value,
        lambda v: f"Done: {stem} returned {v}.",
        doing=f"run {stem}",
    )
    return ToolAsk(task.question, (need,), "", "bfcl-doc")
