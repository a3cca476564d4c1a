"""``asynclm run --user-at``: every message is delivered and reported, whether
it lands mid-answer, after the answer ended, or is left unanswered by it."""

from __future__ import annotations

import io
import json
import threading

from asynclm_tui.core.api.events import Event, Input, SendMessage, Token, TurnDone
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.headless.run import TimedMessage, run_headless
from tests.engine.engine_harness import WAIT_S, settings

ASK = "Make the dragon's name Bob."


class AfterFirstAnswer(Engine):
    """Holds back a posted message until the first answer ended, so a
    ``--user-at`` message is due after it whatever the machine's speed."""

    def __init__(self, backend: ScriptedBackend) -> None:
        super().__init__(settings(), ToolRegistry(), backend.factory())
        self.first_done = threading.Event()
        self.subscribe(lambda e: self.first_done.set() if isinstance(e, TurnDone) else None)
        self.posted = 0

    def post(self, inp: Input) -> None:
        if isinstance(inp, SendMessage):
            self.posted += 1
            if self.posted > 1:  # not the prompt itself
                assert self.first_done.wait(WAIT_S)
        super().post(inp)


def json_events(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_a_message_due_after_the_answer_ended_starts_a_turn_and_is_reported() -> None:
    backend = ScriptedBackend(["A short answer.<eos>", "Bob it is.<eos>"])
    engine = AfterFirstAnswer(backend)
    out, err = io.StringIO(), io.StringIO()
    code = run_headless(
        engine, "Tell me a story.", user_at=(TimedMessage(0, ASK),), out=out, err=err
    )
    assert code == 0
    assert out.getvalue() == "A short answer.\nBob it is.\n"
    assert f"[answering your message as a new turn (it came after the answer ended): {ASK!r}]" in (
        err.getvalue()
    )


def test_json_shows_the_later_turn_with_its_text() -> None:
    backend = ScriptedBackend(["A short answer.<eos>", "Bob it is.<eos>"])
    engine = AfterFirstAnswer(backend)
    out = io.StringIO()
    code = run_headless(
        engine, "Tell me a story.", as_json=True, user_at=(TimedMessage(0, ASK),), out=out
    )
    assert code == 0
    evs = json_events(out.getvalue())
    turns = [e for e in evs if e["event"] == "turn"]
    assert [(t["text"], t["follow_up"]) for t in turns] == [
        ("Tell me a story.", False),
        (ASK, False),
    ]
    assert [e["event"] for e in evs].count("done") == 2 and evs[-1]["event"] == "done"


def test_a_message_the_answer_did_not_take_up_is_answered_and_reported() -> None:
    backend = ScriptedBackend(["Once upon a time there was Max.<eos>", "Bob it is.<eos>"])
    engine = Engine(settings(), ToolRegistry(), backend.factory())

    def steer(event: Event) -> None:  # on the decode thread: lands right after "Max"
        if isinstance(event, Token) and event.text.strip() == "Max":
            engine.post(SendMessage(ASK))

    engine.subscribe(steer)
    out, err = io.StringIO(), io.StringIO()
    assert run_headless(engine, "Tell me a story.", out=out, err=err) == 0
    # The message landed after "Max": its line waits for the sentence's end.
    assert out.getvalue() == (
        f"Once upon a time there was Max.\n✉ you, mid-answer: {ASK}\nBob it is.\n"
    )
    assert "(the answer ended without taking it up)" in err.getvalue()


def test_a_message_due_mid_answer_steers_it_and_no_turn_follows() -> None:
    backend = ScriptedBackend([" ".join(["word"] * 400) + "<eos>"], step_s=0.002)
    engine = Engine(settings(), ToolRegistry(), backend.factory())
    out = io.StringIO()
    code = run_headless(
        engine, "Go.", as_json=True, user_at=(TimedMessage(0, "also mention Bob"),), out=out
    )
    assert code == 0
    kinds = [e["event"] for e in json_events(out.getvalue())]
    assert kinds.count("turn") == 1 and kinds.count("user") == 1
    assert kinds.index("token") < kinds.index("user") < kinds.index("done")
