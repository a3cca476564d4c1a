"""The options and the settings builder that several ``asynclm`` commands share."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

import typer

from asynclm_tui.cli_common import fail
from asynclm_tui.core.api.enums import MODES
from asynclm_tui.core.settings.config import LORA_OFF, Settings, load_settings
from asynclm_tui.core.settings.yaml_source import UserFileError

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        metavar="FILE",
        help="Config file (default: $ASYNCLM_CONFIG or XDG config).",
    ),
]
ModelOpt = Annotated[
    Path | None, typer.Option("--model", "-m", metavar="FILE", help="GGUF model file.")
]
LoraOpt = Annotated[
    Path | None,
    typer.Option(
        "--lora",
        metavar="FILE",
        help="LoRA adapter GGUF to apply (default: the shipped CML adapter on the bundled model).",
    ),
]
NoLoraOpt = Annotated[
    bool, typer.Option("--no-lora", help="Apply no LoRA adapter, not even the shipped one.")
]
ToolsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--tools", "-t", metavar="PATH", help="Extra tool folder or YAML file (repeatable)."
    ),
]
ModeOpt = Annotated[
    str | None,
    typer.Option(
        "--mode",
        metavar="[" + "|".join(MODES) + "]",
        help="How tool calls are scheduled against writing.",
    ),
]
ContinueOpt = Annotated[bool, typer.Option("--continue", help="Reopen the most recent saved chat.")]
NoSaveOpt = Annotated[bool, typer.Option("--no-save", help="Do not save this chat.")]
ChatFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--chat-format",
        metavar="FORMAT",
        help="Chat template: auto, a llama.cpp built-in name (chatml, gemma, ...) or a Jinja file.",
    ),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads", min=1, max=1024, metavar="N", help="Decode threads (default: see doctor)."
    ),
]
DebugOpt = Annotated[
    bool, typer.Option("--debug", help="Log everything (llama.cpp included) to the log file.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Approve every tool call.")]
TableJsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ScriptOpt = Annotated[
    Path | None,
    typer.Option(
        "--script", metavar="FILE", help="Teacher-force the assistant's text from this file."
    ),
]


BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        metavar="[llama|openai]",
        help="llama (in-process) or openai (an OpenAI-compatible server).",
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url", metavar="URL", help="Server address for --backend openai (implies it)."
    ),
]
ApiKeyEnvOpt = Annotated[
    str | None,
    typer.Option(
        "--api-key-env", metavar="NAME", help="Environment variable holding the server's API key."
    ),
]
BACKEND_NAMES = ("llama", "openai")


def server_overrides(
    backend: str | None, base_url: str | None, api_key_env: str | None
) -> dict[str, Any]:
    """Settings overrides for the backend flags; exits on a bad choice."""
    if backend is not None and backend not in BACKEND_NAMES:
        fail(f"--backend: {backend!r} is not one of {', '.join(BACKEND_NAMES)}")
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        fail(f"--base-url: {base_url!r} must start with http:// or https://")
    if backend is None and base_url is not None:
        backend = "openai"
    return {
        "model.backend": backend,
        "server.base_url": base_url,
        "server.api_key_env": api_key_env,
    }


_LORA_FLAGS: ContextVar[tuple[Path | None, bool]] = ContextVar("lora_flags", default=(None, False))
"""``--lora``/``--no-lora`` of a command given them by :func:`add_lora_options`."""


def add_lora_options(app: typer.Typer, *, skip: Iterable[str] = ()) -> None:
    """Give each command of ``app`` that takes ``--model`` (but declares no
    ``--lora`` itself, and is not named in ``skip``) the ``--lora FILE`` and
    ``--no-lora`` options; the :func:`build_settings` call it makes picks them up.

    Run after the commands are registered and before the CLI is built."""
    skipped = set(skip)
    for info in app.registered_commands:
        callback = info.callback
        if callback is None or info.name in skipped:
            continue
        sig = inspect.signature(callback, eval_str=True)
        if "model" in sig.parameters and "lora" not in sig.parameters:
            info.callback = _with_lora_options(callback, sig)


def _with_lora_options(callback: Callable[..., Any], sig: inspect.Signature) -> Callable[..., Any]:
    @functools.wraps(callback)
    def command(*args: Any, lora: Path | None = None, no_lora: bool = False, **kwargs: Any) -> Any:
        token = _LORA_FLAGS.set((lora, no_lora))
        try:
            return callback(*args, **kwargs)
        finally:
            _LORA_FLAGS.reset(token)

    kw = inspect.Parameter.KEYWORD_ONLY
    command.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[
            *(p.replace(kind=kw) for p in sig.parameters.values()),
            inspect.Parameter("lora", kw, default=None, annotation=LoraOpt),
            inspect.Parameter("no_lora", kw, default=False, annotation=NoLoraOpt),
        ]
    )
    return command


def lora_override(lora: Path | None, no_lora: bool) -> Path | str | None:
    """``model.lora`` for ``--lora FILE`` / ``--no-lora`` (None: neither given).

    The file itself is checked when the model loads, so a missing or broken
    adapter fails like a broken model (one line, exit 1)."""
    if lora is None and not no_lora:
        lora, no_lora = _LORA_FLAGS.get()
    if lora is not None and no_lora:
        fail("--lora and --no-lora: give one of them")
    return LORA_OFF if no_lora else lora


def build_settings(
    config: Path | None,
    model: Path | None = None,
    tools: list[Path] | None = None,
    mode: str | None = None,
    extra: dict[str, Any] | None = None,
    *,
    lora: Path | None = None,
    no_lora: bool = False,
) -> Settings:
    """Settings from the config file with CLI flags on top; exits on errors."""
    if mode is not None and mode not in MODES:
        fail(f"--mode: {mode!r} is not one of {', '.join(MODES)}")
    if model is not None and not model.is_file():
        fail(f"--model: file not found: {model}")
    adapter = lora_override(lora, no_lora)
    if adapter is not None:
        extra = {**(extra or {}), "model.lora": adapter}
    for path in tools or []:
        if not path.exists():
            fail(f"--tools: not found: {path}")
    try:
        settings = load_settings(
            config,
            {"model.path": model, "generation.mode": mode, **(extra or {})},
        )
    except UserFileError as exc:
        fail(str(exc))
    if tools:
        settings.tools.dirs = [*settings.tools.dirs, *tools]
    if settings.model.backend == "openai" and isinstance(settings.model.lora, Path):
        where = "--lora" if lora is not None else f"{settings.source}: model.lora"
        fail(f"{where}: an adapter applies to the in-process model, not to a server")
    fmt = settings.model.chat_format
    if fmt != "auto":
        from asynclm_tui.core.backends.chat_template import check_format

        problem = check_format(fmt)
        if problem:
            given = (extra or {}).get("model.chat_format") is not None
            where = "--chat-format" if given else f"{settings.source}: model.chat_format"
            fail(f"{where}: {problem}")
    return settings


def start_logging(debug: bool, *, echo: bool = False) -> None:
    """The log file (llama.cpp's messages included); ``echo`` copies it to
    stderr, only for commands that draw no screen."""
    from asynclm_tui.core.settings.logs import setup_logging

    setup_logging(debug=debug, echo=echo)
