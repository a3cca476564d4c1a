"""A long prompt reports how far its evaluation has got, batch by batch."""

from __future__ import annotations

from engine_harness import scripted

from asynclm_tui.core.api.enums import StopReason
from asynclm_tui.core.api.events import (
    MessageReturned,
    Prefilled,
    PrefillProgress,
    StopGeneration,
    TurnFailed,
    TurnStarted,
)
from asynclm_tui.core.backends.scripted import ScriptedBackend

BATCH = 64
LONG = " ".join(f"word{n}" for n in range(100))
"""A message of 100 scripted tokens: several batches."""


def test_a_long_prompt_reports_each_batch_then_prefilled() -> None:
    # Each append takes longer than the report interval: no report is merged.
    backend = ScriptedBackend(["Ok."], prefill_batch=BATCH, append_s=0.06)
    with scripted(backend=backend) as run:
        done = run.turn(LONG)
    start = run.index(lambda e: isinstance(e, TurnStarted))
    prefilled = run.index(lambda e: isinstance(e, Prefilled))
    reports = run.of(PrefillProgress)
    assert all(start < run.events.index(r) < prefilled for r in reports)
    (filled,) = run.of(Prefilled)
    total = filled.n_evaluated
    assert total > 5 * BATCH
    assert [(r.done, r.total) for r in reports] == [
        (min(n, total), total) for n in range(0, total + BATCH, BATCH)
    ]
    assert all(a.ms <= b.ms for a, b in zip(reports, reports[1:], strict=False))
    # The prompt went in a batch at a time, and the answer is as without batches.
    assert max(len(batch) for batch in backend.appends) <= BATCH
    assert LONG in backend.text()
    assert done.text.endswith("Ok.")


def test_a_prompt_within_one_batch_reports_nothing() -> None:
    backend = ScriptedBackend(["Ok.", "Ok."], prefill_batch=BATCH)
    with scripted(backend=backend) as run:
        run.turn("Hi there.")  # the first turn also reads the system prompt
        run.turn("And now?")
    second = run.index(lambda e: isinstance(e, TurnStarted) and e.turn == 2)
    assert not [e for e in run.events[second:] if isinstance(e, PrefillProgress)]
    assert run.of(Prefilled)[1].n_evaluated <= BATCH


def test_fast_batches_are_reported_a_few_times_a_second_first_and_last_always() -> None:
    backend = ScriptedBackend(["Ok."], prefill_batch=1)
    with scripted(backend=backend) as run:
        run.turn(LONG)
    reports = run.of(PrefillProgress)
    total = run.of(Prefilled)[0].n_evaluated
    assert total > 100
    assert reports[0].done == 0 and reports[-1].done == total
    assert len(reports) < total  # an instant batch each: most reports are merged


def test_a_backend_without_batches_appends_the_prompt_at_once() -> None:
    backend = ScriptedBackend(["Ok."])  # prefill_batch 0: a remote server
    with scripted(backend=backend) as run:
        run.turn(LONG)
    assert run.of(PrefillProgress) == []
    assert any(LONG in text for text in backend.appended_texts())


def test_stop_while_a_long_prompt_is_read_ends_the_turn_and_returns_the_message() -> None:
    backend = ScriptedBackend(["Ok."], prefill_batch=BATCH, append_s=0.05)
    with scripted(backend=backend) as run:

        def stop_at_second_batch(event: object) -> None:
            if isinstance(event, PrefillProgress) and event.done == BATCH:
                run.post(StopGeneration())

        run.hooks.append(stop_at_second_batch)
        done = run.turn(LONG)
        run.hooks.clear()
        (returned,) = run.of(MessageReturned)
        assert done.reason is StopReason.STOPPED and done.n_generated == 0
        assert returned.text == LONG and returned.reason is StopReason.STOPPED
        assert "reading the prompt" in returned.message
        assert not run.of(Prefilled) and not run.of(TurnFailed)
        # The chat goes on, without the stopped message in its history.
        again = run.turn("Short one.")
    assert again.text.endswith("Ok.") and LONG not in backend.text()
