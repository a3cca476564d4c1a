"""The CML training set: the engine's exact tokens, the right loss mask, a
clean split, and each behaviour's examples saying what they should."""

from __future__ import annotations

import re

import pytest

from asynclm_tui.core.cml.syntax import CallBlock, CMLParser, TrapBlock
from asynclm_tui.lab.tasks.kinds_heldout import HELDOUT_KINDS
from asynclm_tui.lab.tasks.requests import RequestMaker, heldout_requests
from asynclm_tui.lab.tasks.steering import answer_goes_on, split_contents
from asynclm_tui.lab.train import data as D

pytestmark = pytest.mark.model

CANNED = {
    p: ["Sure, here is a short answer. It has a few sentences. Each one ends. That is all."]
    for p in D.distill_prompts()
}


@pytest.fixture(scope="module")
def built() -> D.TrainingSet:
    return D.build(400, seed=3, heldout=60, distilled=CANNED)


@pytest.fixture(scope="module")
def backend() -> object:
    return D.engine_backend()[0]


def calls_of(text: str) -> list[CallBlock]:
    parser = CMLParser()
    _, events = parser.feed(text)
    _, tail = parser.flush()
    return [e for e in [*events, *tail] if isinstance(e, CallBlock)]


def model_text(ex: D.Example) -> str:
    """The answer without the interrupts the system wrote."""
    return re.sub(r" ?\[INTR\] .*? \[HEAD\] .*? \[END\]", "", ex.text, flags=re.S)


def test_every_kind_is_made_and_fits(built: D.TrainingSet) -> None:
    assert {e.kind for e in built.train} == set(D.MIX)
    assert all(len(e.tokens) <= D.MAX_TOKENS for e in built.train + built.heldout)
    assert built.manifest["counts"] == {"train": 400, "heldout": 60}
    assert built.manifest["prompt_style"] == "compact"
    # examples share system prompts (the trainer runs a shared one once per batch)
    assert built.manifest["system_prompts"]["train"] < 0.6 * 400


def test_prompt_is_the_engines_rendering(built: D.TrainingSet, backend: object) -> None:
    """The tokens before the first trained one are the engine's own prompt,
    with the system prompt the engine's builder writes for those tools."""
    from asynclm_tui.core.cml.prompt import system_prompt

    reg = D.shipped_registry()
    shipped = system_prompt(reg.tools.values(), lambda n: reg.tools[n].estimated_ms, "", "compact")
    for ex in [e for e in built.train if e.kind in ("single", "multi")][:20]:
        start = ex.train_spans[0][0]
        expect = backend.tokenize(  # type: ignore[attr-defined]
            backend.render_chat(ex.messages),  # type: ignore[attr-defined]
            special=True,
        )
        assert ex.tokens[:start] == expect, ex.id
        assert ex.messages[0]["content"].startswith("Call tools with [CALL] id [HEAD]")
        assert 0 < ex.prefix_len < start
    assert any(e.messages[0]["content"] == shipped for e in built.train)
    assert any(e.messages[0]["content"] != shipped for e in built.train if e.kind == "single")


def test_only_model_tokens_are_trained(built: D.TrainingSet, backend: object) -> None:
    """Interrupt blocks and the prompt are outside every span; the turn's end is inside."""
    piece = backend.piece  # type: ignore[attr-defined]
    for ex in built.train:
        trained = {i for a, b in ex.train_spans for i in range(a, b)}
        assert len(ex.tokens) - 1 in trained  # the end-of-turn token
        start = ex.train_spans[0][0]
        untrained = "".join(
            piece(t).decode(errors="replace")
            for i, t in enumerate(ex.tokens)
            if i not in trained and i >= start
        )
        model = "".join(
            piece(t).decode(errors="replace") for i, t in enumerate(ex.tokens[:-1]) if i in trained
        )
        assert "[INTR]" not in model, ex.id
        assert untrained.count("[INTR]") == ex.text.count("[INTR]"), ex.id


def test_calls_parse_fit_their_tool_and_never_repeat(built: D.TrainingSet) -> None:
    for ex in built.train:
        calls = calls_of(ex.text)
        system = ex.messages[0]["content"]
        earlier = [c for m in ex.messages[1:-1] for c in calls_of(m["content"])]
        ids = [c.call_id for c in [*earlier, *calls]]
        assert len(ids) == len(set(ids)), ex.id  # ids never reused in a conversation
        seen = [(c.call.name, repr(c.call.kwargs)) for c in calls]
        assert len(seen) == len(set(seen)), ex.id  # no identical call twice
        for c in calls:
            assert f"- {c.call.name}(" in system, (ex.id, c.call.name)
        if any(isinstance(e, TrapBlock) for e in CMLParser().feed(ex.text)[1]):
            assert "[INTR]" in ex.text


def test_each_request_gets_its_one_call(built: D.TrainingSet) -> None:
    multi = [e for e in built.train if e.kind == "multi"]
    assert multi
    for ex in multi:
        n = len(calls_of(ex.text))
        assert n in (2, 3), ex.id
    singles = [e for e in built.train if e.kind in ("single", "doc", "failed")]
    assert all(len(calls_of(e.text)) == 1 for e in singles)


def test_no_call_where_none_belongs(built: D.TrainingSet) -> None:
    quiet = [e for e in built.train if e.kind in ("none", "none_doc")]
    assert quiet and all("[CALL]" not in e.text for e in quiet)
    assert all("[TRAP]" not in e.text for e in quiet)


def test_failures_are_said_as_such(built: D.TrainingSet) -> None:
    failed = [e for e in built.train if e.kind == "failed"]
    assert failed
    for ex in failed:
        after = model_text(ex).split("[END]")[-1]
        assert re.search(r"could not|declined|timed out", after), ex.text


def test_steering_messages_are_taken_up_without_ending(built: D.TrainingSet) -> None:
    steered = [e for e in built.train if e.kind in ("steer_story", "steer_tool")]
    assert len(steered) > 10
    landed = [e for e in steered if "[INTR] user [HEAD]" in e.text]
    assert len(landed) >= 0.9 * len(steered)
    for ex in landed:
        assert answer_goes_on(ex.text), ex.text


def test_follow_up_turns_answer_the_message_the_last_answer_missed(built: D.TrainingSet) -> None:
    follow = [e for e in built.train if e.kind == "follow_up"]
    assert follow
    for ex in follow:
        missed = ex.messages[-2]["content"]
        assert missed.endswith(f"[INTR] user [HEAD] {ex.messages[-1]['content']} [END]")
        assert model_text(ex).strip()


def test_history_keeps_earlier_turns_as_the_engine_does(built: D.TrainingSet) -> None:
    deep = [e for e in built.train if e.kind == "history"]
    assert deep
    assert any(len(e.messages) >= 5 for e in deep)
    assert any(
        "[INTR]" in m["content"] for e in deep for m in e.messages if m["role"] == "assistant"
    )


def test_held_out_kinds_phrasings_and_contents_never_train(built: D.TrainingSet) -> None:
    train_prompts = "\n".join(e.messages[0]["content"] for e in built.train)
    for kind in HELDOUT_KINDS:
        for spec in kind.specs:
            for about in spec.about:
                assert about not in train_prompts, kind.id
    users = {m["content"] for e in built.train for m in e.messages if m["role"] == "user"}
    assert not users & {c.prompt for c in split_contents("heldout")}
    train, held = RequestMaker("train", 0), RequestMaker("heldout", 0)
    for pool in ("clock", "calc", "weather", "none"):
        assert not set(train._pools[pool]) & set(held._pools[pool])
    assert {r.kind for r in heldout_requests()} == {"single", "pair", "none"}


def test_bfcl_training_tasks_skip_the_held_out_head(built: D.TrainingSet) -> None:
    from asynclm_tui.lab.tasks.bfcl_data import HELD_OUT_TASKS, TRAINED_DATASETS, load_tasks

    head = {t.id for s in TRAINED_DATASETS for t in load_tasks(s)[:HELD_OUT_TASKS]}
    used = {
        e.id.split(f"{e.kind}-", 1)[1].rsplit("-", 1)[0]
        for e in built.train
        if e.kind in ("bfcl", "bfcl_sync")
    }
    assert used and not used & head


def test_sync_bfcl_examples_have_each_result_after_its_call(built: D.TrainingSet) -> None:
    """As the sync strategy runs: call, its result, the next call; no trap."""
    sync = [e for e in built.train if e.kind == "bfcl_sync"]
    assert sync
    for ex in sync:
        blocks = re.findall(r"\[(CALL|INTR)\] (\S+) \[HEAD\]", ex.text)
        assert blocks and len(blocks) % 2 == 0, ex.id
        for (call, cid), (intr, rid) in zip(blocks[::2], blocks[1::2], strict=True):
            assert (call, intr, cid) == ("CALL", "INTR", rid), ex.id
        assert "[TRAP]" not in ex.text, ex.id


def test_same_seed_same_data() -> None:
    a = D.build(30, seed=5, heldout=2, distilled=CANNED)
    b = D.build(30, seed=5, heldout=2, distilled=CANNED)
    assert [e.tokens for e in a.train] == [e.tokens for e in b.train]
