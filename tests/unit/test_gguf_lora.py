"""The LoRA adapter writer: names, the q/k row permutation, and files llama.cpp loads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asynclm_tui.core.settings.paths import bundled_model
from asynclm_tui.lab.train.agreement import hf_logits, llama_logits, llama_scorer
from asynclm_tui.lab.train.gguf_lora import (
    AdapterExportError,
    Heads,
    gguf_tensor_name,
    permute_rows,
    read_adapter_metadata,
    to_gguf_pairs,
    write_lora_gguf,
)

N_HEAD, N_HEAD_KV, HEAD_DIM, D_MODEL, N_FF = 9, 3, 64, 576, 1536  # SmolLM2-135M
PROMPT = "The capital of France is"


def brute_force_permute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k permutation written out row by row.

    Hugging Face keeps each head's rotary pairs as (first half, second half);
    GGUF interleaves them, so GGUF row ``h*d + 2*i + p`` is HF row
    ``h*d + p*d/2 + i``.
    """
    dim = rows.shape[0] // n_head
    half = dim // 2
    out = np.empty_like(rows)
    for h in range(n_head):
        for i in range(half):
            for p in range(2):
                out[h * dim + 2 * i + p] = rows[h * dim + p * half + i]
    return out


def hf_reverse_permute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """transformers' undoing of the permutation when it reads a GGUF."""
    dim = rows.shape[0] // n_head // 2
    return rows.reshape(n_head, dim, 2, *rows.shape[1:]).swapaxes(2, 1).reshape(rows.shape)


@pytest.mark.parametrize("n_head", [N_HEAD, N_HEAD_KV])
def test_permute_rows_matches_brute_force_and_transformers_inverts_it(n_head: int) -> None:
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(n_head * HEAD_DIM, 8)).astype(np.float32)
    permuted = permute_rows(rows, n_head)
    assert np.array_equal(permuted, brute_force_permute(rows, n_head))
    assert np.array_equal(hf_reverse_permute(permuted, n_head), rows)
    assert not np.array_equal(permuted, rows)


def test_gguf_names_and_which_pairs_are_permuted() -> None:
    rng = np.random.default_rng(2)
    heads = Heads(n_head=N_HEAD, n_head_kv=N_HEAD_KV)
    a = rng.normal(size=(4, D_MODEL)).astype(np.float32)
    b_q = rng.normal(size=(N_HEAD * HEAD_DIM, 4)).astype(np.float32)
    b_k = rng.normal(size=(N_HEAD_KV * HEAD_DIM, 4)).astype(np.float32)
    b_v = rng.normal(size=(N_HEAD_KV * HEAD_DIM, 4)).astype(np.float32)
    prefix = "base_model.model.model.layers.7"
    out = to_gguf_pairs(
        {
            f"{prefix}.self_attn.q_proj": (a, b_q),
            f"{prefix}.self_attn.k_proj": (a, b_k),
            f"{prefix}.self_attn.v_proj": (a, b_v),
        },
        heads,
    )
    assert set(out) == {"blk.7.attn_q.weight", "blk.7.attn_k.weight", "blk.7.attn_v.weight"}
    for name, (out_a, _) in out.items():
        assert np.array_equal(out_a, a), name  # A's columns are the input: never permuted
    assert np.array_equal(out["blk.7.attn_q.weight"][1], brute_force_permute(b_q, N_HEAD))
    assert np.array_equal(out["blk.7.attn_k.weight"][1], brute_force_permute(b_k, N_HEAD_KV))
    assert np.array_equal(out["blk.7.attn_v.weight"][1], b_v)
    assert gguf_tensor_name("model.layers.12.mlp.down_proj") == (
        "blk.12.ffn_down.weight",
        "ffn_down",
    )
    with pytest.raises(AdapterExportError):
        gguf_tensor_name("model.embed_tokens")


def test_mismatched_ranks_and_empty_adapters_are_refused(tmp_path: Path) -> None:
    a = np.zeros((4, D_MODEL), np.float32)
    b = np.zeros((D_MODEL, 8), np.float32)
    with pytest.raises(AdapterExportError, match="rank"):
        write_lora_gguf(tmp_path / "x.gguf", {"blk.0.attn_output.weight": (a, b)}, alpha=8)
    with pytest.raises(AdapterExportError):
        write_lora_gguf(tmp_path / "y.gguf", {}, alpha=8)


def down_pair(scale: float, rank: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """A and B for ``blk.N.ffn_down`` (1536 in, 576 out); B is ``scale`` x noise."""
    rng = np.random.default_rng(3)
    a = rng.normal(0, 0.05, (rank, N_FF)).astype(np.float32)
    b = (scale * rng.normal(0, 1.0, (D_MODEL, rank))).astype(np.float32)
    return a, b


def logits(lora: Path | None, tokens: list[int]) -> np.ndarray:
    """llama.cpp's logits at every position, the bundled model with ``lora``."""
    with llama_scorer(bundled_model(), lora, 256, n_threads=2) as llm:
        return llama_logits(llm, tokens)


@pytest.fixture(scope="module")
def prompt_tokens() -> list[int]:
    with llama_scorer(bundled_model(), None, 256, n_threads=2) as llm:
        return list(llm.tokenize(PROMPT.encode()))


@pytest.fixture(scope="module")
def base_logits(prompt_tokens: list[int]) -> np.ndarray:
    return logits(None, prompt_tokens)


@pytest.mark.model
def test_llama_cpp_applies_a_written_adapter(
    tmp_path: Path, prompt_tokens: list[int], base_logits: np.ndarray
) -> None:
    path = tmp_path / "one.gguf"
    write_lora_gguf(path, {"blk.3.ffn_down.weight": down_pair(0.5)}, alpha=8)
    changed = logits(path, prompt_tokens)
    assert changed.shape == base_logits.shape
    assert np.abs(changed - base_logits).max() > 0.1


@pytest.mark.model
def test_a_zero_b_adapter_changes_nothing(
    tmp_path: Path, prompt_tokens: list[int], base_logits: np.ndarray
) -> None:
    path = tmp_path / "zero.gguf"
    write_lora_gguf(path, {"blk.3.ffn_down.weight": down_pair(0.0)}, alpha=8)
    assert np.array_equal(logits(path, prompt_tokens), base_logits)


def test_metadata_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "meta.gguf"
    meta = {
        "asynclm.prompt_style": "cml-v1",
        "asynclm.base_model": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "asynclm.trained": "2026-11-01; 10 records, 900 tokens; 3 steps; loss 2.5000",
    }
    write_lora_gguf(path, {"blk.0.ffn_down.weight": down_pair(0.1)}, alpha=16, metadata=meta)
    got = read_adapter_metadata(path)
    assert got["general.type"] == "adapter"
    assert got["adapter.type"] == "lora"
    assert got["general.architecture"] == "llama"
    for key, value in meta.items():
        assert got[key] == value


# --- with the train extra: a peft adapter exported and served by llama.cpp ---


@pytest.fixture(scope="module")
def peft_qk() -> Iterator[Any]:
    """The bundled model in HF+peft with random LoRA on q and k (B nonzero), the
    projections whose rows are permuted on export."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    pytest.importorskip("transformers")
    from asynclm_tui.lab.train.lora import TrainConfig, load_base, wrap_lora

    torch.manual_seed(0)
    cfg = TrainConfig(data=Path("."), out=Path("."), rank=8, alpha=16, targets=("q", "k"))
    model = wrap_lora(load_base(bundled_model()), cfg)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.3)
    model.eval()
    yield model


PARAGRAPH = (
    "Every other chat client stops the model at a tool call and waits. This one lets the "
    "model write a call, starts the call at once, and goes on generating; when the call "
    "finishes, its result is appended to the live cache between two decode steps. Nothing "
    "is evaluated twice, so a result costs only its own tokens, and a message typed while "
    "the model is talking arrives the same way, in the middle of the answer."
)


@pytest.mark.model
def test_exported_peft_adapter_agrees_with_peft_in_llama_cpp(tmp_path: Path, peft_qk: Any) -> None:
    """The export's q/k permutation is right: llama.cpp with the adapter sits at
    the quantization floor against HF+peft; without the permutation (what a bug
    would write) or without the adapter, it is far off."""
    from asynclm_tui.lab.train.lora import lora_pairs

    base = bundled_model()
    with llama_scorer(base, None, 256, n_threads=2) as bare:
        seq = list(bare.tokenize(PARAGRAPH.encode()))
        bare_logits = llama_logits(bare, seq)
    right = tmp_path / "right.gguf"
    wrong = tmp_path / "wrong.gguf"
    pairs = lora_pairs(peft_qk)
    write_lora_gguf(right, to_gguf_pairs(pairs, Heads(N_HEAD, N_HEAD_KV)), alpha=16)
    write_lora_gguf(wrong, {gguf_tensor_name(k)[0]: v for k, v in pairs.items()}, alpha=16)
    peft = hf_logits(peft_qk, seq)
    floor = float(np.abs(bare_logits - hf_logits(peft_qk, seq, adapter=False)).mean())
    diff = {"base": float(np.abs(bare_logits - peft).mean())}
    top1 = {"base": float(np.mean(bare_logits.argmax(1) == peft.argmax(1)))}
    for label, lora in (("right", right), ("wrong", wrong)):
        with llama_scorer(base, lora, 256, n_threads=2) as llm:
            got = llama_logits(llm, seq)
        diff[label] = float(np.abs(got - peft).mean())
        top1[label] = float(np.mean(got.argmax(1) == peft.argmax(1)))
    # margins well inside what docs/lora-speed.md records for this check
    assert diff["right"] < 1.5 * floor, (diff, floor)
    assert diff["wrong"] > 3 * diff["right"] and diff["base"] > 3 * diff["right"], diff
    assert top1["right"] > top1["wrong"] + 0.1 and top1["right"] > top1["base"] + 0.1, top1
