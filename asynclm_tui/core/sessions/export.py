"""``asynclm sessions show`` and ``export``: a saved chat as Markdown, JSON
or fine-tuning JSONL."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from typing import Any

from asynclm_tui.core.api.chips import ENDED_VERBS, fmt_seconds
from asynclm_tui.core.api.display import escape_json_controls, json_line
from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.api.events import CallIssued, format_args
from asynclm_tui.core.cml.syntax import format_interrupt
from asynclm_tui.core.sessions.records import from_record
from asynclm_tui.core.sessions.stored import StoredCall, StoredSession, StoredTurn
from asynclm_tui.core.tools.executor import AT_EXIT

FORMATS = ("md", "json", "jsonl")


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in text.splitlines() or [""])


def _turn_markdown(turn: StoredTurn) -> list[str]:
    """The answer in order: text, then a quoted line per call, result and
    message typed mid-answer, where each happened."""
    out: list[str] = []
    text: list[str] = []
    calls = {c.call_id: c for c in turn.calls}

    def para() -> None:
        body = "".join(text).strip("\n")
        if body.strip():
            out.append(body)
        text.clear()

    for kind, data in turn.events:
        event = from_record(kind, data)
        match kind:
            case "token":
                text.append(str(data.get("visible", "")))
            case "call" if isinstance(event, CallIssued):
                para()
                name = f"{event.id} = " if event.wants_result else ""
                args = format_args(event.args, event.kwargs, 10**6)
                out.append(f"> ⚙ `{name}{event.fn}({args})`")
            case "interrupt" if data.get("kind") == "background":
                para()
                out.append(_quote(f"⏳ {data.get('id')} goes on in the background"))
            case "interrupt" if data.get("kind") != "user":
                para()
                c = calls.get(str(data.get("id")))
                took = f" ({c.ms:.0f} ms)" if c is not None and c.ms is not None else ""
                out.append(_quote(f"↩ {data.get('id')}{took}: {data.get('value', '')}"))
            case "user":
                para()
                out.append(_quote(f"✉ you, mid-answer: {data.get('text', '')}"))
            case "error":
                para()
                out.append(_quote(f"✗ {data.get('message', '')}"))
    para()
    for call in turn.calls:
        if call.wants_result and call.interrupted_at_exit:
            out.append(_quote(f"✗ {call.call_id}: {AT_EXIT} (asynclm quit while it ran)"))
    if not turn.complete:
        out.append("*(this answer was cut off when asynclm closed)*")
    elif turn.reason == "stopped":
        out.append("*(stopped by you)*")
    return out


def started_line(turn: StoredTurn, calls: Mapping[str, StoredCall]) -> str:
    """``*(started by sleep c3, finished after 20.1 s)*``: what stands for
    the user's message in a turn that results started."""
    parts = []
    for call_id in turn.started_by:
        call = calls.get(call_id)
        if call is None:  # (issued in a turn this file does not hold)
            parts.append(call_id)
            continue
        took = call.took_s()
        after = f", {_ended(call)} after {fmt_seconds(took * 1000)}" if took is not None else ""
        parts.append(f"{call.fn} {call_id}{after}")
    return f"*(started by {'; '.join(parts)})*"


def _ended(call: StoredCall) -> str:
    try:
        return ENDED_VERBS.get(CallStatus(call.status), "ended")
    except ValueError:  # a status this version does not know
        return "ended"


def to_markdown(session: StoredSession) -> str:
    """A readable transcript."""
    info = session.info
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created))
    lines = [f"# {info.title or 'Untitled chat'}", "", f"*{when} · {info.model or 'model'}*", ""]
    calls = session.calls()
    for turn in session.turns:
        if turn.started_by:
            lines += [f"## Assistant (turn {turn.number})", "", started_line(turn, calls), ""]
        else:
            lines += [f"## You (turn {turn.number})", "", turn.user_text, "", "## Assistant", ""]
        for block in _turn_markdown(turn):
            lines += [block, ""]
    if session.queued:
        lines += ["## Queued, not sent yet", ""]
        lines += [f"{i}. {' '.join(text.split())}" for i, text in enumerate(session.queued, 1)]
    return "\n".join(lines).rstrip() + "\n"


def to_json(session: StoredSession) -> dict[str, Any]:
    """Everything stored, as one JSON object."""
    turns = []
    for turn in session.turns:
        data = dataclasses.asdict(turn)
        data.pop("events")
        turns.append(data)
    return {
        **session.info.to_json(),
        "system": session.system,
        "turns": turns,
        "queued": session.queued,
    }


def to_jsonl(session: StoredSession) -> list[dict[str, Any]]:
    """Chat-format fine-tuning records, the layout of ``asynclm traces``: one
    record per turn holding the conversation up to that answer, whose
    interrupt blocks (written by the system) are listed in
    ``meta.interrupt_spans`` so a trainer can mask them out of the loss."""
    records = []
    history = [{"role": "system", "content": session.system}] if session.system else []
    for turn in session.turns:
        answer = turn.raw_text
        spans: list[list[int]] = []
        start = 0
        for intr in turn.interrupts:
            block = format_interrupt(intr.call_id, intr.value)
            at = answer.find(block, start)
            if at < 0:  # the value was cut or neutralised before injection
                at = answer.find(format_interrupt(intr.call_id, "").split(" [END]")[0], start)
                end = answer.find("[END]", at) + len("[END]") if at >= 0 else -1
            else:
                end = at + len(block)
            if at >= 0 and end > at:
                spans.append([at, end])
                start = end
        if not turn.started_by:  # a turn results started answers no message
            history = [*history, {"role": "user", "content": turn.user_text}]
        records.append(
            {
                "messages": [*history, {"role": "assistant", "content": answer}],
                "meta": {
                    "source": f"session:{session.info.id}",
                    "turn": turn.number,
                    "mode": turn.mode,
                    "started_by": list(turn.started_by),
                    "complete": turn.complete,
                    "interrupt_spans": spans,
                    "calls": len(turn.calls),
                    "user_interrupts": sum(1 for i in turn.interrupts if i.kind == "user"),
                },
            }
        )
        history.append({"role": "assistant", "content": answer})
    return records


def render(session: StoredSession, fmt: str) -> str:
    """``session`` in one of :data:`FORMATS`."""
    if fmt == "md":
        return to_markdown(session)
    if fmt == "json":
        return (
            escape_json_controls(json.dumps(to_json(session), ensure_ascii=False, indent=2)) + "\n"
        )
    if fmt == "jsonl":
        return "".join(json_line(r) + "\n" for r in to_jsonl(session))
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
