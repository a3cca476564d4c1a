"""A long prompt read a batch at a time on the real model: progress after each
batch, and the same model state as reading it in one call."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from asynclm_tui.core.backends import load_llama
from asynclm_tui.core.backends.llama_cpp import LlamaCppBackend
from asynclm_tui.core.decode.kv_reuse import reuse_prefix
from asynclm_tui.core.settings.config import load_settings

pytestmark = pytest.mark.model

BATCH = 32
TEXT = "The quick brown fox jumps over the lazy dog while the clock ticks. " * 15


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    b = load_llama(load_settings(None, {"model.n_ctx": 1024, "model.n_batch": BATCH}))
    yield b
    b.close()


def test_batches_report_progress_and_leave_the_same_logits(backend: LlamaCppBackend) -> None:
    assert backend.info.prefill_batch == BATCH
    tokens = backend.tokenize(TEXT)
    assert len(tokens) > 4 * BATCH
    backend.truncate(0)
    reports: list[tuple[int, int]] = []
    assert reuse_prefix(backend, tokens, lambda done, total: reports.append((done, total))) == len(
        tokens
    )
    n = len(tokens)
    assert reports == [(min(d, n), n) for d in range(0, n + BATCH, BATCH)]
    batched = np.array(backend.logits(), copy=True)
    assert list(backend.tokens) == tokens
    # The same prompt read in one llama.cpp batch by a model loaded as usual.
    whole = load_llama(load_settings(None, {"model.n_ctx": 1024}))
    try:
        assert whole.info.prefill_batch > len(tokens)
        whole.append(tokens)
        at_once = np.array(whole.logits(), copy=True)
    finally:
        whole.close()
    assert int(np.argmax(at_once)) == int(np.argmax(batched))
    assert np.allclose(at_once, batched, atol=0.05)
