"""The CML training set: the engine's exact tokens, the right loss mask, a clean split."""

from __future__ import annotations

import pytest

from asynclm_tui.core.cml.syntax import CallBlock, CMLParser, TrapBlock
from asynclm_tui.lab.tasks.requests import RequestMaker, heldout_requests, no_tool_prompts
from asynclm_tui.lab.train import data as D

pytestmark = pytest.mark.model

CANNED = {p: ["Sure, here is a short answer."] for p in no_tool_prompts()}


@pytest.fixture(scope="module")
def built() -> D.TrainingSet:
    return D.build(160, seed=3, heldout=40, distilled=CANNED)


@pytest.fixture(scope="module")
def backend() -> object:
    return D.engine_backend()[0]


def test_every_kind_is_made_and_fits(built: D.TrainingSet) -> None:
    kinds = {e.kind for e in built.train}
    assert kinds == set(D.MIX)
    assert all(len(e.tokens) <= D.MAX_TOKENS for e in built.train + built.heldout)
    assert built.manifest["counts"] == {"train": 160, "heldout": 40}
    assert built.manifest["prompt_style"] == "compact"


def test_prompt_is_the_engines_rendering(built: D.TrainingSet, backend: object) -> None:
    """The tokens before the first trained one are the engine's own prompt."""
    from asynclm_tui.core.cml.prompt import system_prompt

    reg = D.shipped_registry()
    system = system_prompt(reg.tools.values(), lambda n: reg.tools[n].estimated_ms, "", "compact")
    single = next(e for e in built.train if e.kind == "single")
    start = single.train_spans[0][0]
    prompt = single.tokens[:start]
    assert single.messages[0] == {"role": "system", "content": system}
    user = single.messages[-1]["content"]
    expect = backend.tokenize(  # type: ignore[attr-defined]
        backend.render_chat(  # type: ignore[attr-defined]
            [{"role": "system", "content": system}, {"role": "user", "content": user}]
        ),
        special=True,
    )
    assert prompt == expect
    assert 0 < single.prefix_len < len(prompt)


def test_only_model_tokens_are_trained(built: D.TrainingSet, backend: object) -> None:
    """Interrupt blocks and the prompt are outside every span; the turn's end is inside."""
    piece = backend.piece  # type: ignore[attr-defined]
    for ex in built.train:
        trained = {i for a, b in ex.train_spans for i in range(a, b)}
        assert len(ex.tokens) - 1 in trained  # the end-of-turn token
        untrained = "".join(
            piece(t).decode(errors="replace")
            for i, t in enumerate(ex.tokens)
            if i not in trained and i >= ex.train_spans[0][0]
        )
        model_text = "".join(
            piece(t).decode(errors="replace") for i, t in enumerate(ex.tokens[:-1]) if i in trained
        )
        assert "[INTR]" not in model_text, ex.id
        assert untrained.count("[INTR]") == ex.text.count("[INTR]"), ex.id


def test_calls_parse_and_ids_are_unique(built: D.TrainingSet) -> None:
    for ex in built.train:
        if ex.kind == "none":
            continue
        parser = CMLParser()
        model_only = ex.text
        _, events = parser.feed(model_only)
        _, tail = parser.flush()
        calls = [e for e in [*events, *tail] if isinstance(e, CallBlock)]
        if ex.kind == "two_turn" and not calls:  # a no-tool second turn: the first one called
            assert "[CALL]" in ex.messages[-2]["content"], ex.id
            continue
        assert calls, ex.id
        ids = [c.call_id for c in calls]
        assert len(ids) == len(set(ids)), ex.id
        if any(isinstance(e, TrapBlock) for e in events):
            assert "[INTR]" in ex.text


def test_lpt_first_call_is_the_longest_estimate(built: D.TrainingSet) -> None:
    pair = [e for e in built.train if e.kind == "pair" and "weather(" in e.text]
    assert pair
    for ex in pair:
        first = ex.text.split("[HEAD]", 1)[1].split("(", 1)[0].strip()
        if "sleep(" not in ex.text and "save_note(" not in ex.text:
            assert first == "weather", ex.text


def test_held_out_templates_never_train() -> None:
    train = RequestMaker("train", 0)
    held = RequestMaker("heldout", 0)
    for pool in ("clock", "calc", "weather", "none"):
        assert not set(train._pools[pool]) & set(held._pools[pool])
    requests = heldout_requests()
    assert {r.kind for r in requests} == {"single", "pair", "none"}
    assert all(r.tools for r in requests if r.kind != "none")


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
    import re

    sync = [e for e in built.train if e.kind == "bfcl_sync"]
    assert sync
    for ex in sync:
        blocks = re.findall(r"\[(CALL|INTR)\] (\S+) \[HEAD\]", ex.text)
        assert blocks and len(blocks) % 2 == 0, ex.id
        for (call, cid), (intr, rid) in zip(blocks[::2], blocks[1::2], strict=True):
            assert (call, intr, cid) == ("CALL", "INTR", rid), ex.id
        assert "[TRAP]" not in ex.text, ex.id


def test_same_seed_same_data() -> None:
    a = D.build(20, seed=5, heldout=2, distilled=CANNED)
    b = D.build(20, seed=5, heldout=2, distilled=CANNED)
    assert [e.tokens for e in a.train] == [e.tokens for e in b.train]
