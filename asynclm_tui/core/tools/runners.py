"""The three ways a tool runs: an argv command, an HTTP request, a Python call.

Arguments come from the model, so nothing here goes through a shell: command
placeholders are substituted per argv element, URL placeholders are
percent-encoded, and output is capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import inspect
import json
import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from asynclm_tui.core.tools.process_groups import KILL_GRACE_S, end_group, track
from asynclm_tui.core.tools.spec import ENV_REF, PLACEHOLDER, HttpSpec, ToolSpec

if TYPE_CHECKING:
    import httpx


DRAIN_S = 0.25
"""Longest wait for a command's pipes to close once its group has ended."""
REAP_WAIT_S = 5.0
"""Longest wait for a killed command to be reaped (immediate unless the
machine is very busy)."""


class ToolFailure(Exception):
    """The tool ran but failed; the message goes back to the model."""


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (the user's view of a failure; a
    group of exceptions by its first)."""
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return one_line(exc.exceptions[0])
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


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


class _ExitAware(asyncio.subprocess.SubprocessStreamProtocol):
    """The stream protocol, plus a future set when the process itself exits
    (``Process.wait`` also waits for every inherited pipe to close)."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Listed as soon as the pid is known, so an exit that comes before
        # the spawn returns still ends the group.
        assert isinstance(transport, asyncio.SubprocessTransport)
        track(transport.get_pid())
        super().connection_made(transport)

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


SILENT_SUCCESS = "done (exit status 0, no output)"
"""The result of a command that succeeded without printing anything."""


async def run_command(spec: ToolSpec, args: Mapping[str, Any], grace: float = KILL_GRACE_S) -> str:
    """Run the tool's argv with no shell; stdout is the result.

    The command runs in a process group of its own.  The call ends when the
    command itself exits: whatever it left running in the background is then
    ended with the group (SIGTERM, SIGKILL after ``grace``), and the output is
    what was written until then.  Cancelling the call (its timeout, a stop)
    ends the group the same way before this returns.
    """
    assert spec.command is not None
    argv = build_argv(spec.command, args)
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.subprocess_exec(
            lambda: _ExitAware(2**16, loop),
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise ToolFailure(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
    pgid = transport.get_pid()  # a new session: its leader's pid is the group's id
    limit = spec.max_output_bytes
    out, err = bytearray(), bytearray()
    assert protocol.stdout is not None and protocol.stderr is not None
    readers = [
        asyncio.ensure_future(_read_capped(protocol.stdout, limit, out)),
        asyncio.ensure_future(_read_capped(protocol.stderr, limit, err)),
    ]
    try:
        # Not ``await protocol.exited``: cancelling this would cancel that
        # future, and the exit must still be seen below.
        await asyncio.wait([protocol.exited])
    finally:
        try:
            await end_group(pgid, grace)
            # The group is gone, so its pipes are closed: only a process that
            # left the group (a daemon) can hold them still.
            await asyncio.wait(readers, timeout=DRAIN_S)
            # The command is dead; wait for asyncio to have reaped it, since
            # closing the transport first would reap it behind asyncio's back.
            await asyncio.wait([protocol.exited], timeout=REAP_WAIT_S)
        finally:
            for reader in readers:
                reader.cancel()
            transport.close()
    code = transport.get_returncode()
    if code != 0:
        detail = _cap(bytes(err or out), 2000).strip()
        raise ToolFailure(f"exit status {code}" + (f": {detail}" if detail else ""))
    text = _cap(bytes(out), limit).rstrip("\n")
    # An empty result reads to the model as if nothing happened.
    return text if text.strip() else SILENT_SUCCESS


async def _read_capped(stream: asyncio.StreamReader, limit: int, buf: bytearray) -> None:
    """Read into ``buf`` up to ``limit`` + 1 bytes, then drain the rest unseen
    (``buf`` keeps what was read if this is cancelled)."""
    while chunk := await stream.read(65536):
        if len(buf) <= limit:
            buf += chunk[: limit + 1 - len(buf)]


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
        result = await in_daemon_thread(func, args)
    return _text(result)


async def in_daemon_thread(func: Callable[..., Any], args: Mapping[str, Any]) -> Any:
    """``func(**args)`` in a thread of its own, with the caller's context.

    Not ``asyncio.to_thread``: the default executor's threads are joined at
    interpreter exit, so a sync tool abandoned at its timeout would hold the
    process until it returned.  A daemon thread is left behind instead (a
    Python function cannot be stopped from outside).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(ok: bool, value: Any) -> None:
        if done.done():  # the call was cancelled or timed out meanwhile
            return
        if ok:
            done.set_result(value)
        else:
            done.set_exception(value)

    def work() -> None:
        outcome: tuple[bool, Any]
        try:
            outcome = (True, context.run(func, **args))
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting call
            outcome = (False, exc)
        except BaseException as exc:  # noqa: BLE001 - SystemExit must not stop the tool loop
            outcome = (False, ToolFailure(f"{type(exc).__name__}: {exc}"))
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, name="asynclm-sync-tool", daemon=True).start()
    return await done
