"""LoRA adapters: which one a model runs with, whether a file is one, and what it implies.

An adapter fits only the base model it was trained on and changes every KV
entry, so the shipped CML adapter goes on the bundled SmolLM2 alone (a user's
own model gets one only when they name it), and a saved prompt state is keyed
by the adapter too.  The adapter is trained on the compact system prompt,
which is what ``generation.prompt_style: auto`` picks when one is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asynclm_tui.core.backends.base import BackendInfo
from asynclm_tui.core.backends.gguf_header import GGUFHeaderError, read_scalars
from asynclm_tui.core.settings import paths
from asynclm_tui.core.settings.config import Settings

SHIPPED_WHY = "shipped CML adapter for the bundled SmolLM2"
LORA_KEY = "lora"
"""``BackendInfo.extra`` key: the applied adapter's path ('' when none)."""


class AdapterError(Exception):
    """The adapter file is missing, not a LoRA adapter, or for another model;
    ``str()`` is the one-line message naming the file."""


@dataclass(frozen=True)
class AdapterChoice:
    """The adapter to apply (None: none) and why, as ``asynclm doctor`` says it."""

    path: Path | None
    why: str


def is_bundled(model: Path) -> bool:
    """Whether ``model`` is the bundled SmolLM2 file itself (not a copy)."""
    bundled = paths.bundled_model()
    return bundled is not None and model.expanduser().resolve() == bundled.resolve()


def choose_adapter(settings: Settings, model: Path) -> AdapterChoice:
    """The adapter for ``model`` under ``settings.model.lora``: a path is used as
    given, ``off`` means none, empty means the shipped one on the bundled model."""
    lora = settings.model.lora
    cli = settings.overridden("model.lora")
    where = f"model.lora in {settings.source}" if settings.source else "model.lora"
    if isinstance(lora, Path):
        return AdapterChoice(lora.expanduser(), "from --lora" if cli else f"from {where}")
    if lora is not None:  # off
        return AdapterChoice(None, "none: --no-lora" if cli else f"none: {where} is off")
    if not is_bundled(model):
        return AdapterChoice(None, "none: your own model")
    shipped = paths.shipped_adapter()
    if shipped is None:
        return AdapterChoice(None, f"none: this install has no {paths.SHIPPED_ADAPTER_FILE}")
    return AdapterChoice(shipped, SHIPPED_WHY)


def check_adapter(path: Path, architecture: str | None) -> None:
    """Refuse a file llama.cpp would refuse, with a message that names it.

    Raises:
        AdapterError: missing, unreadable, not a GGUF LoRA adapter, or made
            for another architecture than ``architecture`` (when known).
    """
    if not path.is_file():
        raise AdapterError(f"LoRA adapter not found: {path}")
    try:
        meta = read_scalars(path, stop_prefix="")
    except (GGUFHeaderError, OSError) as exc:
        raise AdapterError(f"LoRA adapter {path}: {exc}") from None
    kind = meta.get("general.type")
    if kind != "adapter" or meta.get("adapter.type") != "lora":
        raise AdapterError(
            f"LoRA adapter {path}: not a LoRA adapter (general.type is {kind or 'missing'})"
        )
    arch = meta.get("general.architecture")
    if architecture and arch != architecture:
        raise AdapterError(
            f"LoRA adapter {path} is for {arch or 'an unnamed architecture'}, "
            f"but the model is {architecture}: an adapter only fits its own base model"
        )


def adapter_identity(path: Path | None) -> str:
    """What a saved prompt state depends on from the adapter: path, size, mtime."""
    if path is None:
        return "lora=none"
    stat = path.stat()
    return f"lora={path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def applied_adapter(info: BackendInfo | None) -> str:
    """The path of the adapter a loaded backend applies ('' when none or not loaded)."""
    return str(info.extra.get(LORA_KEY, "")) if info is not None else ""


def prompt_style_for(style: str, info: BackendInfo | None) -> str:
    """``generation.prompt_style`` resolved for the loaded model: ``auto`` is
    compact with an adapter (it is trained on that prompt), else full."""
    if style != "auto":
        return style
    return "compact" if applied_adapter(info) else "full"
