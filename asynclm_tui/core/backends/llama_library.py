"""The llama_cpp library: the one place that imports it (lazily, so that
commands that load no model never pay for it)."""

from __future__ import annotations

from typing import Any

from asynclm_tui.core.backends.llama_log import route_llama_log


def import_llama_cpp() -> Any:
    """Import llama_cpp, making sure its native libraries load before numpy.

    On a CUDA build we saw llama.cpp's tokenizer segfault during model load
    whenever numpy had been imported first (numpy's bundled libraries bound
    first), so the core imports numpy only after this function ran.  Its log
    is routed to the project's log file here, before anything can print.

    OpenMP's wait policy (``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``, read by
    libgomp when this import loads it) is left at libgomp's default or the
    user's setting on purpose: on free cores spinning is several times faster
    than ``OMP_WAIT_POLICY=PASSIVE``, and a busy CPU is met with fewer decode
    threads instead, which never wait at a barrier (thread_governor;
    docs/contention.md has the measurements of both).
    """
    import llama_cpp

    route_llama_log(llama_cpp)
    return llama_cpp


def gpu_offload_supported() -> bool:
    """Whether this llama-cpp-python build can offload layers to a GPU."""
    return bool(import_llama_cpp().llama_supports_gpu_offload())
