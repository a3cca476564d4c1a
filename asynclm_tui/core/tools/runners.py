"""The three ways a tool runs: an argv command, an HTTP request, a Python call.

Arguments come from the model, so nothing here goes through a shell: command
placeholders are substituted per argv element, URL placeholders are
percent-encoded, and output is capped.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from asynclm_tui.core.tools.spec import ENV_REF, PLACEHOLDER, HttpSpec, ToolSpec

if TYPE_CHECKING:
    import httpx


class ToolFailure(Exception):
    """The tool ran but failed; the message goes back to the model."""


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def fill(template: str, args: Mapping[str, Any], encode: bool = False) -> str:
    """Substitute ``{param}`` placeholders (``{{``/``}}`` stay literal braces)."""

    def one(match: Any) -> str:
        name = match.group(1)
        if name not in args:
            raise ToolFailure(f"argument {name!r} is required by this tool")
        text = _text(args[name])
        return quote(text, safe="") if encode else text

    parts = template.split("{{")
    filled = ["}".join(PLACEHOLDER.sub(one, p) for p in part.split("}}")) for part in parts]
    return "{".join(filled)


def build_argv(argv: list[str], args: Mapping[str, Any]) -> list[str]:
    """Fill a command's argv; an element that is exactly an absent optional
    ``{param}`` is dropped."""
    out: list[str] = []
    for element in argv:
        whole = PLACEHOLDER.fullmatch(element)
        if whole and whole.group(1) not in args:
            continue
        out.append(fill(element, args))
    return out


def _cap(data: bytes, limit: int) -> str:
    text = data[:limit].decode("utf-8", errors="replace")
    if len(data) > limit:
        text += f"\n…[output cut at {limit} bytes]"
    return text


async def run_command(spec: ToolSpec, args: Mapping[str, Any]) -> str:
    """Run the tool's argv with no shell; stdout is the result."""
    assert spec.command is not None
    argv = build_argv(spec.command, args)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ToolFailure(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
    limit = spec.max_output_bytes
    try:
        assert proc.stdout is not None and proc.stderr is not None
        out, err = await asyncio.gather(
            _read_capped(proc.stdout, limit), _read_capped(proc.stderr, limit)
        )
        code = await proc.wait()
    finally:
        if proc.returncode is None:  # cancelled or timed out: leave no orphan
            proc.kill()
            await proc.wait()
    if code != 0:
        detail = _cap(err or out, 2000).strip()
        raise ToolFailure(f"exit status {code}" + (f": {detail}" if detail else ""))
    return _cap(out, limit).rstrip("\n")


async def _read_capped(stream: asyncio.StreamReader, limit: int) -> bytes:
    """Read up to ``limit`` + 1 bytes, then drain the rest unseen."""
    buf = bytearray()
    while chunk := await stream.read(65536):
        if len(buf) <= limit:
            buf += chunk[: limit + 1 - len(buf)]
    return bytes(buf)


def _headers(spec: HttpSpec) -> dict[str, str]:
    def env(match: Any) -> str:
        var = match.group(1)
        if var not in os.environ:
            raise ToolFailure(f"environment variable {var} is not set")
        return os.environ[var]

    return {k: ENV_REF.sub(env, v) for k, v in spec.headers.items()}


def _json_fill(value: Any, args: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole:
            return args.get(whole.group(1))
        return fill(value, args)
    if isinstance(value, dict):
        return {k: _json_fill(v, args) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_fill(v, args) for v in value]
    return value


async def run_http(spec: ToolSpec, args: Mapping[str, Any], client: httpx.AsyncClient) -> str:
    """Make the tool's HTTP request; the (capped) body is the result."""
    import httpx

    http = spec.http
    assert http is not None
    url = fill(http.url, args, encode=True)
    query = {
        k: fill(v, args)
        for k, v in http.query.items()
        if not (PLACEHOLDER.fullmatch(v) and PLACEHOLDER.fullmatch(v).group(1) not in args)  # type: ignore[union-attr]
    }
    body = _json_fill(http.json_body, args) if http.json_body is not None else None
    try:
        async with client.stream(
            http.method, url, params=query, headers=_headers(http), json=body
        ) as resp:
            data = bytearray()
            async for chunk in resp.aiter_bytes():
                data += chunk
                if len(data) > http.max_bytes:
                    break
    except httpx.HTTPError as exc:
        raise ToolFailure(f"HTTP request failed: {type(exc).__name__}: {exc}") from None
    text = _cap(bytes(data), http.max_bytes)
    if resp.status_code >= 400:
        raise ToolFailure(f"HTTP {resp.status_code}: {text[:500]}")
    if "json" in resp.headers.get("content-type", ""):
        try:
            return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            pass
    return text


def resolve_python(ref: str) -> Callable[..., Any]:
    """Import ``module:function``.

    Raises:
        ToolFailure: the module or function cannot be found.
    """
    module_name, _, func_name = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import error is the tool's
        raise ToolFailure(f"cannot import {module_name}: {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ToolFailure(f"{ref} is not a callable")
    return func  # type: ignore[no-any-return]


async def run_python(spec: ToolSpec, args: Mapping[str, Any]) -> str:
    """Call the tool's Python function (async ones awaited, sync ones in a
    thread so they never block the event loop)."""
    func = spec.handler if spec.handler is not None else resolve_python(spec.python or "")
    if inspect.iscoroutinefunction(func):
        result = await func(**args)
    else:
        result = await asyncio.to_thread(func, **args)
    return _text(result)
