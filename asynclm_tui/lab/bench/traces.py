"""``asynclm traces``: AsyncLM fine-tuning traces, as the paper's section 4.2.

Each trace comes from a BFCL task turned into a call DAG (parallel tasks give
independent calls, multi-step scenarios three chains).  A simulator then plays
the LLM against the executor:

* every function gets a random estimated duration of 1 ms to 1 s, shown in the
  prompt, and it runs for exactly that long;
* the model writes at a random time per output token of 5 to 30 ms, and the
  clock advances by counting the tokens written;
* calls are issued in LPT order (longest estimate first) as soon as ready;
* an ``[INTR]`` block with the real result lands where that call would finish
  (at the next block boundary); when everything left is waiting on results the
  model writes ``[TRAP][END]`` and the next interrupt follows;
* optionally, the later requests of a multi-step scenario arrive as user
  interrupts at random times instead of in the first message.

The output is chat-format JSONL (``{"messages": [...]}``, read by common
fine-tuning tools).  Interrupts are written by the system, not the model: each
record lists their character spans in ``meta.interrupt_spans`` so a trainer
can mask them out of the loss.
"""

from __future__ import annotations

import heapq
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asynclm_tui.core.cml.prompt import system_prompt
from asynclm_tui.core.cml.syntax import (
    INTR,
    USER_ID,
    BlockError,
    CallBlock,
    CMLParser,
    format_interrupt,
)
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.lab.tasks.bfcl_data import SINGLE_TURN, BenchError, Task, load_tasks
from asynclm_tui.lab.tasks.bfcl_tools import TaskTools, json_schema
from asynclm_tui.lab.tasks.latency import LatencyModel
from asynclm_tui.lab.tasks.oracle import Policy

CHARS_PER_TOKEN = 4.0
"""Token count estimate (no model is loaded to export traces)."""
SOURCES = (*SINGLE_TURN, "multi_step")


def estimate_tokens(text: str) -> int:
    """Approximate tokens in ``text``."""
    return max(1, round(len(text) / CHARS_PER_TOKEN))


@dataclass
class Trace:
    """One simulated session."""

    messages: list[dict[str, str]]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSONL record."""
        return {"messages": self.messages, "meta": self.meta}


def _ids(task: Task) -> list[str]:
    """Readable, unique call ids (``mkdir1``, ``get_weather2``...)."""
    out = []
    for k, call in enumerate(task.calls, start=1):
        stem = "".join(ch for ch in call.name.split(".")[-1].lower() if ch.isalnum() or ch == "_")
        out.append(f"{(stem or 'call')[:12].strip('_') or 'call'}{k}")
    return out


def simulate(task: Task, rng: random.Random, *, user_interrupts: bool) -> Trace:
    """Play one session of ``task`` and return it as a chat trace."""
    names = list(dict.fromkeys(c.name for c in task.calls))
    estimate = {n: round(rng.uniform(1.0, 1000.0)) for n in names}
    tpot = rng.uniform(5.0, 30.0)
    durations = [float(estimate[c.name]) for c in task.calls]
    tools = TaskTools(task, LatencyModel(0))  # real backends for the results
    reg = ToolRegistry()
    for doc in task.functions:
        if doc["name"] in estimate:
            reg.add_function(
                doc["name"],
                _never,
                description=" ".join(str(doc.get("description", "")).split()).split(". ")[0][:100],
                parameters=json_schema(doc.get("parameters")),
                estimated_ms=estimate[doc["name"]],
            )
    system = system_prompt(list(reg.tools.values()), lambda n: float(estimate.get(n, 1)))
    groups = len(task.subtasks)
    late = user_interrupts and groups > 1
    ids = _ids(task)
    policy = Policy(task, durations, ids, "lpt", known_groups={0} if late else set(range(groups)))
    events: list[tuple[float, int, str, int]] = []
    clock = 0.0
    if late:
        arrivals = sorted(rng.uniform(0.0, 1500.0) for _ in range(groups - 1))
        for g, at in enumerate(arrivals, start=1):
            heapq.heappush(events, (at, len(events), "user", g))
    seq = len(events)
    text: list[str] = []
    spans: list[list[int]] = []

    def deliver(now: float) -> None:
        while events and events[0][0] <= now:
            _, _, kind, idx = heapq.heappop(events)
            if kind == "user":
                policy.known_groups.add(idx)
                block = format_interrupt(USER_ID, task.subtasks[idx].prompt)
            else:
                policy.done.add(idx)
                call = task.calls[idx]
                value = tools.execute(call.group, call.name, _kwargs(task, idx))
                block = format_interrupt(ids[idx], value)
            start = len("".join(text))
            text.append(block)
            spans.append([start, start + len(block)])

    while True:
        deliver(clock)
        seg = policy.next_segment()
        if seg.kind == "end":
            if not events:
                break
            clock = max(clock, events[0][0])  # idle until the next request
            continue
        piece = seg.text.lstrip() if not text else seg.text
        text.append(piece)
        clock += estimate_tokens(piece) * tpot
        if seg.kind == "call" and seg.call is not None:
            heapq.heappush(events, (clock + durations[seg.call], seq, "result", seg.call))
            seq += 1
        elif seg.kind == "trap" and events:
            clock = max(clock, events[0][0])
    first = task.subtasks[0].prompt if late else task.prompt
    return Trace(
        messages=[
            {"role": "system", "content": system},
            {"role": "user", "content": first},
            {"role": "assistant", "content": "".join(text)},
        ],
        meta={
            "source": task.id,
            "dataset": task.dataset,
            "bfcl_ids": [s.source_id for s in task.subtasks],
            "tpot_ms": round(tpot, 2),
            "estimated_ms": estimate,
            "makespan_ms": round(clock, 1),
            "user_interrupts": groups - 1 if late else 0,
            "interrupt_spans": spans,
            "calls": len(task.calls),
        },
    )


async def _never(**_: Any) -> str:
    """Trace tools are never executed through the engine."""
    raise RuntimeError("trace export does not run tools")


def _kwargs(task: Task, index: int) -> dict[str, Any]:
    call = task.calls[index]
    params: list[str] = []
    for doc in task.functions:
        if doc["name"] == call.name:
            params = list((doc.get("parameters") or {}).get("properties", {}))
    return {**dict(zip(params, call.args, strict=False)), **call.kwargs}


def check_trace(trace: Trace) -> list[str]:
    """Problems in a trace's CML (empty when valid).

    The model-written text between interrupts must parse with the engine's
    own :class:`CMLParser` into calls and traps only; every interrupt span
    must be one well-formed ``[INTR]`` block.
    """
    content = trace.messages[-1]["content"]
    problems: list[str] = []
    parser = CMLParser()
    calls = 0
    pos = 0
    spans = [*trace.meta.get("interrupt_spans", []), [len(content), len(content)]]
    for start, end in spans:
        _, events = parser.feed(content[pos:start])
        for ev in events:
            if isinstance(ev, BlockError):
                problems.append(ev.message)
            elif isinstance(ev, CallBlock):
                calls += 1
        block = content[start:end]
        if block and not (block.strip().startswith(INTR) and block.strip().endswith("[END]")):
            problems.append(f"bad interrupt block at {start}")
        pos = end
    _, tail = parser.flush()
    problems += [ev.message for ev in tail if isinstance(ev, BlockError)]
    if calls != trace.meta.get("calls", calls):
        problems.append(f"expected {trace.meta.get('calls')} calls, parsed {calls}")
    return problems


def build_traces(count: int, seed: int = 0, user_share: float = 0.3) -> list[Trace]:
    """``count`` traces drawn from BFCL tasks, reproducible from ``seed``.

    Raises:
        BenchError: bad arguments or bfcl-eval missing.
    """
    if count < 1:
        raise BenchError(f"--count must be at least 1 (got {count})")
    if not 0.0 <= user_share <= 1.0:
        raise BenchError(f"--user-interrupts must be between 0 and 1 (got {user_share})")
    rng = random.Random(f"traces:{seed}")
    pools = {
        d: load_tasks(d, seed=seed, limit=count if d == "multi_step" else None) for d in SOURCES
    }
    traces = []
    for _ in range(count):
        dataset = rng.choice(SOURCES)
        task = rng.choice(pools[dataset])
        late = dataset == "multi_step" and rng.random() < user_share
        traces.append(simulate(task, rng, user_interrupts=late))
    return traces


def write_traces(path: Path, *, count: int, seed: int = 0, user_share: float = 0.3) -> int:
    """Write traces as JSONL; returns how many.

    Raises:
        BenchError: bad arguments, bfcl-eval missing, or an unwritable file.
    """
    traces = build_traces(count, seed, user_share)
    try:
        with path.open("w", encoding="utf-8") as fh:
            for trace in traces:
                fh.write(json.dumps(trace.to_json(), ensure_ascii=False) + "\n")
    except OSError as exc:
        raise BenchError(f"cannot write {path}: {exc.strerror or exc}") from None
    return len(traces)
