"""Settings: the YAML config file, validated, with CLI overrides on top.

Lookup order for the file: ``--config``, then ``ASYNCLM_CONFIG``, then
``$XDG_CONFIG_HOME/asynclm/config.yaml``.  Every field is documented in
``config.example.yaml`` (a test loads it).  Errors read
``file:line: field: problem``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from asynclm_tui.core.api.enums import Mode
from asynclm_tui.core.settings import paths
from asynclm_tui.core.settings.mcp_entry import ServerEntry
from asynclm_tui.core.settings.yaml_source import (
    LineMap,
    UserFileError,
    load_yaml,
    pydantic_problem,
)

LORA_OFF = "off"
"""``model.lora`` (and ``--no-lora``): apply no adapter, not even the shipped one."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSettings(_Section):
    """The local GGUF model and llama.cpp context."""

    backend: Literal["llama", "openai"] = "llama"
    """llama: in-process llama.cpp; openai: an OpenAI-compatible server (see ``server``)."""
    path: Path | None = None
    """GGUF file; empty means the bundled SmolLM2-135M-Instruct."""
    lora: Path | Literal["off"] | None = None
    """LoRA adapter GGUF applied on load: empty means the shipped CML adapter
    when the model is the bundled SmolLM2 (none for any other model), a path
    means that adapter, ``off`` means none."""
    chat_format: str = "auto"
    """Chat template: auto (the GGUF's own; else the known one for the model's
    tokenizer and architecture; else ChatML), a llama.cpp built-in name such as
    chatml, gemma or llama3, or the path of a Jinja template file."""
    n_ctx: int | None = Field(default=None, ge=256, le=1_048_576)
    """Context size in tokens; empty means the model's trained context, capped
    so the KV cache stays within a quarter of RAM."""
    kv_cache_type: Literal["f16", "q8_0"] = "f16"
    """KV-cache precision; q8_0 halves its memory (for large models or long contexts)."""
    n_gpu_layers: int | None = Field(default=None, ge=-1)
    """Layers to offload; empty means all when llama.cpp has GPU support, else 0."""
    n_threads: int | None = Field(default=None, ge=1, le=1024)
    """Decode threads; empty means physical cores (one left for the UI from 4
    cores on), at most 4 for models under 1 GB and 8 above; 2 when every layer
    is on a GPU."""
    n_threads_batch: int | None = Field(default=None, ge=1, le=1024)
    """Threads for prompt and injection batches; empty means every physical core
    (at most 16), never fewer than n_threads."""
    n_batch: int = Field(default=512, ge=1, le=65536)
    """Prompt evaluation batch size."""
    seed: int = Field(default=0, ge=0)
    """Sampling seed, for reproducible runs."""

    @field_validator("lora", mode="before")
    @classmethod
    def _lora_spelling(cls, value: Any) -> Any:
        """``off`` (which YAML reads as false) or a path; anything else is refused."""
        if value is False or (isinstance(value, str) and value.strip().lower() == LORA_OFF):
            return LORA_OFF
        if value is None or value == "":
            return None
        if isinstance(value, str | Path):
            return value
        shown = "true" if value is True else repr(value)
        raise ValueError(f"{shown} is not an adapter: give a GGUF file, off, or leave it empty")


class ServerSettings(_Section):
    """A model behind an OpenAI-compatible server (``backend: openai``)."""

    base_url: str | None = None
    """The server's address, e.g. ``http://127.0.0.1:8000``; a trailing ``/v1``
    (the OpenAI SDK's convention) is accepted and dropped."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key (never the key)."""
    model: str | None = None
    """Model name to request; empty means the first one the server lists."""
    chat_template: str | None = None
    """Jinja chat template; empty means the server's own where it publishes
    one (llama.cpp's /props), else ChatML."""
    connect_timeout_s: float = Field(default=5.0, gt=0, le=600)
    """Seconds to wait for a connection."""
    read_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    """Seconds to wait for the next bytes of a reply."""
    retries: int = Field(default=3, ge=0, le=20)
    """Retries (with backoff) when the server cannot be reached at all."""

    @field_validator("base_url")
    @classmethod
    def _api_root(cls, value: str | None) -> str | None:
        """The server's root: the client adds ``/v1/...`` to every path."""
        if value is None:
            return None
        root = value.rstrip("/")
        return root.removesuffix("/v1")


class GenerationSettings(_Section):
    """How the model writes and how calls are scheduled."""

    mode: Mode = Mode.ASYNC
    """async (AsyncLM), sync (block on each call) or parallel (batch calls)."""
    temperature: float = Field(default=0.2, ge=0, le=5)
    """Sampling temperature; 0 is greedy."""
    top_k: int = Field(default=40, ge=0)
    """Top-k sampling (0 disables)."""
    top_p: float = Field(default=0.95, gt=0, le=1)
    """Nucleus sampling."""
    repeat_penalty: float = Field(default=1.1, ge=0)
    """Penalty for repeated tokens (1 disables)."""
    max_tokens: int = Field(default=1024, ge=1)
    """Most tokens the model may write in one turn."""
    constrain_calls: bool | None = None
    """Grammar-constrain call bodies to registered tools; empty means on for
    models under 3B parameters."""
    jump_forward: bool | None = None
    """Append what the call grammar forces (the rest of a marker or a tool
    name, ``=``, `` [END]``...) as one batch instead of sampling it token by
    token; empty means on wherever calls are constrained, and over a server;
    false samples every token (for comparison)."""
    draft_calls: bool | None = None
    """Guess the rest of a call block where it is predictable but not forced
    (``ALL]`` after ``[C``, the tool an id like ``calc1`` names, the next
    parameter, an argument copied from the request) and check the guess in
    the same decode call, keeping only what the model itself writes; empty
    means on with jump-forward on the in-process model; false for comparison."""
    system_prompt: str = ""
    """Extra instructions added to the system prompt."""
    prompt_style: Literal["auto", "full", "compact"] = "auto"
    """full: CML rules with a worked example; compact: a few lines, for small
    context windows and for benchmarks whose baselines re-prefill it often;
    auto: compact when a LoRA adapter is applied (it is trained on that
    prompt), else full."""


class ToolSettings(_Section):
    """Which tools load and how they run."""

    dirs: list[Path] = Field(default_factory=list)
    """Extra tool folders or files, after the shipped and user tools."""
    shipped: bool = True
    """Load the tools shipped with asynclm-tui."""
    disabled: list[str] = Field(default_factory=list)
    """Tool names never offered to the model."""
    max_concurrency: int = Field(default=8, ge=1, le=1024)
    """Calls running at once; the rest wait longest-estimate-first."""
    approval: Literal["ask", "always", "never"] = "ask"
    """For tools with confirm: true: ask, always allow, or never run."""
    max_result_tokens: int = Field(default=256, ge=16, le=1_000_000)
    """Most tokens of a result injected into the model's context; the rest is
    cut with a marker saying how much (a tool's own ``max_result_tokens`` wins).
    The full result stays viewable in the calls panel."""
    wait_at_end_s: float | None = Field(default=5.0, ge=0, le=86400)
    """How long in all an answer waits for calls still running (at its end
    and at traps) before it leaves them in the background (their results come
    in later turns); empty (null) waits for every call, as ``asynclm run`` does."""


class UISettings(_Section):
    """The terminal UI."""

    theme: str = "asynclm-dark"
    """Theme name (shipped, user theme files, or Textual's built-ins)."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Binding id to keys, e.g. ``stop: ctrl+c`` (see the help screen)."""
    show_raw: bool = False
    """Start with the raw CML view instead of rendered chips."""
    calls_panel: Literal["shown", "hidden"] = "shown"
    """The calls panel at start on wide terminals (F2 toggles it; narrow ones
    always start with the one-line strip)."""
    open_calls_for_approval: bool = True
    """Open the calls panel by itself when a call asks for approval."""
    clipboard: Literal["auto", "osc52", "file"] = "auto"
    """How copies reach you: the terminal's clipboard (OSC 52), a file in the
    data dir, or ``auto`` (OSC 52 unless the terminal is known to drop it)."""


class McpSettings(_Section):
    """MCP servers whose tools the model may call (``docs/mcp.md``)."""

    servers: dict[str, ServerEntry] = Field(default_factory=dict)
    """Servers by name, written as in an ``mcpServers`` file (command, args,
    env, cwd, or url and headers), with asynclm's per-server settings."""
    import_: list[Path] = Field(default_factory=list, alias="import")
    """``mcpServers`` JSON files to read too (Claude Desktop's, a project's
    ``.mcp.json``, Cursor's, Gemini CLI's settings, VS Code's ``mcp.json``)."""
    startup_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """Seconds a server may take to start and list its tools."""
    tool_timeout_s: float = Field(default=60.0, gt=0, le=86400)
    """Seconds a call may go without a result or a progress notification."""
    max_tool_timeout_s: float = Field(default=600.0, gt=0, le=86400)
    """Hard cap on a call's duration, however much progress it reports."""
    max_result_bytes: int = Field(default=65536, gt=0, le=64 * 1024 * 1024)
    """Longest result text kept from a call; the rest is cut with a marker."""
    max_description_chars: int = Field(default=300, ge=40, le=100_000)
    """Longest tool description put in the system prompt."""


class Settings(_Section):
    """Everything configurable; built once by the CLI, then passed down."""

    model: ModelSettings = Field(default_factory=ModelSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    tools: ToolSettings = Field(default_factory=ToolSettings)
    ui: UISettings = Field(default_factory=UISettings)
    mcp: McpSettings = Field(default_factory=McpSettings)

    source: Path | None = Field(default=None, exclude=True)
    """The config file these settings came from, if any."""
    _overridden: set[str] = PrivateAttr(default_factory=set)

    def overridden(self, dotted: str) -> bool:
        """Whether ``dotted`` (``"model.lora"``) was set by a CLI override
        rather than the config file (``doctor`` says where a choice came from)."""
        return dotted in self._overridden

    def tool_paths(self) -> list[Path]:
        """Tool locations in load order (later ones override earlier ones)."""
        found: list[Path] = []
        if self.tools.shipped:
            found.append(paths.shipped_tools_dir())
        found.append(paths.user_tools_dir())
        return found + [p.expanduser() for p in self.tools.dirs]


def looks_like_path(chat_format: str) -> bool:
    """A ``chat_format`` naming a file rather than a built-in format."""
    return "/" in chat_format or chat_format.endswith((".jinja", ".j2", ".txt"))


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Relative paths in a config file are relative to that file."""
    model = data.get("model")
    if isinstance(model, dict):
        if isinstance(model.get("path"), str):
            model["path"] = str((base / Path(model["path"]).expanduser()).resolve())
        lora = model.get("lora")
        if isinstance(lora, str) and lora.strip() and lora.strip().lower() != LORA_OFF:
            model["lora"] = str((base / Path(lora).expanduser()).resolve())
        fmt = model.get("chat_format")
        if isinstance(fmt, str) and looks_like_path(fmt):
            model["chat_format"] = str((base / Path(fmt).expanduser()).resolve())
    mcp = data.get("mcp")
    if isinstance(mcp, dict) and isinstance(mcp.get("import"), list):
        mcp["import"] = [
            str(base / Path(p).expanduser()) if isinstance(p, str) else p for p in mcp["import"]
        ]
    tools = data.get("tools")
    if isinstance(tools, dict) and isinstance(tools.get("dirs"), list):
        tools["dirs"] = [
            str(base / Path(p).expanduser()) if isinstance(p, str) else p for p in tools["dirs"]
        ]


def load_settings(
    config: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build settings from the config file and CLI ``overrides``.

    ``overrides`` maps dotted names (``"model.path"``) to values; None values
    are ignored so unset CLI flags keep the file's value.

    Raises:
        UserFileError: an invalid file or value, as ``file:line: field: problem``.
    """
    path = config if config is not None else paths.default_config_file()
    data: dict[str, Any] = {}
    lines = LineMap({})
    if path is not None:
        if not path.exists():
            raise UserFileError(path, None, "config file not found")
        raw, lines = load_yaml(path)
        if raw is not None and not isinstance(raw, dict):
            raise UserFileError(path, lines.line_of(()), "the config must be a mapping")
        data = raw or {}
        _resolve_paths(data, path.parent)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise pydantic_problem(path or Path("config"), lines, exc.errors()) from None
    settings.source = path
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section_name, _, field = dotted.partition(".")
        section = getattr(settings, section_name)
        try:
            setattr(section, field, value)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"]
            raise UserFileError("command line", None, f"{dotted}: {msg}") from None
        settings._overridden.add(dotted)
    return settings
