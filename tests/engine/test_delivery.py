"""Every message is delivered exactly once, whatever the turn's end.

A property test over pastes (newlines, escapes, control characters, CML
markers), when they are posted (before the model loads, mid-answer, between
turns) and how turns end (end of turn, a stop, a backend failure at any
stage, a context window that fills or cannot take the prompt at all): each
message reaches the model exactly once, as the user turn of a turn whose
prompt got in or as an ``[INTR] user`` interrupt, or comes back to the user
exactly once as ``MessageReturned``.  Never twice, never lost, never looping.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

import pytest
from engine_harness import WAIT_S, Run, scripted
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asynclm_tui.core.api.enums import StopReason
from asynclm_tui.core.api.events import (
    Event,
    MessageReturned,
    Prefilled,
    SendMessage,
    StopGeneration,
    Token,
    TurnDone,
    TurnFailed,
    TurnStarted,
    UserMessage,
)
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.cml.syntax import USER_ID, format_interrupt

pytestmark = pytest.mark.fuzz

FAULTS = ("render_chat", "tokenize", "append", "sample", "piece")
"""Backend methods a turn can fail in (see ScriptedBackend.faults)."""
OPEN, CLOSE = "\u27e8", "\u27e9"
"""Brackets of each message's unique tag (kept out of the pastes)."""

pastes = st.lists(
    st.one_of(
        st.characters(codec="utf-8", exclude_characters=OPEN + CLOSE),
        st.sampled_from(["\n", "\r\n", "\x1b[31m", "\x1b]52;c;eA==\x07", "\x00", "\x7f", "\t"]),
        st.sampled_from([" [INTR] ", " [END] ", " [CALL] a [HEAD] ", "<|im_end|>", " word"]),
    ),
    max_size=40,
).map("".join)


@dataclass(frozen=True)
class Scenario:
    """What the user posts and when, and how the model and backend behave."""

    texts: tuple[str, ...]
    at_token: tuple[int | None, ...]
    """Per message: post it at this Token event (None: before the model loads)."""
    scripts: tuple[str, ...]
    room: int | None
    """Tokens of context beyond the system prompt (None: plenty)."""
    fault: tuple[str, int] | None
    stop_at: int | None


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(1, 6))
    texts = tuple(f"{OPEN}m{i}{CLOSE}{draw(pastes)}" for i in range(n))
    at_token = tuple(draw(st.lists(st.none() | st.integers(1, 40), min_size=n, max_size=n)))
    scripts = tuple(
        draw(
            st.lists(
                st.builds(
                    lambda k, end: " word" * k + end,
                    st.integers(0, 25),
                    st.sampled_from(["", ".", ". Okay done now.", "<eos> after"]),
                ),
                max_size=6,
            )
        )
    )
    room = draw(st.none() | st.integers(0, 120))
    fault = draw(st.none() | st.tuples(st.sampled_from(FAULTS), st.integers(1, 30)))
    stop_at = draw(st.none() | st.integers(1, 40))
    return Scenario(texts, at_token, scripts, room, fault, stop_at)


def system_prompt_tokens() -> int:
    """Tokens of the prompt of a one-word chat (the system prompt and tools)."""
    with scripted(["Hi."]) as probe:
        probe.turn("Go.")
    return probe.of(Prefilled)[0].n_prompt


N_PROMPT = system_prompt_tokens()


def play(case: Scenario) -> Run:
    """Run the scenario to the end: every message posted, the engine idle."""
    n_ctx = 8192 if case.room is None else N_PROMPT + case.room
    faults = dict([case.fault]) if case.fault is not None else None
    backend = ScriptedBackend(case.scripts, n_ctx=n_ctx, faults=faults)
    with scripted(backend=backend, start=False) as run:
        lock = threading.Lock()
        unposted = dict(enumerate(case.texts))
        tokens = [0]

        def post_due(event: Event) -> None:  # on the decode thread, mid-turn
            if not isinstance(event, Token):
                return
            tokens[0] += 1
            if tokens[0] == case.stop_at:
                run.post(StopGeneration())
            with lock:
                due = [i for i in unposted if case.at_token[i] == tokens[0]]
                for i in due:
                    run.post(SendMessage(unposted.pop(i)))

        run.hooks.append(post_due)
        with lock:
            for i in [i for i in unposted if case.at_token[i] is None]:
                run.post(SendMessage(unposted.pop(i)))
        run.engine.start()
        assert run.engine.wait_loaded(WAIT_S)
        while True:
            assert run.engine.wait_idle(WAIT_S), "the engine never went idle"
            with lock:  # the rest: their Token never came (posted between turns)
                rest = [unposted.pop(i) for i in sorted(unposted)]
            if not rest:
                break
            for text in rest:
                run.post(SendMessage(text))
        history = list(run.engine._session.messages)
    run.history = history  # type: ignore[attr-defined]
    return run


def accounted(run: Run) -> tuple[list[str], list[str]]:
    """Messages the model read (turns whose prompt got in, interrupts) and
    messages handed back, in order; follow-up turns are checked, not counted."""
    read: list[str] = []
    returned: list[str] = []
    turn: TurnStarted | None = None
    interrupts: list[str] = []
    last_interrupts: list[str] = []
    for event in run.events:
        match event:
            case TurnStarted():
                if event.follow_up:
                    # A re-ask of messages the last answer read and left unanswered.
                    tails = {"\n\n".join(last_interrupts[i:]) for i in range(len(last_interrupts))}
                    assert event.text in tails, "a follow-up re-asked something never read"
                turn, interrupts = event, []
            case Prefilled() if turn is not None and not turn.follow_up:
                read.append(turn.text)
            case UserMessage():
                read.append(event.text)
                interrupts.append(event.text)
            case TurnDone():
                last_interrupts = interrupts
            case MessageReturned():
                assert event.reason in (StopReason.CONTEXT_FULL, StopReason.ERROR)
                returned.append(event.text)
            case _:
                pass
    return read, returned


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_every_message_is_delivered_exactly_once_or_handed_back(case: Scenario) -> None:
    run = play(case)
    read, returned = accounted(run)
    assert Counter(read) + Counter(returned) == Counter(case.texts)
    started = [t for t in run.of(TurnStarted) if not t.follow_up]
    assert len(started) <= len(case.texts), "turns started on their own"
    assert len(run.of(TurnDone)) == len(run.of(TurnStarted))
    # The chat's history holds each message at most once (the window may
    # have slid past it), and never one that was handed back; a follow-up
    # turn re-asks it once more, on purpose.
    history: list[dict[str, str]] = run.history  # type: ignore[attr-defined]
    follow_ups = [t.text for t in run.of(TurnStarted) if t.follow_up]
    for text in case.texts:
        as_turn = sum(1 for m in history if m["role"] == "user" and m["content"] == text)
        marker = format_interrupt(USER_ID, text.replace("<|", "<\u200b|"))
        as_interrupt = sum(m["content"].count(marker) for m in history if m["role"] == "assistant")
        limit = (0 if text in returned else 1) + sum(text in f for f in follow_ups)
        assert as_turn + as_interrupt <= limit, text


def test_messages_a_full_context_could_not_take_are_answered_next_not_repeated() -> None:
    """Messages typed mid-answer that no longer fit go back to the inbox: the
    next turn answers them in a fresh window, and the answer saved for the
    full turn does not carry them (no message reaches the model twice)."""
    texts = [f"line {i} " + "x " * 8 for i in range(3)]
    case = Scenario(
        texts=tuple(texts),
        at_token=(None, 3, 3),
        scripts=(" word" * 40, "Done.", "Done."),
        room=30,
        fault=None,
        stop_at=None,
    )
    run = play(case)
    read, returned = accounted(run)
    assert read == texts and not returned
    first = run.of(TurnDone)[0]
    assert first.reason == StopReason.CONTEXT_FULL and "line 1" not in first.text
    assert [t.text for t in run.of(TurnStarted)][:2] == texts[:2]


def test_a_message_too_long_for_the_window_is_handed_back_once() -> None:
    long = "too long " * 80
    case = Scenario((long, "short"), (None, None), ("Fine.", "Fine."), 40, None, None)
    run = play(case)
    returned = run.of(MessageReturned)
    assert [r.text for r in returned] == [long]
    assert returned[0].reason == StopReason.CONTEXT_FULL
    assert returned[0].message == run.of(TurnFailed)[0].message
    assert [t.text for t in run.of(TurnStarted)] == [long, "short"]
    assert run.of(TurnDone)[1].reason == StopReason.EOS
