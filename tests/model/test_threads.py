"""The thread governor on the real model: it changes llama.cpp's threads
between decode calls, and fewer threads write the same tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from asynclm_tui.core.backends.base import SamplingParams
from asynclm_tui.core.backends.llama_cpp import LlamaCppBackend
from asynclm_tui.core.backends.thread_governor import CHECK_S, UP_WINDOWS, ThreadGovernor
from asynclm_tui.core.settings.config import ModelSettings
from asynclm_tui.core.settings.paths import bundled_model

pytestmark = pytest.mark.model


class Meter:
    available = True

    def __init__(self) -> None:
        self.value = 2.0

    def others(self) -> float:
        return self.value

    def runnable_now(self) -> float:
        return self.value


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    path = bundled_model()
    assert path is not None
    b = LlamaCppBackend(path, settings=ModelSettings(n_ctx=512))
    yield b
    b.close()


def greedy(backend: LlamaCppBackend, n: int) -> list[int]:
    backend.truncate(0)
    backend.append(backend.tokenize("The lighthouse keeper", special=True))
    backend.start_sampling(SamplingParams(temperature=0.0, repeat_penalty=1.0))
    out = []
    for _ in range(n):
        token = backend.sample()
        backend.append([token])
        out.append(token)
    return out


def test_a_busy_cpu_drops_llamas_threads_and_a_free_one_restores_them(
    backend: LlamaCppBackend,
) -> None:
    lib, ctx = backend._lib, backend.llm._ctx.ctx
    assert backend.plan.threads.adaptive  # the default: no --threads
    assert lib.llama_n_threads(ctx) == backend.plan.threads.n_threads
    planned = greedy(backend, 8)
    now = [0.0]

    def clock() -> float:
        now[0] += CHECK_S
        return now[0]

    meter = Meter()
    backend._governor = ThreadGovernor(
        2,
        2,
        backend._set_threads,
        meter=meter,  # type: ignore[arg-type]
        cpus=2,
        clock=clock,
        own_busy=lambda _now: 0,
    )
    one = greedy(backend, 8)
    assert (lib.llama_n_threads(ctx), lib.llama_n_threads_batch(ctx)) == (1, 1)
    assert one == planned  # the same tokens on one thread
    report = backend.take_contention()
    assert report.slowed and report.min_threads == 1
    meter.value = 0.0
    for _ in range(UP_WINDOWS):
        backend.append([one[0]])
    assert (lib.llama_n_threads(ctx), lib.llama_n_threads_batch(ctx)) == (2, 2)
