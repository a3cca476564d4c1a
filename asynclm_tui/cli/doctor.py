"""``asynclm doctor``: the model in use and how it runs, or the server and
whether its prefix cache works."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from asynclm_tui.cli.flatten import flatten
from asynclm_tui.cli.options import ModelOptions, ToolOptions, start_logging

if TYPE_CHECKING:
    from asynclm_tui.core.backends.adapter import AdapterChoice
    from asynclm_tui.core.settings.config import Settings
    from asynclm_tui.core.tools.mcp.hub import McpHub


@flatten(
    "config",
    "model_path",
    "lora",
    "no_lora",
    "backend",
    "base_url",
    "api_key_env",
    "chat_format",
    "n_threads",
    "mcp_configs",
)
def doctor(model: ModelOptions, tools: ToolOptions) -> None:
    """Show the model in use, LoRA adapter, chat template, GPU offload, threads and
    context size (or probe the server: its model, context size, and whether prefix
    caching works), and start each MCP server to say whether it works."""
    settings = model.load_settings(tools)
    hub = tools.mcp_hub(settings)
    start_logging(False)
    code, text = doctor_report(settings)
    typer.echo(text)
    if hub is not None:
        mcp_code, mcp_text = mcp_report(hub)
        typer.echo(mcp_text)
        code = code or mcp_code
    raise typer.Exit(code)


def mcp_report(hub: McpHub) -> tuple[int, str]:
    """Each MCP server started, its state read, and stopped."""
    from asynclm_tui.core.tools.mcp.hub import probe
    from asynclm_tui.core.tools.mcp.status import ServerState

    statuses, _ = probe(hub.configs, max(c.startup_timeout_s for c in hub.configs) + 1)
    down = [s for s in statuses if s.state not in (ServerState.READY, ServerState.DISABLED)]
    lines = [f"MCP servers: {len(statuses)} declared", *(f"  {s.line()}" for s in statuses)]
    return (1 if down else 0), "\n".join(lines)


def doctor_report(settings: Settings) -> tuple[int, str]:
    """What ``asynclm doctor`` prints, and its exit code."""
    from asynclm_tui.core.backends import load_llama, model_path
    from asynclm_tui.core.backends.adapter import choose_adapter, prompt_style_for
    from asynclm_tui.core.backends.base import ModelLoadError
    from asynclm_tui.core.backends.llama_library import gpu_offload_supported
    from asynclm_tui.core.backends.load_plan import physical_cores
    from asynclm_tui.core.backends.thread_governor import cpu_policy
    from asynclm_tui.core.settings import paths

    if settings.model.backend == "openai":
        return server_report(settings)
    lines = []
    gpu = gpu_offload_supported()
    lines.append(f"llama.cpp GPU offload available: {'yes' if gpu else 'no (CPU-only build)'}")
    try:
        path = model_path(settings)
    except ModelLoadError as exc:
        return 1, "\n".join([*lines, f"model: {exc}"])
    lines.append(f"model: {path}")
    adapter = choose_adapter(settings, path)
    lines.append(f"LoRA adapter: {adapter_line(adapter)}")
    start = time.perf_counter()
    try:
        backend = load_llama(settings)
    except ModelLoadError as exc:
        return 1, "\n".join([*lines, f"error: {exc}"])
    load_ms = (time.perf_counter() - start) * 1000
    info, plan, choice = backend.info, backend.plan, backend.template.choice
    backend.close()
    style = prompt_style_for(settings.generation.prompt_style, info)
    why = "auto: " + ("an adapter is applied" if adapter.path else "no adapter")
    if settings.generation.prompt_style != "auto":
        why = "generation.prompt_style"
    used = (
        f"{info.n_gpu_layers}/{info.n_layers + 1} layers on GPU"
        if info.n_gpu_layers
        else "no (CPU)"
    )
    threads = plan.threads
    lines += [
        f"parameters: {info.n_params / 1e6:.0f} M, {info.n_layers} layers",
        f"load time: {load_ms:.0f} ms",
        f"GPU offload used: {used}",
        f"chat template: {choice.label} ({choice.why})"
        + ("; system prompt folded into the first user message" if choice.fold_system else ""),
        f"prompt style: {style} ({why})",
        f"threads: {threads.n_threads} decode, {threads.n_threads_batch} batch "
        f"({threads.why}; {physical_cores()} physical cores, {os.cpu_count()} CPUs)",
        *cpu_policy(threads).lines(),
        f"context size: {info.n_ctx} tokens ({plan.ctx_why})",
        f"KV cache type: {plan.kv_type}",
        f"config file: {settings.source or 'none (defaults)'}",
        f"log file: {paths.log_file()}",
        f"system: {info.extra.get('system', '').strip()}",
    ]
    return 0, "\n".join(lines)


def adapter_line(adapter: AdapterChoice) -> str:
    """``path (size, why)`` for an adapter, ``none: why`` without one."""
    if adapter.path is None:
        return adapter.why
    try:
        size = f"{adapter.path.stat().st_size / 1e6:.1f} MB, "
    except OSError:
        size = ""  # the load below says what is wrong with it
    return f"{adapter.path} ({size}{adapter.why})"


def server_report(settings: Settings) -> tuple[int, str]:
    """``asynclm doctor`` for ``--backend openai``: probe the server."""
    from asynclm_tui.core.backends import connect_server
    from asynclm_tui.core.backends.base import BackendError, ModelLoadError
    from asynclm_tui.core.backends.openai import OpenAIBackend
    from asynclm_tui.core.backends.server_probe import probe_prefix_cache

    try:
        backend = connect_server(settings)
    except ModelLoadError as exc:
        return 1, f"server: {exc}"
    assert isinstance(backend, OpenAIBackend)
    info = backend.info
    reported = info.extra["n_ctx_source"] == "server"
    lines = [
        f"server: {info.extra['server']}",
        f"model: {backend.model}" + served_adapter_note(backend.model),
        f"context size: {info.n_ctx} tokens"
        if reported
        else f"context size: not reported by the server; assumed {info.n_ctx} tokens "
        "(model.n_ctx in the config)",
        f"tokenizer endpoint: {info.extra['tokenizer']}",
        f"chat template: {info.extra['chat_template']}",
        "constrain_calls: off (a server exposes no logits)",
    ]
    try:
        probe = probe_prefix_cache(backend)
    except BackendError as exc:
        backend.close()
        return 1, "\n".join([*lines, f"prefix caching: probe failed: {exc}"])
    backend.close()
    how = (
        f"{probe.n_cached}/{probe.n_prompt} tokens reported cached"
        if probe.n_cached is not None
        else "no cached-token count reported; judged by time"
    )
    verdict = "works" if probe.reused else "NOT working (every interrupt re-prefills)"
    lines.append(
        f"prefix caching: {verdict} ({probe.n_prompt}-token prompt: "
        f"{probe.cold_ms:.0f} ms cold, {probe.warm_ms:.0f} ms repeated; {how})"
    )
    lines.append(f"config file: {settings.source or 'none (defaults)'}")
    return (0 if probe.reused else 1), "\n".join(lines)


def served_adapter_note(model: str) -> str:
    """A warning after the model's name when the server runs the bundled model
    without the CML adapter that makes it call tools."""
    from asynclm_tui.core.backends.llama_server import ADAPTER_MARK
    from asynclm_tui.core.settings.paths import bundled_model

    bundled = bundled_model()
    if bundled is None or ADAPTER_MARK in model or Path(model).name != bundled.name:
        return ""
    return (
        "\n  warning: the bundled SmolLM2 without its CML adapter rarely calls a tool; "
        "serve it with `asynclm serve` (or llama_cpp.server --lora_path with the shipped "
        "adapter, `asynclm doctor` prints its path)"
    )
