"""The option groups several ``asynclm`` commands share, each declared once.

One group per concern (see :mod:`.flatten` for how a command takes one, whole
or in part):

- :class:`ModelOptions`: the config file, the model and its adapter, where it
  runs and how llama.cpp runs it; :meth:`ModelOptions.load_settings` is the
  one place flags become settings;
- :class:`ToolOptions`: extra tools, the scheduling mode, a teacher-forcing
  script, approving every call;
- :class:`SessionOptions`: which saved chat to continue, where chats are
  saved, or not saving;
- :class:`OutputOptions`: a table's JSON, the debug log.

Checks of the flags raise :class:`~.errors.CliError`; the settings, script
and sessions code raise their own errors, which :mod:`.errors` reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from asynclm_tui.cli.errors import CliError
from asynclm_tui.cli.flatten import OptionGroup
from asynclm_tui.core.api.enums import MODES

if TYPE_CHECKING:
    from asynclm_tui.core.api.handle import EngineHandle
    from asynclm_tui.core.cml.script import Script
    from asynclm_tui.core.sessions.recorder import ChatSessions, Recorder
    from asynclm_tui.core.settings.config import Settings
    from asynclm_tui.core.tools.mcp.hub import McpHub

BACKEND_NAMES = ("llama", "openai")
NO_SAVE_HINT = " (or pass --no-save)"

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


@dataclass(frozen=True)
class ModelOptions(OptionGroup):
    """Which settings and model: ``--config``, ``--model``, ``--lora`` or
    ``--no-lora``; where the model runs (``--backend``, ``--base-url``,
    ``--api-key-env``) and how llama.cpp runs it (``--chat-format``,
    ``--threads``)."""

    config: ConfigOpt = None
    model_path: ModelOpt = None
    lora: LoraOpt = None
    no_lora: NoLoraOpt = False
    backend: BackendOpt = None
    base_url: BaseUrlOpt = None
    api_key_env: ApiKeyEnvOpt = None
    chat_format: ChatFormatOpt = None
    n_threads: ThreadsOpt = None

    def load_settings(
        self, tools: ToolOptions | None = None, extra: Mapping[str, Any] | None = None
    ) -> Settings:
        """The settings: the config file with these flags, ``tools``' and the
        command's ``extra`` overrides (dotted names; None: not given) on top.

        Raises:
            CliError: a bad flag.
            UserFileError: a bad config file or value.
        """
        from asynclm_tui.core.settings.config import LORA_OFF
        from asynclm_tui.core.settings.config import load_settings as read_settings

        server = self._server_overrides()
        if tools is not None:
            tools.check_mode()
        if self.model_path is not None and not self.model_path.is_file():
            raise CliError(f"--model: file not found: {self.model_path}")
        if self.lora is not None and self.no_lora:
            raise CliError("--lora and --no-lora: give one of them")
        extra_tools = (tools.tool_paths or []) if tools is not None else []
        for path in extra_tools:
            if not path.exists():
                raise CliError(f"--tools: not found: {path}")
        overrides: dict[str, Any] = {
            "model.path": self.model_path,
            **(tools.overrides() if tools is not None else {}),
            **server,
            "model.chat_format": self.chat_format,
            "model.n_threads": self.n_threads,
            "model.lora": LORA_OFF if self.no_lora else self.lora,
            **(extra or {}),
        }
        settings = read_settings(self.config, overrides)
        if extra_tools:
            settings.tools.dirs = [*settings.tools.dirs, *extra_tools]
        if settings.model.backend == "openai" and isinstance(settings.model.lora, Path):
            where = "--lora" if self.lora is not None else f"{settings.source}: model.lora"
            raise CliError(f"{where}: an adapter applies to the in-process model, not to a server")
        fmt = settings.model.chat_format
        if fmt != "auto":
            from asynclm_tui.core.backends.chat_template import check_format

            problem = check_format(fmt)
            if problem:
                where = (
                    "--chat-format"
                    if self.chat_format is not None
                    else f"{settings.source}: model.chat_format"
                )
                raise CliError(f"{where}: {problem}")
        return settings

    def _server_overrides(self) -> dict[str, Any]:
        if self.backend is not None and self.backend not in BACKEND_NAMES:
            raise CliError(f"--backend: {self.backend!r} is not one of {', '.join(BACKEND_NAMES)}")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise CliError(f"--base-url: {self.base_url!r} must start with http:// or https://")
        implied = "openai" if self.backend is None and self.base_url is not None else None
        return {
            "model.backend": self.backend or implied,
            "server.base_url": self.base_url,
            "server.api_key_env": self.api_key_env,
        }


ToolsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--tools", "-t", metavar="PATH", help="Extra tool folder or YAML file (repeatable)."
    ),
]
McpConfigOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--mcp-config",
        metavar="FILE",
        help="An mcpServers JSON file (Claude Desktop's, .mcp.json ...) to use too (repeatable).",
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
ScriptOpt = Annotated[
    Path | None,
    typer.Option(
        "--script", metavar="FILE", help="Teacher-force the assistant's text from this file."
    ),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Approve every tool call.")]


@dataclass(frozen=True)
class ToolOptions(OptionGroup):
    """The tools and how calls run: ``--tools``, ``--mcp-config``, ``--mode``,
    ``--script``, ``--yes``."""

    tool_paths: ToolsOpt = None
    mcp_configs: McpConfigOpt = None
    mode: ModeOpt = None
    script: ScriptOpt = None
    approve_all: YesOpt = False

    def mcp_hub(self, settings: Settings) -> McpHub | None:
        """The MCP servers of the config and ``--mcp-config`` files, checked
        but not started (None: none declared).

        Raises:
            CliError: a ``--mcp-config`` file that does not exist.
            UserFileError: a bad file or server entry.
        """
        from asynclm_tui.core.decode.from_settings import mcp_hub

        files = list(self.mcp_configs or [])
        for path in files:
            if not path.is_file():
                raise CliError(f"--mcp-config: not found: {path}")
        return mcp_hub(settings, files)

    def check_mode(self) -> None:
        """Raises CliError for a ``--mode`` that is not a mode."""
        if self.mode is not None and self.mode not in MODES:
            raise CliError(f"--mode: {self.mode!r} is not one of {', '.join(MODES)}")

    def overrides(self) -> dict[str, Any]:
        """Settings overrides for ``--mode`` and ``--yes`` (None: not given)."""
        return {
            "generation.mode": self.mode,
            "tools.approval": "always" if self.approve_all else None,
        }

    def load_script(self) -> Script | None:
        """The ``--script`` file, read and checked (raises UserFileError)."""
        if self.script is None:
            return None
        from asynclm_tui.core.cml.script import Script

        return Script.load(self.script)


SessionOpt = Annotated[
    int | None,
    typer.Option("--session", metavar="ID", help="Continue the saved chat with this id."),
]
ContinueOpt = Annotated[bool, typer.Option("--continue", help="Reopen the most recent saved chat.")]
DbOpt = Annotated[
    Path | None,
    typer.Option(
        "--db",
        metavar="FILE",
        help="Sessions database (default: XDG data dir/asynclm/sessions.db).",
    ),
]
NoSaveOpt = Annotated[bool, typer.Option("--no-save", help="Do not save this chat.")]


@dataclass(frozen=True)
class SessionOptions(OptionGroup):
    """Saved chats: ``--session``, ``--continue``, ``--db``, ``--no-save``."""

    session: SessionOpt = None
    resume: ContinueOpt = False
    db: DbOpt = None
    no_save: NoSaveOpt = False

    def check_choice(self) -> None:
        """Raises CliError for ``--session`` with ``--continue``."""
        if self.session is not None and self.resume:
            raise CliError("--session and --continue: give one of them")

    def open_chat(self, engine: EngineHandle) -> ChatSessions:
        """Saving for the chat UI, with the chat to continue loaded into
        ``engine`` (raises StoreError when it cannot be read)."""
        from asynclm_tui.core.sessions.saving import CannotSave, open_chat_sessions

        try:
            return open_chat_sessions(
                engine,
                self.db,
                session_id=self.session,
                latest=self.resume,
                save=not self.no_save,
            )
        except CannotSave as exc:
            raise CliError(f"{exc}{NO_SAVE_HINT}") from exc

    def open_recorder(self, engine: EngineHandle, *, source: str) -> Recorder | None:
        """The recorder saving ``engine``'s turns; None with ``--no-save``."""
        if self.no_save:
            return None
        from asynclm_tui.core.sessions.saving import CannotSave, open_recorder

        try:
            return open_recorder(engine, self.db, source=source)
        except CannotSave as exc:
            raise CliError(f"{exc}{NO_SAVE_HINT}") from exc


TableJsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DebugOpt = Annotated[
    bool, typer.Option("--debug", help="Log everything (llama.cpp included) to the log file.")
]


@dataclass(frozen=True)
class OutputOptions(OptionGroup):
    """What a command writes besides its work: ``--json`` (a table's JSON),
    ``--debug`` (everything to the log file)."""

    table_json: TableJsonOpt = False
    debug_log: DebugOpt = False


def start_logging(debug: bool, *, echo: bool = False) -> None:
    """The log file (llama.cpp's messages included); ``echo`` copies it to
    stderr, only for commands that draw no screen."""
    from asynclm_tui.core.settings.logs import setup_logging

    setup_logging(debug=debug, echo=echo)
