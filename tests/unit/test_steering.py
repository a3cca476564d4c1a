"""Steer, queue and stop as a state object: keys and engine events in, effects out.

No screen and no widget: each test feeds the inputs a chat would see and
checks the effects the screen would apply.
"""

from __future__ import annotations

import subprocess
import sys

from asynclm_tui.core.api.enums import CallStatus, StopReason
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    CancelCall,
    Event,
    HeldResults,
    HeldState,
    KeepResults,
    MessageReturned,
    ModelLoaded,
    ModelLoadFailed,
    PromptWarmed,
    SendMessage,
    StopGeneration,
    Token,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.ui.chat.effects import (
    AddChip,
    Effect,
    Focus,
    KeepInBox,
    Notify,
    OpenEditor,
    PostInput,
    RefreshBindings,
    ReturnToBox,
    SetStatus,
    ShowHeld,
)
from asynclm_tui.ui.chat.steering import Steering
from asynclm_tui.ui.state import ChatState

LOADED = ModelLoaded(0.0, "m.gguf", 2048, 0, False, 10.0)


def steering(keymap: dict[str, str] | None = None, *, warm: bool = True) -> Steering:
    """A chat whose model has loaded (and read its system prompt, if ``warm``)."""
    steer = Steering(ChatState(), keymap)
    feed(steer, LOADED)
    if warm:
        feed(steer, PromptWarmed(0.1, "evaluated", 100))
    return steer


def feed(steer: Steering, event: Event) -> list[Effect]:
    """What the screen does with an event: record it, then let steering follow it."""
    steer.state.apply(event)
    return steer.observe(event)


def started(turn: int, text: str) -> TurnStarted:
    return TurnStarted(float(turn), turn, "async", text)


def done(reason: StopReason) -> TurnDone:
    return TurnDone(9.0, reason, 10, 5, 0, 15, 2048, 100.0, 80.0, 50.0)


def posts(effects: list[Effect]) -> list[object]:
    return [e.input for e in effects if isinstance(e, PostInput)]


def sent(effects: list[Effect]) -> list[str]:
    return [i.text for i in posts(effects) if isinstance(i, SendMessage)]


def notes(effects: list[Effect]) -> list[str]:
    return [e.message for e in effects if isinstance(e, Notify)]


def queued(steer: Steering) -> list[str]:
    return [i.text for i in steer.queue.items]


def test_enter_starts_an_answer_and_enter_again_steers_it() -> None:
    steer = steering()
    first = steer.send("hello")
    assert first == [PostInput(SendMessage("hello"))]
    assert steer.answering and not steer.generating  # sent; its TurnStarted is on the way
    # Before the turn has started, a second message already steers it.
    again = steer.send("and briefly")
    assert sent(again) == ["and briefly"] and notes(again)[0].startswith("Steering:")
    feed(steer, started(1, "hello"))
    assert steer.generating
    mid = steer.send("in French")
    assert sent(mid) == ["in French"] and "Tab queues" in notes(mid)[0]
    feed(steer, done(StopReason.EOS))
    assert not steer.answering
    assert steer.send("next") == [PostInput(SendMessage("next"))]


def test_a_message_sent_while_loading_or_warming_is_posted_and_says_it_waits() -> None:
    steer = Steering(ChatState())
    loading = steer.send("early")
    assert sent(loading) == ["early"]
    assert notes(loading) == ["Queued: the model is still loading."]
    steer = steering(warm=False)
    assert steer.loaded and steer.warming
    warming = steer.send("soon")
    assert sent(warming) == ["soon"]
    assert SetStatus("reading the system prompt", "wait") in warming
    # The prompt is read while that message waits: the status keeps saying so.
    assert feed(steer, PromptWarmed(1.0, "evaluated", 100)) == []
    assert not steer.warming


def test_prompt_warmed_while_idle_says_ready() -> None:
    steer = steering(warm=False)
    assert feed(steer, PromptWarmed(1.0, "restored", 100)) == [SetStatus("ready", "idle")]


def test_after_a_load_failure_nothing_is_posted_and_the_text_is_kept() -> None:
    steer = Steering(ChatState())
    assert feed(steer, ModelLoadFailed(1.0, "no such file")) == []
    assert steer.load_failed
    effects = steer.send("hello")
    assert posts(effects) == []
    assert KeepInBox("hello") in effects
    assert notes(effects) == ["The model did not load; nothing can answer."]
    assert steer.enqueue("later") == [] and queued(steer) == ["later"]


def test_tab_sends_at_once_when_idle_and_queues_while_answering() -> None:
    steer = steering()
    assert sent(steer.enqueue("now")) == ["now"]  # nothing to wait for
    feed(steer, started(1, "now"))
    assert steer.enqueue("first") == []
    assert steer.enqueue("second") == []
    assert queued(steer) == ["first", "second"]


def test_tab_keeps_the_order_behind_messages_already_queued() -> None:
    steer = steering()
    steer.restore_queue(["saved"])
    assert steer.enqueue("typed") == []  # idle, but "saved" goes first
    assert queued(steer) == ["saved", "typed"]


def test_queued_messages_go_one_per_answer_after_clean_ends() -> None:
    steer = steering()
    steer.send("go")
    feed(steer, started(1, "go"))
    steer.enqueue("first")
    steer.enqueue("second")
    after_first = feed(steer, done(StopReason.EOS))
    assert sent(after_first) == ["first"] and after_first[-1] == RefreshBindings()
    assert queued(steer) == ["second"] and steer.answering
    feed(steer, started(2, "first"))
    assert sent(feed(steer, done(StopReason.MAX_TOKENS))) == ["second"]
    feed(steer, started(3, "second"))
    assert sent(feed(steer, done(StopReason.EOS))) == [] and queued(steer) == []


def test_a_stop_gives_the_queue_back_to_the_box_unsent() -> None:
    steer = steering()
    steer.send("go")
    feed(steer, started(1, "go"))
    steer.enqueue("fix this")
    steer.enqueue("keep me")
    assert steer.check_action("stop") and not steer.check_action("cancel_calls")
    stop = steer.stop()
    assert stop == [PostInput(StopGeneration()), SetStatus("stopping", "wait"), RefreshBindings()]
    assert steer.stop_requested
    assert steer.stop() == [Focus("prompt")]  # a second Esc goes back to the box
    ended = feed(steer, done(StopReason.STOPPED))
    assert posts(ended) == []
    assert ReturnToBox(("fix this", "keep me")) in ended
    assert "(you stopped the answer)" in notes(ended)[0]
    assert queued(steer) == []


def test_a_failed_answer_gives_the_queue_back_too() -> None:
    steer = steering()
    steer.send("go")
    feed(steer, started(1, "go"))
    steer.enqueue("after")
    ended = feed(steer, done(StopReason.ERROR))
    assert ReturnToBox(("after",)) in ended and "(the answer failed)" in notes(ended)[0]
    # Nothing queued: a stop returns nothing to the box.
    steer.send("again")
    feed(steer, started(2, "again"))
    assert feed(steer, done(StopReason.STOPPED)) == [RefreshBindings()]


def test_a_message_the_engine_hands_back_returns_to_the_box_ahead_of_the_queue() -> None:
    steer = steering()
    steer.send("huge paste")
    feed(steer, started(1, "huge paste"))
    steer.enqueue("after")
    ended = feed(steer, done(StopReason.CONTEXT_FULL))
    assert ReturnToBox(("after",)) in ended
    why = "the conversation (9,000 tokens) does not fit the context window (2,048 tokens)"
    back = feed(steer, MessageReturned(9.1, "huge paste", StopReason.CONTEXT_FULL, why))
    # Applied after the queue's: it lands before it, in the order typed.
    assert ReturnToBox(("huge paste",)) in back and posts(back) == []
    assert "too long for the context window" in notes(back)[0]
    failed = feed(steer, MessageReturned(9.2, "hi", StopReason.ERROR, "server down"))
    assert ReturnToBox(("hi",)) in failed and "before the model read it" in notes(failed)[0]


def test_esc_when_nothing_is_written_goes_back_to_the_box() -> None:
    assert steering().stop() == [Focus("prompt")]


def test_esc_cancels_the_calls_a_stopped_answer_left_running() -> None:
    steer = steering()
    steer.send("go")
    feed(steer, started(1, "go"))
    feed(steer, CallIssued(1.1, "s", "sleep"))
    feed(steer, CallUpdated(1.2, "s", CallStatus.RUNNING))
    assert steer.check_action("stop") and not steer.check_action("cancel_calls")
    steer.stop()
    assert not steer.check_action("stop") and steer.check_action("cancel_calls")
    assert steer.cancel_calls() == [
        PostInput(CancelCall(None)),
        Notify("Cancelling s.", timeout=3),
    ]
    feed(steer, done(StopReason.STOPPED))
    assert steer.check_action("cancel_calls")  # still running after the answer ended
    feed(steer, CallFinished(3.0, "s", False, 1.0, CallStatus.CANCELLED, "error: cancelled"))
    assert steer.check_action("stop") and not steer.check_action("cancel_calls")


def test_held_results_are_shown_kept_or_dropped() -> None:
    steer = steering({"keep_results": "ctrl+k,f9"})
    steer.send("go")
    feed(steer, started(1, "go"))
    feed(steer, CallIssued(1.1, "s", "sleep"))
    assert steer.keep_results() == [Notify("No results are held back.", timeout=2)]
    assert not steer.check_action("keep_results")
    steer.stop()
    feed(steer, done(StopReason.STOPPED))
    held = feed(steer, HeldResults(3.0, ("s",), HeldState.HELD))
    record = steer.state.calls["s"]
    assert held[0] == ShowHeld((record,), "ctrl+k", "esc")
    assert held[1] == AddChip(
        "info",
        "s still due: their results stay out of the next answer unless you keep them (ctrl+k)",
    )
    assert steer.check_action("keep_results")
    # The result comes in later: shown in its own (stopped) answer, marked held back.
    value = "x" * 100
    finished = feed(steer, CallFinished(4.0, "s", True, 3000.0, CallStatus.DONE, value))
    assert finished[0] == AddChip("result", f"s → {'x' * 79}… · held back", turn=1)
    assert steer.keep_results() == [PostInput(KeepResults())]
    kept = feed(steer, HeldResults(5.0, ("s",), HeldState.KEPT))
    assert notes(kept) == ["Kept for the next answer: s."]
    assert kept[0] == ShowHeld((), "ctrl+k", "esc")


def test_a_dropped_result_says_the_model_never_got_it() -> None:
    steer = steering()
    steer.send("go")
    feed(steer, started(1, "go"))
    feed(steer, CallIssued(1.1, "s", "sleep"))
    steer.stop()
    feed(steer, done(StopReason.STOPPED))
    feed(steer, HeldResults(3.0, ("s",), HeldState.HELD))
    steer.send("next")
    feed(steer, started(2, "next"))
    feed(steer, HeldResults(4.0, ("s",), HeldState.DROPPED))
    finished = feed(steer, CallFinished(5.0, "s", False, 1.0, CallStatus.FAILED, "error: boom"))
    assert finished[0] == AddChip("error", "s → error: boom · not given to the model", turn=1)


def test_a_result_of_an_answer_that_was_not_stopped_adds_no_chip() -> None:
    steer = steering()
    steer.send("go")
    feed(steer, started(1, "go"))
    feed(steer, CallIssued(1.1, "a", "echo"))
    finished = feed(steer, CallFinished(1.5, "a", True, 1.0, CallStatus.DONE, "hi"))
    assert not [e for e in finished if isinstance(e, AddChip)]


def test_a_restored_queue_waits_for_the_next_answer_to_end() -> None:
    steer = Steering(ChatState())
    note = steer.restore_queue(["then the weather", "and save a note"])
    assert "2 message(s) you had queued are back in the queue" in notes(note)[0]
    assert steer.restore_queue([]) == []
    assert posts(feed(steer, LOADED)) == []  # not sent on load
    feed(steer, PromptWarmed(0.1, "restored", 100))
    steer.send("hello again")
    feed(steer, started(1, "hello again"))
    assert sent(feed(steer, done(StopReason.EOS))) == ["then the weather"]


def test_without_a_restored_queue_messages_queued_while_loading_go_on_load() -> None:
    steer = Steering(ChatState())
    steer.enqueue("typed while loading")  # sent at once: the engine holds it
    assert steer.answering
    steer = Steering(ChatState())
    steer.queue.add("waiting")
    assert sent(feed(steer, LOADED)) == ["waiting"]


def test_an_edited_message_waits_while_the_editor_is_open() -> None:
    steer = steering()
    steer.send("go")
    feed(steer, started(1, "go"))
    first = steer.queue.add("fix me")
    steer.queue.add("keep me")
    assert steer.edit(first.id) == [OpenEditor(first)] and steer.editing == first.id
    assert sent(feed(steer, done(StopReason.EOS))) == []  # not while it is edited
    saved = steer.edit_finished(first.id, "fixed")
    assert steer.editing is None and sent(saved) == ["fixed"]
    assert queued(steer) == ["keep me"]
    assert steer.edit(999) == []  # already sent: nothing to edit


def test_an_edit_emptied_removes_the_message_and_a_cancelled_one_keeps_it() -> None:
    steer = steering()
    steer.send("go")
    feed(steer, started(1, "go"))
    a, b = steer.queue.add("a"), steer.queue.add("b")
    steer.edit(a.id)
    assert steer.edit_finished(a.id, "  ") == [] and queued(steer) == ["b"]
    steer.edit(b.id)
    assert steer.edit_finished(b.id, None) == [] and queued(steer) == ["b"]


def test_an_edit_clears_a_restored_queue_for_sending() -> None:
    steer = Steering(ChatState())
    steer.restore_queue(["saved"])
    feed(steer, LOADED)
    item = steer.queue.items[0]
    steer.edit(item.id)
    assert sent(steer.edit_finished(item.id, "saved, edited")) == ["saved, edited"]


def test_removing_the_last_queued_message_goes_back_to_the_box() -> None:
    steer = steering()
    steer.send("go")
    feed(steer, started(1, "go"))
    a, b = steer.queue.add("drop me"), steer.queue.add("and me")
    assert steer.remove(a.id) == [Notify("Removed from the queue: drop me", timeout=3)]
    assert steer.remove(b.id)[-1] == Focus("prompt")
    assert steer.remove(b.id) == []


def test_up_from_the_empty_box_goes_to_the_queue_only_when_there_is_one() -> None:
    steer = steering()
    assert steer.up_from_empty() == []
    steer.queue.add("x")
    assert steer.up_from_empty() == [Focus("queue")]


def test_a_new_chat_hides_held_results_and_keeps_the_queue() -> None:
    steer = steering()
    steer.queue.add("for the new chat")
    assert steer.chat_cleared() == [ShowHeld((), "ctrl+g", "esc"), RefreshBindings()]
    assert queued(steer) == ["for the new chat"]


def test_a_turn_start_resets_the_stop_and_shows_what_is_held() -> None:
    steer = steering()
    steer.send("go")
    started_effects = feed(steer, started(1, "go"))
    assert started_effects == [ShowHeld((), "ctrl+g", "esc"), RefreshBindings()]
    steer.stop()
    feed(steer, done(StopReason.STOPPED))
    steer.send("again")
    feed(steer, started(2, "again"))
    assert not steer.stop_requested and steer.check_action("stop")


def test_tokens_and_other_events_ask_for_nothing() -> None:
    steer = steering()
    assert steer.observe(Token(1.0, "a", "a")) == []
    assert steer.observe(CallUpdated(1.0, "x", CallStatus.RUNNING)) == [RefreshBindings()]


def test_steering_imports_no_textual() -> None:
    code = (
        "import sys, asynclm_tui.ui.chat.steering\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "", f"steering loaded Textual: {out.stdout.strip()}"
