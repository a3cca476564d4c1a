"""``asynclm serve``: the model the chat would load, served over HTTP for
``asynclm chat --base-url`` (or any OpenAI client) on this or another machine."""

from __future__ import annotations

from typing import Annotated

import typer

from asynclm_tui.cli.errors import CliError
from asynclm_tui.cli.flatten import flatten
from asynclm_tui.cli.options import ModelOptions, start_logging

HostOpt = Annotated[
    str,
    typer.Option("--host", metavar="ADDR", help="Address to listen on (0.0.0.0: every interface)."),
]
PortOpt = Annotated[
    int, typer.Option("--port", "-p", min=1, max=65535, metavar="N", help="Port to listen on.")
]


@flatten("host", "port", "config", "model_path", "lora", "no_lora", "chat_format", "n_threads")
def serve(model: ModelOptions, host: HostOpt = "127.0.0.1", port: PortOpt = 8000) -> None:
    """Serve the model over an OpenAI-compatible API (llama-cpp-python's server),
    loaded as the chat loads it: its CML adapter, context, threads."""
    from asynclm_tui.core.backends.llama_server import plan_serving
    from asynclm_tui.core.backends.llama_server import serve as run_server

    settings = model.load_settings()
    if settings.model.backend != "llama":
        raise CliError("serve: the model must be in-process (backend: llama), not a server")
    start_logging(False)
    plan = plan_serving(settings)
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    adapter = f" with the adapter {plan.adapter.name}" if plan.adapter else " (no adapter)"
    typer.echo(
        f"serving {plan.model.name}{adapter}, {plan.n_ctx:,} tokens of context, "
        f"on http://{host}:{port}/v1\n"
        f"chat with it: asynclm chat --base-url http://{shown}:{port}/v1   (Ctrl+C stops)",
        err=True,
    )
    run_server(settings, plan, host, port)
