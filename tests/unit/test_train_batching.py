"""The trainer's torch-free parts: records, batches, the schedule, the held-out loss."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from asynclm_tui.lab.train.agreement import target_nll
from asynclm_tui.lab.train.batching import (
    DataError,
    Record,
    epoch_batches,
    make_batches,
    padded_length,
    prefix_groups,
    read_records,
)
from asynclm_tui.lab.train.lora import TrainError, lr_factor, parse_targets, prepare


def write(path: Path, *objs: object) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def test_targets_follow_the_spans_and_skip_position_zero() -> None:
    rec = Record("a", "k", tuple(range(10)), ((0, 3), (6, 8)))
    assert rec.targets() == [False, True, True, False, False, False, True, True, False, False]
    assert rec.n_targets() == 4
    short = rec.truncated(7)
    assert short.tokens == tuple(range(7)) and short.spans == ((0, 3), (6, 7))
    assert rec.truncated(5).spans == ((0, 3),)


def test_read_records_checks_every_line(tmp_path: Path) -> None:
    good = {"id": "x", "kind": "single", "tokens": [1, 2, 3], "train_spans": [[1, 3]]}
    path = write(tmp_path / "t.jsonl", good, good)
    assert len(read_records(path)) == 2
    assert len(read_records(path, limit=1)) == 1
    bad_span = {**good, "train_spans": [[2, 9]]}
    with pytest.raises(DataError, match=r"t\.jsonl:2: bad span"):
        read_records(write(tmp_path / "t.jsonl", good, bad_span))
    with pytest.raises(DataError, match="vocabulary"):
        read_records(write(tmp_path / "v.jsonl", {**good, "tokens": [1, 99, 3]}), vocab_size=50)
    with pytest.raises(DataError, match="not JSON"):
        (tmp_path / "j.jsonl").write_text("{nope\n")
        read_records(tmp_path / "j.jsonl")
    with pytest.raises(DataError):
        read_records(tmp_path / "missing.jsonl")


def test_batches_respect_the_budget_cover_every_record_and_repeat_with_the_seed() -> None:
    rng = np.random.default_rng(0)
    lengths = [int(x) for x in rng.integers(20, 700, 300)]
    batches = make_batches(lengths, batch_tokens=2048, seed=5)
    assert sorted(i for b in batches for i in b.indices) == list(range(300))
    for b in batches:
        assert b.length % 64 == 0 and b.length >= max(lengths[i] for i in b.indices)
        assert b.positions <= 2048 or len(b.indices) == 1
    assert batches == make_batches(lengths, batch_tokens=2048, seed=5)
    assert batches != make_batches(lengths, batch_tokens=2048, seed=6)
    two = list(epoch_batches(lengths, batch_tokens=2048, seed=5, epochs=2))
    assert len(two) >= 2 * len(batches) - 2
    assert padded_length(1) == 64 and padded_length(64) == 64 and padded_length(65) == 128


def test_schedule_warms_up_then_decays_to_the_floor() -> None:
    values = [lr_factor(s, 100, 10, 0.1) for s in range(100)]
    assert values[0] == pytest.approx(0.1) and values[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(values[9:], values[10:], strict=False))
    assert values[-1] == pytest.approx(0.1, abs=0.01)


def test_targets_option() -> None:
    assert parse_targets("q,v,o,down") == ("q", "v", "o", "down")
    assert parse_targets("q_proj, k_proj,q") == ("q", "k")
    assert len(parse_targets("all")) == 7
    with pytest.raises(TrainError):
        parse_targets("q,embed")


def test_prepare_drops_records_without_targets() -> None:
    recs = [
        Record("a", "k", (1, 2, 3, 4), ((2, 4),)),
        Record("b", "k", (1, 2, 3, 4), ((0, 1),)),  # only position 0: nothing to learn
        Record("c", "k", tuple(range(100)), ((90, 100),)),  # cut to 64: no target left
    ]
    kept, counts = prepare(recs, 64)
    assert [r.id for r in kept] == ["a"]
    assert counts["no_targets"] == 2 and counts["truncated"] == 1 and counts["target_tokens"] == 2


def test_target_nll_is_the_cross_entropy_of_the_next_token() -> None:
    rng = np.random.default_rng(1)
    tokens = [3, 1, 4, 1, 5]
    logits = rng.normal(size=(5, 7)).astype(np.float32)
    targets = np.array([True, False, True, True, False])
    want = 0.0
    for i in np.flatnonzero(targets):
        row = logits[i].astype(np.float64)
        want += math.log(np.exp(row).sum()) - row[tokens[i + 1]]
    assert target_nll(logits, tokens, targets) == pytest.approx(want, rel=1e-6)


def test_records_of_one_prompt_share_their_prefix_in_a_batch() -> None:
    prompt = tuple(range(100, 400))  # a 300-token system prompt
    recs = [
        Record(f"r{n}", "k", prompt + tuple(range(n % 50 + 20)), ((300, 320 + n % 50),), 300)
        for n in range(40)
    ]
    recs.append(Record("own", "bfcl", tuple(range(500, 900)), ((350, 400),), 340))
    groups = prefix_groups(recs)
    assert groups[0] == (prompt[:299], 299)  # stops before the position predicting a target
    lengths = [len(r.tokens) for r in recs]
    batches = make_batches(lengths, batch_tokens=1024, seed=1, prefixes=groups)
    assert sorted(i for b in batches for i in b.indices) == list(range(41))
    shared = [b for b in batches if b.prefix]
    assert shared and all(b.prefix == 299 for b in shared)
    assert all(40 not in b.indices for b in shared)  # another prompt never joins the group
    for b in batches:
        assert b.positions <= 1024 or len(b.indices) == 1
    # without sharing the same budget fits fewer rows per step
    plain = make_batches(lengths, batch_tokens=1024, seed=1)
    assert len(batches) < len(plain)
    assert Record("x", "k", (1, 2, 3), ((0, 3),), 3).shared_prefix() == 0


def test_prefix_len_is_checked(tmp_path: Path) -> None:
    good = {"id": "x", "kind": "single", "tokens": [1, 2, 3], "train_spans": [[1, 3]]}
    assert read_records(write(tmp_path / "a.jsonl", {**good, "prefix_len": 2}))[0].prefix_len == 2
    with pytest.raises(DataError, match="prefix_len"):
        read_records(write(tmp_path / "b.jsonl", {**good, "prefix_len": 9}))


@pytest.mark.train
def test_a_shared_prefix_gives_the_plain_batchs_loss_and_gradient() -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    from asynclm_tui.lab.train.batching import Batch
    from asynclm_tui.lab.train.lora import batch_tensors, target_loss

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
    )  # fmt: skip
    model = peft.get_peft_model(
        transformers.LlamaForCausalLM(config),
        peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"]),
    )
    for name, p in model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero: no gradient would reach A
            torch.nn.init.normal_(p, std=0.1)
    model.eval()
    prompt = tuple(int(x) for x in torch.randint(0, 64, (20,)))
    recs = [
        Record("a", "k", prompt + (5, 6, 7, 8, 9), ((21, 25),), 20),
        Record("b", "k", prompt + (9, 8, 7), ((20, 23),), 20),
        Record("c", "k", prompt + (1, 2, 3, 4, 5, 6, 7), ((22, 27),), 20),
    ]
    batch = Batch((0, 1, 2), 27)
    ids, attn, target = batch_tensors(recs, batch)
    grads = []
    for prefix in (0, 19):
        model.zero_grad()
        loss = target_loss(model, ids, attn, target, prefix)
        loss.backward()
        grads.append((loss.item(), [p.grad.clone() for p in model.parameters() if p.requires_grad]))
    (plain, g_plain), (shared, g_shared) = grads
    assert shared == pytest.approx(plain, rel=1e-5)
    for a, b in zip(g_plain, g_shared, strict=True):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="prefix"):
        target_loss(model, ids, attn, target, 21)  # position 21 is a target of row b
