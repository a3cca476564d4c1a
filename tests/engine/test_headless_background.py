"""``asynclm run`` and calls that outlive the answer, on the scripted
backend: by default an answer waits for every call; with ``--no-wait``
(``tools.wait_at_end_s: 0``) it ends without them, and the run goes on until
their results were answered in turns of their own, printed as they come."""

from __future__ import annotations

import io
import json
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

import pytest

from asynclm_tui.core.api.enums import DeliverIdle
from asynclm_tui.core.api.events import Event, TurnDone
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.decode.due_calls import BACKGROUND_NOTE
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.headless.run import run_headless
from tests.engine.engine_harness import Gate, settings

CALL = "Starting the build. [CALL] a [HEAD] build() [END] I will tell you when it is done.<eos>"
REPORT = "The build finished: ok.<eos>"


def engine_with(
    gate: Gate,
    *,
    wait_at_end_s: float | None,
    turns: tuple[str, ...] = (CALL, REPORT),
    **delivery: Any,
) -> Engine:
    """An engine whose model writes ``turns`` and whose one tool, ``build``,
    returns when ``gate`` opens."""
    registry = ToolRegistry()
    registry.add_function("build", gate, description="a slow build", estimated_ms=100, **delivery)
    cfg = settings()
    cfg.tools.wait_at_end_s = wait_at_end_s
    return Engine(cfg, registry, ScriptedBackend(turns).factory())


def when(engine: Engine, pred: Callable[[Event], bool], then: Callable[[], None]) -> None:
    """Call ``then`` (on the engine's thread) at the first event that matches."""
    fired = threading.Event()

    def sink(event: Event) -> None:
        if not fired.is_set() and pred(event):
            fired.set()
            then()

    engine.subscribe(sink)


def first_answer_done(event: Event) -> bool:
    return isinstance(event, TurnDone)


def run_json(engine: Engine) -> tuple[int, list[dict[str, Any]]]:
    out = io.StringIO()
    code = run_headless(engine, "Build it.", as_json=True, out=out, err=io.StringIO())
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def story(evs: list[dict[str, Any]]) -> list[str]:
    """The events that tell what happened, in order: each turn (with what
    started it), call, background notice, held result, result and end."""
    out = []
    for e in evs:
        match e["event"]:
            case "turn":
                out.append(f"turn {e['turn']} by {','.join(e['started_by']) or 'user'}")
            case "call" | "background" | "result":
                out.append(f"{e['event']} {e['id']}")
            case "result_held":
                out.append(f"held {e['id']} {e['deliver_idle']}")
            case "interrupt":
                out.append(f"interrupt {e['id']} {e['kind']}")
            case "done":
                out.append(f"done {e['reason']}")
    return out


def story_index(evs: list[dict[str, Any]], kind: str) -> int:
    return next(i for i, e in enumerate(evs) if e["event"] == kind)


def test_no_wait_json_ends_the_answer_and_reports_the_result_turn_in_order() -> None:
    gate = Gate("ok")
    engine = engine_with(gate, wait_at_end_s=0)
    when(engine, first_answer_done, gate.open)  # the call outlives its answer
    code, evs = run_json(engine)
    assert code == 0
    told = story(evs)
    # The result is announced as held before the turn it starts.
    assert told == [
        "turn 1 by user",
        "call a",
        "background a",
        "interrupt a background",
        "done eos",
        "result a",
        "held a answer",
        "turn 2 by a",
        "interrupt a tool",
        "done eos",
    ]
    turn2 = [e for e in evs if e["event"] == "turn"][1]
    assert turn2["text"] == "" and turn2["started_by"] == ["a"]
    assert evs[-1]["event"] == "done"  # nothing after the last answer: the run ended
    assert engine.snapshot().background == ()


def test_the_default_run_waits_for_a_slow_call_inside_the_answer() -> None:
    gate = Gate("ok")
    engine = engine_with(gate, wait_at_end_s=None, turns=(CALL + " It said ok.",))
    # It opens only once the answer has reached its end and waits there.
    when(engine, lambda e: type(e).__name__ == "Trapped", gate.open)
    code, evs = run_json(engine)
    assert code == 0
    assert story(evs) == ["turn 1 by user", "call a", "result a", "interrupt a tool", "done eos"]
    # The model read the result and wrote on, in the same answer.
    after = [e["text"] for e in evs[story_index(evs, "interrupt") :] if e["event"] == "token"]
    assert "".join(after).strip() == "It said ok."


def test_no_wait_text_prints_the_result_turn_under_a_line_naming_the_call() -> None:
    gate = Gate("ok")
    engine = engine_with(gate, wait_at_end_s=0)
    when(engine, first_answer_done, gate.open)
    out, err = io.StringIO(), io.StringIO()
    assert run_headless(engine, "Build it.", out=out, err=err) == 0
    lines = out.getvalue().splitlines()
    assert lines[:3] == [
        "Starting the build.",
        "⚙ a = build()",
        "I will tell you when it is done.",
    ]
    assert lines[3] == f"• a {BACKGROUND_NOTE}"
    assert lines[4].startswith("• a new turn, started by build a (finished after ")
    assert lines[5].startswith("↩ a → ok · took ")
    assert lines[6:] == ["The build finished: ok."]
    assert "[answering your message" not in err.getvalue()


def test_a_result_held_for_the_next_message_ends_the_run_and_is_shown() -> None:
    gate = Gate("42")
    engine = engine_with(gate, wait_at_end_s=0, deliver_idle=DeliverIdle.NOTIFY)
    when(engine, first_answer_done, gate.open)
    out = io.StringIO()
    assert run_headless(engine, "Build it.", out=out, err=io.StringIO()) == 0
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("• a → 42 · took ") and last.endswith("held for the next turn (notify)")
    assert len(engine.snapshot().background) == 1  # its result never reached the model


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to the process itself")
def test_ctrl_c_while_only_background_calls_are_left_ends_the_run_at_once() -> None:
    gate = Gate("never")
    engine = engine_with(gate, wait_at_end_s=0)
    # Ctrl+C once the answer ended and the run waits for the call alone.
    when(engine, first_answer_done, lambda: os.kill(os.getpid(), signal.SIGINT))
    err = io.StringIO()
    try:  # (the gate opens only after the run returned: it did not wait for it)
        code = run_headless(engine, "Build it.", out=io.StringIO(), err=err)
    finally:
        gate.open()
    assert code == 0
    assert "asynclm: stopped; 1 call(s) still in the background are cancelled: a" in err.getvalue()
