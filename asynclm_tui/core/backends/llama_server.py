"""``asynclm serve``: llama-cpp-python's OpenAI-compatible server on the model
the chat would load, loaded the way the chat loads it.

The same choices as the in-process backend: the configured (or bundled) model,
its CML adapter (the shipped one on the bundled SmolLM2), the context size, KV
cache type and thread counts of :func:`~asynclm_tui.core.backends.load_plan.plan_load`,
and AMX weight repacking off where it crashes
(:func:`~asynclm_tui.core.backends.llama_cpp.model_params_hook`).  The model's
name on the server says which adapter it runs with, so ``asynclm doctor`` can
tell the bundled model served without it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asynclm_tui.core.backends import check_model_file, model_path
from asynclm_tui.core.backends.adapter import choose_adapter
from asynclm_tui.core.backends.base import ModelLoadError
from asynclm_tui.core.backends.llama_cpp import model_params_hook
from asynclm_tui.core.backends.llama_library import import_llama_cpp
from asynclm_tui.core.backends.load_plan import plan_load
from asynclm_tui.core.settings.config import Settings

ADAPTER_MARK = "+"
"""Between the model's file name and the adapter's in the served model name."""
SERVER_EXTRA = "pip install 'asynclm-tui[serve]'"


class ServerExtraMissing(ModelLoadError):
    """llama-cpp-python's server dependencies are not installed."""


@dataclass(frozen=True)
class ServePlan:
    """What the server will load, for the line printed before it starts."""

    model: Path
    adapter: Path | None
    name: str
    n_ctx: int
    threads: int


def served_name(model: Path, adapter: Path | None) -> str:
    """The model's name on the server: ``model.gguf`` or ``model.gguf+adapter.gguf``."""
    return model.name + (f"{ADAPTER_MARK}{adapter.name}" if adapter else "")


def plan_serving(settings: Settings) -> ServePlan:
    """The model, adapter and sizes ``serve`` would use (nothing loaded yet).

    Raises:
        ModelLoadError: no model, or a file that is not a GGUF model.
    """
    path = model_path(settings)
    check_model_file(path)
    adapter = choose_adapter(settings, path).path
    plan = plan_load(path, settings.model, gpu=False)
    return ServePlan(path, adapter, served_name(path, adapter), plan.n_ctx, plan.threads.n_threads)


def _server_modules() -> tuple[Any, Any, Any]:
    try:
        app = importlib.import_module("llama_cpp.server.app")
        server_settings = importlib.import_module("llama_cpp.server.settings")
        uvicorn = importlib.import_module("uvicorn")
    except ImportError as exc:
        raise ServerExtraMissing(
            f"asynclm serve needs llama-cpp-python's server ({exc.name} is missing): {SERVER_EXTRA}"
        ) from None
    return app, server_settings, uvicorn


def serve(settings: Settings, serving: ServePlan, host: str, port: int) -> None:
    """Load the model and serve it until interrupted (blocks).

    Raises:
        ServerExtraMissing: the server's dependencies are not installed.
        ModelLoadError: llama.cpp could not load the model or the adapter.
    """
    llama_cpp = import_llama_cpp()
    app_module, settings_module, uvicorn = _server_modules()
    cfg = settings.model
    plan = plan_load(serving.model, cfg, gpu=bool(llama_cpp.llama_supports_gpu_offload()))
    kv_type = int(getattr(llama_cpp, f"GGML_TYPE_{plan.kv_type.upper()}"))
    model_settings = settings_module.ModelSettings(
        model=str(serving.model),
        model_alias=serving.name,
        n_ctx=plan.n_ctx,
        n_batch=cfg.n_batch,
        n_threads=plan.threads.n_threads,
        n_threads_batch=plan.threads.n_threads_batch,
        n_gpu_layers=cfg.n_gpu_layers if cfg.n_gpu_layers is not None else -1,
        type_k=kv_type,
        type_v=kv_type,
        flash_attn=plan.kv_type != "f16",
        lora_path=str(serving.adapter) if serving.adapter else None,
        seed=cfg.seed,
        logits_all=False,  # asynclm asks for no logprobs; all-position logits cost memory
        verbose=False,
    )
    server_settings = settings_module.ServerSettings(host=host, port=port)
    try:
        with model_params_hook(llama_cpp):
            app = app_module.create_app(
                server_settings=server_settings, model_settings=[model_settings]
            )
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelLoadError(f"{serving.model}: {exc}") from None
    uvicorn.run(app, host=host, port=port, log_level="warning")
