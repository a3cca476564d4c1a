"""The follow-up rule: a message typed mid-answer is never left unanswered.

An answer that ends within a few tokens of a user interrupt without taking it
up (no call, fewer than ``TAKE_UP_TOKENS`` visible tokens after it) gets the
message answered as a turn of its own, flagged ``follow_up``."""

from __future__ import annotations

from asynclm_tui.core.api.events import (
    Event,
    SendMessage,
    StopGeneration,
    Token,
    TurnDone,
    TurnStarted,
    UserMessage,
)
from asynclm_tui.core.decode.follow_up import TAKE_UP_TOKENS
from tests.engine.engine_harness import WAIT_S, Run, scripted

STORY = "Once upon a time there was a dragon named Max"
ASK = "Make the dragon's name Bob."


def send_after(run: Run, word: str, *texts: str) -> None:
    """Post ``texts`` as the user's messages right after the token ``word``
    (hooks run on the decode thread, so they land after exactly that token)."""
    sent = {"done": False}

    def hook(event: Event) -> None:
        if isinstance(event, Token) and event.text.strip() == word and not sent["done"]:
            sent["done"] = True
            for text in texts:
                run.post(SendMessage(text))

    run.hooks.append(hook)


def settle(run: Run) -> list[TurnStarted]:
    """Wait until nothing runs or is queued; the turns that started."""
    assert run.engine.wait_idle(WAIT_S)
    return run.of(TurnStarted)


def test_an_answer_that_ends_right_after_a_message_answers_it_in_a_new_turn() -> None:
    with scripted([f"{STORY}.<eos>", "Sure, the dragon is Bob now.<eos>"]) as run:
        send_after(run, "Max", ASK)
        first = run.turn("Tell me a story.")
        second = run.wait_for(TurnDone, 2)
        turns = settle(run)
    assert f"[INTR] user [HEAD] {ASK} [END]" in first.text
    assert [t.follow_up for t in turns] == [False, True]
    assert turns[1].text == ASK
    assert run.index(lambda e: e is first) < run.index(lambda e: e is turns[1])
    assert second.text == "Sure, the dragon is Bob now."
    # the follow-up is a user turn of the conversation, after the answer that missed it
    kv = run.backend.text()
    assert kv.index(f"[HEAD] {ASK} [END]") < kv.index(f"<|im_start|>user\n{ASK}<|im_end|>")


def test_a_message_the_answer_takes_up_starts_no_new_turn() -> None:
    with scripted([f"{STORY}. Okay, Bob it is then.<eos>"]) as run:
        send_after(run, "Max", ASK)
        run.turn("Tell me a story.")
        turns = settle(run)
    assert len(turns) == 1 and not turns[0].follow_up


def test_exactly_the_threshold_of_visible_tokens_takes_it_up() -> None:
    words = " ".join(["ok"] * TAKE_UP_TOKENS)
    short = " ".join(["ok"] * (TAKE_UP_TOKENS - 1))
    with scripted([f"{STORY} {words}<eos>", f"{STORY} {short}<eos>", "Bob.<eos>"]) as run:
        send_after(run, "Max", ASK)
        run.turn("One.")
        assert len(settle(run)) == 1
        send_after(run, "Max", ASK)
        run.turn("Two.")
        turns = settle(run)
    assert [t.follow_up for t in turns] == [False, False, True]


def test_a_call_after_the_message_takes_it_up() -> None:
    script = f"{STORY} [CALL] e [HEAD] echo(text='Bob') [END]<eos> Bob.<eos>"
    with scripted([script]) as run:
        send_after(run, "Max", "Also echo Bob.")
        run.turn("Tell me a story.")
        turns = settle(run)
    assert len(turns) == 1


def test_a_trap_is_not_taking_it_up() -> None:
    script = f"{STORY} [CALL] s [HEAD] sleep(ms=10) [END] [TRAP][END]<eos>"
    with scripted([script, "Bob it is.<eos>"]) as run:
        send_after(run, "[END]", ASK)  # right after the call block, before the trap
        run.turn("Tell me a story.")
        turns = settle(run)
    assert [t.follow_up for t in turns] == [False, True]


def test_two_unanswered_messages_get_one_turn_with_both() -> None:
    with scripted([f"{STORY}.<eos>", "Both done.<eos>"]) as run:
        send_after(run, "Max", ASK, "And make it short.")
        run.turn("Tell me a story.")
        turns = settle(run)
    assert [t.follow_up for t in turns] == [False, True]
    assert turns[1].text == f"{ASK}\n\nAnd make it short."


def test_an_answer_cut_at_the_token_limit_answers_the_message_too() -> None:
    with scripted(
        [f"{STORY} and more words here", "Bob.<eos>"], **{"generation.max_tokens": 11}
    ) as run:
        send_after(run, "Max", ASK)
        first = run.turn("Tell me a story.")
        turns = settle(run)
    assert first.reason == "max_tokens"
    assert [t.follow_up for t in turns] == [False, True]


def test_a_stopped_answer_starts_no_follow_up() -> None:
    with scripted([f"{STORY}.<eos>"]) as run:

        def hook(event: Event) -> None:
            if isinstance(event, UserMessage):
                run.post(StopGeneration())

        run.hooks.append(hook)
        send_after(run, "Max", ASK)
        first = run.turn("Tell me a story.")
        turns = settle(run)
    assert first.reason == "stopped" and len(turns) == 1


def test_the_follow_up_comes_before_a_message_sent_after_the_end() -> None:
    with scripted([f"{STORY}.<eos>", "Bob.<eos>", "Next.<eos>"]) as run:
        send_after(run, "Max", ASK)

        def after_end(event: Event) -> None:
            if isinstance(event, TurnDone) and len(run.of(TurnDone)) == 0:
                run.post(SendMessage("A new question."))

        run.hooks.append(after_end)
        run.turn("Tell me a story.")
        second = run.wait_for(TurnDone, 2)
        run.wait_for(TurnDone, 3)
        turns = settle(run)
    assert [t.text for t in turns] == ["Tell me a story.", ASK, "A new question."]
    # Waiting when the follow-up started, the new message reached it at its
    # start (as any message typed ahead does); "Bob." did not take it up, so
    # it got a turn of its own too.
    assert second.text.lstrip().startswith("[INTR] user [HEAD] A new question. [END]")
    assert [t.follow_up for t in turns] == [False, True, True]


def test_follow_up_is_in_the_turn_events_json() -> None:
    event = TurnStarted(0.0, 2, "async", ASK, 1, True)  # type: ignore[arg-type]
    assert event.to_json()["follow_up"] is True
    assert TurnStarted(0.0, 1, "async", "hi").to_json()["follow_up"] is False  # type: ignore[arg-type]
