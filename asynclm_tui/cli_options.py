"""The options and the settings builder that several ``asynclm`` commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from asynclm_tui.cli_common import fail
from asynclm_tui.core.config import Settings, load_settings
from asynclm_tui.core.kinds import MODES
from asynclm_tui.core.yamlsrc import UserFileError

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


def build_settings(
    config: Path | None,
    model: Path | None = None,
    tools: list[Path] | None = None,
    mode: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Settings:
    """Settings from the config file with CLI flags on top; exits on errors."""
    if mode is not None and mode not in MODES:
        fail(f"--mode: {mode!r} is not one of {', '.join(MODES)}")
    if model is not None and not model.is_file():
        fail(f"--model: file not found: {model}")
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
    from asynclm_tui.core.logs import setup_logging

    setup_logging(debug=debug, echo=echo)
