"""HTTP to an OpenAI-compatible server: timeouts, retries, SSE, clear errors.

Only connection failures are retried (with backoff): a request that reached
the server is never sent twice, so a generation is never duplicated.  Error
messages name the server's address without credentials; the API key is sent
as a header and never appears in a message, a ``repr`` or a log line.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from asynclm_tui.core.backends.base import BackendError


class ServerError(BackendError):
    """The server is down, unreachable, too slow, or not what was expected."""


@dataclass(frozen=True)
class ServerConfig:
    """Where the server is and how patient to be with it."""

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 120.0
    retries: int = 3
    backoff_s: float = 0.25

    @property
    def display_url(self) -> str:
        """The address without user:password (safe to print)."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))

    @property
    def host(self) -> str:
        """``host:port`` (the port only when the address names one): where the
        model runs, as the status bar and ``asynclm run`` name it."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"  # an IPv6 address
        return host if parts.port is None else f"{host}:{parts.port}"


@dataclass
class Chunk:
    """One streamed completion event."""

    text: str
    finish_reason: str | None
    usage: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class CompletionStream:
    """An open streaming response; iterate for chunks, ``close`` to stop it.

    Closing drops the connection, which servers take as "stop generating"
    (llama-cpp-python's server checks for a disconnect after every token).
    """

    def __init__(self, response: httpx.Response, url: str) -> None:
        self._response = response
        self._lines = response.iter_lines()
        self._url = url
        self.done = False

    def next_chunk(self) -> Chunk | None:
        """The next chunk, or None when the server sent ``[DONE]`` or ended.

        Raises:
            ServerError: the connection broke or timed out mid-answer.
        """
        if self.done:
            return None
        try:
            for line in self._lines:
                if not line.startswith("data:"):
                    continue  # SSE comments (": ping"), event names, blank lines
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                return _parse_chunk(data, self._url)
        except httpx.TimeoutException:
            self.close()
            raise ServerError(f"{self._url} stopped sending mid-answer (read timeout)") from None
        except (httpx.TransportError, httpx.StreamError) as exc:
            self.close()
            raise ServerError(
                f"the connection to {self._url} broke mid-answer ({_why(exc)})"
            ) from None
        self.close()
        return None

    def close(self) -> None:
        """Drop the connection (idempotent)."""
        self.done = True
        self._response.close()


def _parse_chunk(data: str, url: str) -> Chunk:
    try:
        obj = json.loads(data)
        choice = obj["choices"][0] if obj.get("choices") else {}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ServerError(
            f"{url} sent a stream event that is not a completion: {data[:80]!r}"
        ) from None
    text = choice.get("text")
    if text is None:  # llama-server's native /completion
        text = obj.get("content", "")
    finish = choice.get("finish_reason") or obj.get("stop_type") or None
    if obj.get("stop") is True and finish is None:
        finish = "stop"
    return Chunk(str(text), finish, obj.get("usage"), obj)


def _why(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


class ServerClient:
    """A synchronous httpx client for one server (used from one thread)."""

    def __init__(self, config: ServerConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        headers = {"Accept": "application/json"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._http = httpx.Client(
            base_url=config.base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(config.read_timeout_s, connect=config.connect_timeout_s),
            transport=transport,
        )

    @property
    def url(self) -> str:
        """The server's address, safe to print."""
        return self.config.display_url

    def get_json(self, path: str) -> Any:
        """GET ``path`` and decode its JSON."""
        return self._json(self._send("GET", path, None, stream=False), path)

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` to ``path`` and decode the JSON reply."""
        return self._json(self._send("POST", path, body, stream=False), path)

    def stream(self, path: str, body: dict[str, Any]) -> CompletionStream:
        """POST a streaming request; the response is read chunk by chunk."""
        return CompletionStream(self._send("POST", path, body, stream=True), self.url)

    def close(self) -> None:
        """Close every pooled connection."""
        self._http.close()

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, *, stream: bool
    ) -> httpx.Response:
        request = self._http.build_request(method, path, json=body)
        cfg = self.config
        for attempt in range(cfg.retries + 1):
            try:
                response = self._http.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing reached the server: safe to try again.
                if attempt < cfg.retries:
                    time.sleep(cfg.backoff_s * 2**attempt)
                    continue
                raise ServerError(
                    f"cannot reach the server at {self.url} ({_why(exc)}); is it running?"
                ) from None
            except httpx.TimeoutException:
                raise ServerError(
                    f"{self.url}{path} did not answer within {cfg.read_timeout_s:g} s"
                ) from None
            except httpx.TransportError as exc:
                raise ServerError(f"{self.url}{path} failed: {_why(exc)}") from None
            if response.status_code >= 400:
                if stream:
                    response.read()
                response.close()
                raise ServerError(_status_message(self.url, path, response))
            return response
        raise AssertionError("unreachable")  # the loop returns or raises

    def _json(self, response: httpx.Response, path: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ServerError(f"{self.url}{path} did not return JSON") from None


def _status_message(url: str, path: str, response: httpx.Response) -> str:
    code = response.status_code
    if code in (401, 403):
        return f"{url} refused the request ({code}): check the API key (--api-key-env)"
    if code == 404:
        return f"{url}{path} does not exist (404): is this an OpenAI-compatible server?"
    detail = response.text.strip().replace("\n", " ")
    return f"{url}{path} answered {code}: {detail[:200]}"
