"""One assistant answer played on the simulated clock: calls, text, results,
user messages typed mid-answer.

The policy is the paper's, with the behaviours the adapter must learn:

- every request gets its one call, issued as soon as it is known, longest
  estimated first (LPT); the same tool twice only with different arguments;
- text goes on while calls run (an opener that claims nothing, or the content
  being written: a story, a list), and each result is reported when it is in,
  in words that agree with it (a failure, a denial, a timeout said as such);
- a user message typed mid-answer is taken up right away: a brief
  acknowledgement, then the answer changed as asked (a detail corrected, a new
  subject, something mentioned, a stop, a new call) instead of the sentence it
  interrupted;
- ``[TRAP][END]`` only when nothing else can be written, and the end once
  everything is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asynclm_tui.core.cml.syntax import USER_ID, format_interrupt
from asynclm_tui.lab.tasks.requests import Need
from asynclm_tui.lab.train.simulate import (
    IdMaker,
    Simulator,
    duration_ms,
    outcome,
    render_call,
    report,
)

LOCAL_MS = 60.0
"""Tools declared quicker than this run on the machine: no network failures."""


@dataclass(frozen=True)
class Steer:
    """A user message typed mid-answer, and how the answer takes it up."""

    text: str
    at_ms: float
    """When it is typed, in simulated ms from the answer's start."""
    ack: str = ""
    """The brief acknowledgement written right after it."""
    add: tuple[Need, ...] = ()
    """Calls it asks for."""
    drop_calls: bool = False
    """The calls made so far no longer matter (their results go unreported)."""
    content: tuple[str, ...] | None = None
    """Replaces the rest of the content (None: keep it)."""
    transform: Callable[[str], str] | None = None
    """Applied to the rest of the content (a corrected detail)."""
    insert: str = ""
    """A sentence written before the rest of the content (something to mention)."""
    stop: bool = False
    """No more content (stop, shorten)."""
    after_first_call: bool = False
    """``at_ms`` counts from the first call's block instead of the answer's start."""
    at_token: int | None = None
    """Typed while the answer's ``at_token``-th token is written (overrides ``at_ms``)."""


@dataclass
class _Call:
    need: Need
    estimate: float
    issued: bool = False
    done: bool = False
    value: str = ""
    reported: bool = False
    dropped: bool = False
    id: str = ""


@dataclass
class Answer:
    """What an answer is made of; :func:`play` writes it."""

    needs: Sequence[Need] = ()
    opener: str = ""
    content: Sequence[str] = ()
    """Sentences of plain text written while calls run (each with its leading space)."""
    steers: Sequence[Steer] = ()
    fail: float = 0.1
    """Share of calls that can fail which do (see ``simulate.outcome``)."""
    outcome: Callable[[Need], str] | None = None
    """Fixes each call's result (default: ``simulate.outcome``)."""
    landed: list[Steer] = field(default_factory=list)
    """The steers whose messages reached the model (filled by :func:`play`)."""


def play(
    sim: Simulator,
    answer: Answer,
    estimate: Callable[[Need], float],
    ids: IdMaker,
) -> None:
    """Write ``answer`` on ``sim`` and end the turn."""
    rng = sim.rng
    calls: list[_Call] = []
    todo: list[Steer] = []

    def on_event(kind: str, payload: Any) -> str | None:
        if kind == "user":
            todo.append(payload)
            answer.landed.append(payload)
            return format_interrupt(USER_ID, payload.text)
        call: _Call = payload
        call.done = True
        return format_interrupt(call.id, call.value)

    sim.on_event = on_event
    calls.extend(_Call(n, estimate(n)) for n in answer.needs)
    for steer in answer.steers:
        if steer.at_token is not None:
            sim.schedule((steer.at_token - 0.5) * sim.tpot, "user", steer)
        elif not steer.after_first_call:
            sim.schedule(steer.at_ms, "user", steer)
    opener = answer.opener
    content = list(answer.content)
    ack = ""
    first_call = True
    while True:
        if todo:  # a message landed: take it up before anything else
            steer = todo.pop(0)
            if steer.drop_calls:
                for c in calls:
                    c.dropped = c.dropped or not c.reported
            calls.extend(_Call(n, estimate(n)) for n in steer.add)
            content = _steered(content, steer)
            ack = (ack + " " + steer.ack).strip() if steer.ack else ack
            opener = ""
            continue
        fresh = [c for c in calls if not c.issued and not c.dropped]
        if fresh:
            c = max(fresh, key=lambda c: c.estimate)  # LPT; ties keep the asked order
            c.issued, c.id = True, ids(c.need.tool)  # ids follow the order calls go out
            sim.write(render_call(c.id, c.need.tool, (), c.need.kwargs), block=True)
            c.value = (
                answer.outcome(c.need)
                if answer.outcome is not None
                else outcome(c.need, rng, fail=answer.fail, local=c.estimate < LOCAL_MS)
            )
            sim.schedule(sim.clock + duration_ms(c.need, c.estimate, rng, c.value), "result", c)
            if first_call:
                first_call = False
                for steer in answer.steers:
                    if steer.after_first_call:
                        sim.schedule(sim.clock + steer.at_ms, "user", steer)
            continue
        if ack:
            sim.write(" " + ack, stop_on_user=True)
            ack = ""
            continue
        if opener:
            sim.write(" " + opener, stop_on_user=True)
            opener = ""
            continue
        ready = [c for c in calls if c.done and not c.reported and not c.dropped]
        if ready:
            sim.write(" " + " ".join(report(c.need, c.value) for c in ready), stop_on_user=True)
            for c in ready:  # a report cut by a message is given again after it
                c.reported = not sim.stopped
            continue
        if content:
            sim.write(content.pop(0), stop_on_user=True)
            continue
        if sim.pending:
            sim.trap()
            continue
        break
    sim.end()


def _steered(content: list[str], steer: Steer) -> list[str]:
    """The rest of the content once ``steer`` is taken up (the sentence it
    interrupted is not finished)."""
    if steer.stop:
        return []
    rest = list(steer.content) if steer.content is not None else content
    if steer.transform is not None:
        rest = [steer.transform(s) for s in rest]
    if steer.insert:
        rest = [" " + steer.insert.strip(), *rest]
    return rest
