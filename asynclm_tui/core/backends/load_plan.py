"""How a model is loaded: context size, KV-cache type and thread counts, with reasons.

Everything here is decided before llama.cpp builds its context, from the
settings, the GGUF header and the machine; ``asynclm doctor`` prints the
reasons.  The measurements behind the defaults are in docs/models.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from asynclm_tui.core.backends.gguf_header import GGUFHeaderError, ModelFacts, model_facts
from asynclm_tui.core.settings.config import ModelSettings

KV_BYTES = {"f16": 2.0, "q8_0": 34 / 32}
"""Bytes per cached value: q8_0 stores 32 values in 34 bytes."""

KV_BUDGET_SHARE = 0.25
"""Share of the machine's RAM the KV cache may take by default."""

FALLBACK_CTX = 4096
"""Context size when the GGUF header cannot be read."""

SMALL_MODEL_BYTES = 1 << 30
"""Files under this size decode fastest with at most SMALL_MODEL_THREADS."""

SMALL_MODEL_THREADS = 4
LARGE_MODEL_THREADS = 8
BATCH_THREADS_CAP = 16
GPU_THREADS = 2


@dataclass(frozen=True)
class ThreadChoice:
    """Decode and batch (prefill, injection) threads, and why."""

    n_threads: int
    n_threads_batch: int
    why: str
    adaptive: bool = False
    """Fewer threads while other work keeps the CPU busy (see
    :mod:`~asynclm_tui.core.backends.thread_governor`); off when the threads
    were set or every layer is on a GPU."""


@dataclass(frozen=True)
class LoadPlan:
    """Every choice made before the context is built."""

    n_ctx: int
    ctx_why: str
    kv_type: str
    threads: ThreadChoice
    facts: ModelFacts | None


def physical_cores() -> int:
    """Physical cores this process may run on (hyper-threads counted once).

    Linux topology files give core and package ids per CPU; elsewhere (or when
    they are missing) every allowed CPU counts.
    """
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
    cores: set[tuple[str, str]] = set()
    for cpu in allowed:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topo / "physical_package_id").read_text().strip()
            core = (topo / "core_id").read_text().strip()
        except OSError:
            return max(1, len(allowed))
        cores.add((package, core))
    return max(1, len(cores))


def total_ram() -> int | None:
    """Physical memory in bytes, if the platform says."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def choose_threads(
    cores: int,
    *,
    file_size: int | None,
    all_on_gpu: bool,
    n_threads: int | None = None,
    n_threads_batch: int | None = None,
) -> ThreadChoice:
    """Threads for decoding one token and for evaluating a batch.

    Decoding a token is memory-bound and synchronises every thread per layer:
    past a few threads a small model gets slower, not faster (docs/models.md,
    thread defaults), so small models stop at 4 and larger ones at 8.  With 4 or more cores
    one is left for the UI, so streaming stays smooth.  Batches are
    compute-bound and use every core.  With all layers on a GPU the CPU threads
    only feed it.  These are the most threads a step uses: while other work
    keeps the CPU busy, fewer (``adaptive``, unless the user set the threads).
    """
    batch_default = max(1, min(cores, BATCH_THREADS_CAP))
    if all_on_gpu:
        n = min(cores, GPU_THREADS)
        why = f"all layers on the GPU: {n} CPU thread(s) feed it"
        batch_default = n
    else:
        spare = cores - 1 if cores >= 4 else cores
        small = file_size is not None and file_size < SMALL_MODEL_BYTES
        cap = SMALL_MODEL_THREADS if small else LARGE_MODEL_THREADS
        n = max(1, min(spare, cap))
        parts = [f"{cores} physical core(s)"]
        if cores >= 4:
            parts.append("one left for the UI")
        if spare > cap:
            parts.append(f"capped at {cap} for a {'small' if small else 'large'} model")
        why = ", ".join(parts)
    adaptive = not all_on_gpu
    if n_threads is not None:
        n, why, adaptive = n_threads, "set in the config or with --threads", False
    batch = n_threads_batch if n_threads_batch is not None else max(n, batch_default)
    return ThreadChoice(n, batch, why, adaptive)


def choose_ctx(
    facts: ModelFacts | None, kv_type: str, ram: int | None, n_ctx: int | None
) -> tuple[int, str]:
    """Context size: the setting, else the trained context capped by a KV budget."""
    if n_ctx is not None:
        return n_ctx, "set in the config"
    if facts is None:
        return FALLBACK_CTX, "the GGUF header gave no trained context size"
    trained = facts.n_ctx_train
    per_token = facts.kv_bytes_per_token(KV_BYTES[kv_type])
    if ram is None or per_token <= 0:
        return trained, f"the model's trained context ({trained})"
    budget = ram * KV_BUDGET_SHARE
    fits = int(budget // per_token) // 256 * 256
    mib = per_token * min(trained, max(fits, 256)) / 2**20
    if fits >= trained:
        return trained, f"the model's trained context (KV cache {kv_type} ≈ {mib:.0f} MiB)"
    n = max(min(trained, 2048), fits)
    return n, (
        f"trained context {trained} capped so the {kv_type} KV cache (≈ {mib:.0f} MiB) "
        f"stays within {KV_BUDGET_SHARE:.0%} of RAM"
    )


def plan_load(path: Path, cfg: ModelSettings, *, gpu: bool) -> LoadPlan:
    """Decide context size, KV type and threads for loading ``path``."""
    try:
        facts: ModelFacts | None = model_facts(path)
    except (GGUFHeaderError, OSError):
        facts = None  # llama.cpp will say what is wrong with the file
    n_ctx, ctx_why = choose_ctx(facts, cfg.kv_cache_type, total_ram(), cfg.n_ctx)
    layers = cfg.n_gpu_layers
    all_on_gpu = gpu and (
        layers is None or layers < 0 or (facts is not None and layers > facts.n_layer)
    )
    threads = choose_threads(
        physical_cores(),
        file_size=facts.file_size if facts else None,
        all_on_gpu=all_on_gpu,
        n_threads=cfg.n_threads,
        n_threads_batch=cfg.n_threads_batch,
    )
    return LoadPlan(n_ctx, ctx_why, cfg.kv_cache_type, threads, facts)


def default_threads(path: Path | None, cfg: ModelSettings) -> int:
    """The decode threads a load of ``path`` with ``cfg`` would use (CPU only)."""
    if path is None:
        return choose_threads(physical_cores(), file_size=None, all_on_gpu=False).n_threads
    return plan_load(path, cfg, gpu=False).threads.n_threads
