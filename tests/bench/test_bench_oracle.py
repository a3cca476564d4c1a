"""The replay oracle's policy: LPT, traps, the answer."""

from __future__ import annotations

import random

from asynclm_tui.core.cml.syntax import CallBlock, CMLParser, TrapBlock
from asynclm_tui.lab.tasks.bfcl_data import PlannedCall, SubTask, Task
from asynclm_tui.lab.tasks.oracle import (
    TRAP_TEXT,
    Oracle,
    Policy,
    answer_text,
    call_text,
)


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
