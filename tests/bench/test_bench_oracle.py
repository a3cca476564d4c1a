"""The replay oracle's policy (LPT, traps, answer) and the ideal bound."""

from __future__ import annotations

import random

import pytest

from asynclm_tui.bench.bfcl.data import PlannedCall, SubTask, Task
from asynclm_tui.bench.bfcl.ideal import ideal_latency_ms
from asynclm_tui.bench.bfcl.oracle import (
    TRAP_TEXT,
    Oracle,
    Policy,
    answer_text,
    call_text,
)
from asynclm_tui.core.cml import CallBlock, CMLParser, TrapBlock


def _task(calls: list[PlannedCall], groups: int = 1, dataset: str = "parallel") -> Task:
    subs = tuple(SubTask(f"s{g}", f"request {g}") for g in range(groups))
    return Task("t0", dataset, subs, (), tuple(calls))


def _independent(n: int) -> Task:
    return _task([PlannedCall("f", {"x": i}) for i in range(n)])


def test_lpt_issues_longest_first_then_traps_then_answers() -> None:
    task = _independent(3)
    policy = Policy(task, [50.0, 300.0, 120.0], ["a", "b", "c"])
    kinds = [policy.next_segment() for _ in range(3)]
    assert [s.call for s in kinds] == [1, 2, 0]
    assert policy.next_segment().kind == "trap"
    policy.done.update({0, 1, 2})
    seg = policy.next_segment()
    assert seg.kind == "answer" and seg.text == answer_text(task)
    assert policy.next_segment().kind == "end"
    assert policy.finished


def test_dependent_call_waits_for_its_input() -> None:
    task = _task([PlannedCall("cd", {"folder": "a"}), PlannedCall("ls", {}, deps=(0,))])
    policy = Policy(task, [100.0, 100.0], ["p", "q"])
    assert policy.next_segment().call == 0
    assert policy.next_segment().kind == "trap"
    policy.done.add(0)
    assert policy.next_segment().call == 1


def test_unknown_groups_are_not_started_and_idle_ends_the_turn() -> None:
    task = _task([PlannedCall("f", {}, group=0), PlannedCall("g", {}, group=1)], groups=2)
    policy = Policy(task, [40.0, 400.0], ["a", "b"], known_groups={0})
    assert policy.next_segment().call == 0
    policy.done.add(0)
    assert policy.next_segment().kind == "end"  # group 1 has not arrived yet
    policy.known_groups.add(1)
    assert policy.next_segment().call == 1


def test_random_order_is_seeded() -> None:
    task = _independent(6)
    durations = [float(d) for d in range(6)]

    def order(seed: int) -> list[int | None]:
        policy = Policy(task, durations, list("abcdef"), "random", rng=random.Random(seed))
        return [policy.next_segment().call for _ in range(6)]

    assert order(1) == order(1)
    assert sorted(c for c in order(1) if c is not None) == list(range(6))


def test_oracle_text_is_valid_cml() -> None:
    task = _independent(2)
    parser = CMLParser()
    text = call_text("a", task.calls[0]) + call_text("b", task.calls[1]) + TRAP_TEXT
    _, events = parser.feed(text)
    assert [type(e) for e in events] == [CallBlock, CallBlock, TrapBlock]
    assert isinstance(events[0], CallBlock) and events[0].call.kwargs == {"x": 0}


def test_oracle_hands_out_tokens_and_reacts_to_results() -> None:
    task = _independent(1)
    policy = Policy(task, [100.0], ["a"])
    oracle = Oracle(policy, lambda text: [ord(c) for c in text], eos=-7)
    block = "".join(chr(oracle.next_token()) for _ in call_text("a", task.calls[0]))
    assert block == call_text("a", task.calls[0])
    trap = "".join(chr(oracle.next_token()) for _ in TRAP_TEXT)
    assert trap == TRAP_TEXT
    oracle.result_in("a")
    answer = "".join(chr(oracle.next_token()) for _ in answer_text(task))
    assert answer == answer_text(task)
    assert oracle.finished
    assert oracle.next_token() == -7


def _counts(n_call: int = 10, n_trap: int = 6, n_answer: int = 5) -> dict[str, int]:
    return {"call": n_call, "trap": n_trap, "answer": n_answer}


def _n_tokens(task: Task, counts: dict[str, int]):  # type: ignore[no-untyped-def]
    def count(text: str) -> int:
        if text == TRAP_TEXT:
            return counts["trap"]
        if text == answer_text(task):
            return counts["answer"]
        return counts["call"]

    return count


def test_ideal_bound_by_hand() -> None:
    # Two calls of 10 tokens, durations 50 and 5 ms, 1 ms per token.
    # LPT: call 0 picked at 0..9 (ready at 59), call 1 at 10..19 (ready at 24);
    # trap at 20..25 (call 1 already in, no wait); trap at 26..31, wait for
    # call 0 until 59, decode the [END] (60); answer picked at 60..64.
    task = _independent(2)
    got = ideal_latency_ms(task, [50.0, 5.0], ["a", "b"], _n_tokens(task, _counts()), 1.0)
    assert got == pytest.approx(64.0)


def test_ideal_never_beats_pure_generation_nor_loses_to_sync() -> None:
    task = _independent(4)
    durations = [300.0, 30.0, 120.0, 80.0]
    tau = 12.0
    counts = _counts(35, 6, 7)
    ideal = ideal_latency_ms(task, durations, list("abcd"), _n_tokens(task, counts), tau)
    tokens = 4 * counts["call"] + counts["answer"]
    assert ideal >= (tokens - 1) * tau
    sync = (tokens - 1) * tau + sum(durations)
    assert ideal < sync


def test_ideal_with_user_arrivals_waits_for_the_last_request() -> None:
    task = _task([PlannedCall("f", {}, group=0), PlannedCall("g", {}, group=1)], groups=2)
    late = ideal_latency_ms(
        task, [30.0, 30.0], ["a", "b"], _n_tokens(task, _counts()), 1.0, arrivals_ms=[0.0, 400.0]
    )
    assert late >= 400.0
