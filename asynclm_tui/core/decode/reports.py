"""Events that report what the engine did: a model's load, a turn, a call's end."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from asynclm_tui.core.api.events import CallFinished, ModelLoaded, TurnDone
from asynclm_tui.core.backends.adapter import applied_adapter
from asynclm_tui.core.backends.base import Backend
from asynclm_tui.core.backends.thread_governor import take_contention
from asynclm_tui.core.decode.turn_plan import TurnStats
from asynclm_tui.core.tools.executor import CallResult


def call_finished(result: CallResult, t: float) -> CallFinished:
    """The event of a call's end (tagged with ``result.session``)."""
    return CallFinished(
        t, result.id, result.ok, result.ms, result.status, result.value, result.session
    )


def turn_done(
    backend: Backend, stats: TurnStats, n_prompt: int, t_start: float, answer: str, t: float
) -> TurnDone:
    """What a turn that started at ``t_start`` (``perf_counter``) did; the
    decode rate leaves out the time it waited for results."""
    end = time.perf_counter()
    decode_s = max(end - t_start - stats.waited_s, 1e-9)
    n_past = 0
    with contextlib.suppress(Exception):  # a broken backend still ends the turn
        n_past = backend.n_past
    cpu = take_contention(backend)
    return TurnDone(
        t,
        reason=stats.reason,
        n_prompt=n_prompt,
        n_generated=stats.n_generated,
        n_injected=stats.n_injected,
        n_past=n_past,
        n_ctx=backend.info.n_ctx,
        elapsed_ms=(end - t_start) * 1000,
        decode_ms=decode_s * 1000,
        tok_s=stats.n_generated / decode_s,
        text=answer,
        n_forced=stats.n_forced,
        n_drafted=stats.n_drafted,
        call_blocks=stats.blocks.blocks,
        block_sampled=stats.blocks.sampled,
        block_forced=stats.blocks.forced,
        block_drafted=stats.blocks.drafted,
        block_ms=stats.blocks.ms,
        cpu_busy=cpu is not None and cpu.slowed,
        threads=cpu.min_threads if cpu is not None else 0,
    )


def model_loaded(backend: Backend, ms: float, tools: tuple[str, ...], t: float) -> ModelLoaded:
    """The model loaded in ``ms``, offering ``tools``."""
    info = backend.info
    return ModelLoaded(
        t,
        info.model,
        info.n_ctx,
        info.n_gpu_layers,
        info.gpu_available and info.n_gpu_layers > 0,
        ms,
        info.n_threads,
        tools,
        str(info.extra.get("notice", "")),
        Path(applied_adapter(info)).name,  # '' when none
        server=str(info.extra.get("host", "")),
    )
