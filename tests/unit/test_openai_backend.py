"""The server backend against a fake OpenAI-compatible server (httpx MockTransport).

The fake speaks llama-cpp-python's dialect: ``/v1/models``, ``/extras/tokenize``
(one token per character), ``/extras/detokenize`` and streaming
``/v1/completions`` replies taken from a queue.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from asynclm_tui.core.api.events import Event, ModelLoaded, ModelLoadFailed
from asynclm_tui.core.backends.base import ModelLoadError, SamplingParams
from asynclm_tui.core.backends.openai import EOS_ID, OpenAIBackend
from asynclm_tui.core.backends.openai_http import ServerClient, ServerConfig, ServerError
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.settings.config import load_settings
from asynclm_tui.core.tools.registry import ToolRegistry

Reply = list[str] | Callable[[], Iterator[bytes]]


def sse(chunks: list[str], finish: str | None = "stop") -> Iterator[bytes]:
    """A streamed completion: one event per chunk, then a finish and [DONE]."""
    for text in chunks:
        event = {"choices": [{"text": text, "finish_reason": None}]}
        yield f"data: {json.dumps(event)}\n\n".encode()
    if finish is not None:
        event = {"choices": [{"text": "", "finish_reason": finish}]}
        yield f"data: {json.dumps(event)}\n\n".encode()
    yield b"data: [DONE]\n\n"


class FakeServer:
    """Records every request; streams queued replies."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[httpx.Headers] = []
        self.completion_status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        self.requests.append((request.url.path, body))
        self.headers.append(request.headers)
        match request.url.path:
            case "/v1/models":
                return httpx.Response(200, json={"data": [{"id": "fake-model"}]})
            case "/extras/tokenize":
                return httpx.Response(200, json={"tokens": [ord(c) for c in body["input"]]})
            case "/extras/detokenize":
                return httpx.Response(200, json={"text": "".join(chr(t) for t in body["tokens"])})
            case "/v1/completions":
                if self.completion_status != 200:
                    return httpx.Response(self.completion_status, text="model exploded")
                if not body.get("stream"):
                    return httpx.Response(200, json={"choices": [{"text": "x"}]})
                reply = self.replies.pop(0) if self.replies else ["."]
                stream = reply() if callable(reply) else sse(reply)
                return httpx.Response(200, stream=httpx.ByteStream(b"".join(stream)))
        return httpx.Response(404)

    def completions(self) -> list[dict[str, Any]]:
        return [b for path, b in self.requests if path == "/v1/completions"]


def connect(server: FakeServer, **config: Any) -> OpenAIBackend:
    cfg = ServerConfig("http://fake:1", backoff_s=0.0, **config)
    return OpenAIBackend(ServerClient(cfg, transport=httpx.MockTransport(server)))


def test_stream_goes_on_and_an_interrupt_continues_from_the_exact_text() -> None:
    server = FakeServer()
    b = connect(server)
    prompt = b.render_chat([{"role": "user", "content": "hi"}])
    b.truncate(0)
    b.append(b.tokenize(prompt, special=True))
    warm = server.completions()[-1]
    assert warm["prompt"] == prompt and warm["max_tokens"] == 1 and not warm["stream"]

    server.replies = [["Hel", "lo"], ["!"]]
    b.start_sampling(SamplingParams())
    first = b.sample()
    b.append([first])
    second = b.sample()
    n_requests = len(server.completions())
    b.append([second])  # the same stream goes on: no new request
    assert len(server.completions()) == n_requests
    intr = b.tokenize("[INTR] a [HEAD] 4 [END]")
    b.append(intr)  # an interrupt: continue from prompt + generated + interrupt
    cont = server.completions()[-1]
    assert cont["prompt"] == prompt + "Hello" + "[INTR] a [HEAD] 4 [END]"
    assert cont["stream"] and cont["stop"] == ["[INTR"]
    assert b.piece(b.sample()) == b"!"
    assert b.sample() == EOS_ID
    assert b.n_past == len(b.tokenize(prompt, special=True)) + 2 + len(intr)


def test_prefill_of_a_suffix_keeps_special_tokens_text() -> None:
    server = FakeServer()
    b = connect(server)
    first = b.render_chat([{"role": "user", "content": "a"}])
    b.truncate(0)
    b.append(b.tokenize(first, special=True))
    longer = b.render_chat(
        [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    )
    tokens = b.tokenize(longer, special=True)
    b.truncate(len(first) - 1)  # the engine keeps the common prefix
    b.append(tokens[len(first) - 1 :])
    assert server.completions()[-1]["prompt"] == longer


def test_a_stream_cut_without_a_finish_reason_is_continued() -> None:
    server = FakeServer()
    b = connect(server)
    b.append(b.tokenize("p"))
    server.replies = [lambda: sse(["a"], finish=None), ["b"]]
    b.start_sampling(SamplingParams())
    tok = b.sample()
    b.append([tok])
    assert b.piece(b.sample()) == b"b"
    assert server.completions()[-1]["prompt"] == "pa"


def test_mid_body_close_raises_a_clear_error_and_keeps_the_text() -> None:
    def broken() -> Iterator[bytes]:
        yield from list(sse(["one", " two"], finish=None))[:2]
        raise httpx.RemoteProtocolError("peer closed connection")

    class Broken(FakeServer):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/v1/completions" and json.loads(request.content)["stream"]:
                self.requests.append((request.url.path, json.loads(request.content)))
                return httpx.Response(200, stream=_Raising(broken()))
            return super().__call__(request)

    server = Broken()
    b = connect(server)
    b.append(b.tokenize("p"))
    b.start_sampling(SamplingParams())
    texts = []
    with pytest.raises(ServerError, match="broke mid-answer"):
        for _ in range(5):
            tok = b.sample()
            texts.append(b.piece(tok))
            b.append([tok])
    assert texts == [b"one", b" two"]
    assert b.n_past == 3  # "p" and the two chunks stay


def test_read_timeout_mid_stream_is_reported() -> None:
    def slow() -> Iterator[bytes]:
        yield next(sse(["x"]))
        raise httpx.ReadTimeout("timed out")

    class Slow(FakeServer):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/v1/completions" and json.loads(request.content)["stream"]:
                return httpx.Response(200, stream=_Raising(slow()))
            return super().__call__(request)

    b = connect(Slow())
    b.start_sampling(SamplingParams())
    b.append(b.tokenize("p"))
    b.append([b.sample()])
    with pytest.raises(ServerError, match="stopped sending"):
        b.sample()


def test_server_error_status_is_one_line_with_the_detail() -> None:
    server = FakeServer()
    b = connect(server)
    server.completion_status = 500
    with pytest.raises(ServerError, match="answered 500: model exploded"):
        b.append(b.tokenize("p"))


def test_unreachable_server_is_retried_then_named() -> None:
    attempts = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("Connection refused")

    cfg = ServerConfig("http://127.0.0.1:9", retries=2, backoff_s=0.0)
    with pytest.raises(ModelLoadError, match=r"cannot reach the server at http://127.0.0.1:9"):
        OpenAIBackend(ServerClient(cfg, transport=httpx.MockTransport(refuse)))
    assert len(attempts) == 3


def test_a_request_that_reached_the_server_is_not_retried() -> None:
    attempts = []

    def hang(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ReadTimeout("timed out")

    client = ServerClient(
        ServerConfig("http://h:1", retries=3, backoff_s=0.0, read_timeout_s=2),
        transport=httpx.MockTransport(hang),
    )
    with pytest.raises(ServerError, match="did not answer within 2 s"):
        client.get_json("/v1/models")
    assert len(attempts) == 1


def test_api_key_is_sent_but_never_shown() -> None:
    secret = "sk-very-secret"
    server = FakeServer()
    b = connect(server, api_key=secret)
    assert server.headers[0]["authorization"] == f"Bearer {secret}"
    assert secret not in repr(b.client.config)
    server.completion_status = 401
    with pytest.raises(ServerError) as err:
        b.append(b.tokenize("p"))
    assert "API key" in str(err.value) and secret not in str(err.value)
    shown = ServerConfig("http://user:pw@host:8000/").display_url
    assert shown == "http://host:8000"


def test_unknown_model_names_what_the_server_has() -> None:
    with pytest.raises(ModelLoadError, match="serves: fake-model"):
        OpenAIBackend(
            ServerClient(ServerConfig("http://f:1"), transport=httpx.MockTransport(FakeServer())),
            model="other",
        )


def test_truncate_to_zero_evicts_before_the_next_request() -> None:
    server = FakeServer()
    b = connect(server)
    b.append(b.tokenize("prompt"))
    b.truncate(0)
    b.append(b.tokenize("prompt"))
    evict, warm = server.completions()[-2:]
    assert evict["prompt"] != "prompt" and warm["prompt"] == "prompt"
    assert warm["cache_prompt"] is False


class _Raising(httpx.SyncByteStream):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks


def test_the_engine_says_which_server_the_model_runs_on() -> None:
    # A remote chat must not look local: ModelLoaded carries the host.
    loaded: list[ModelLoaded] = []
    ready = threading.Event()

    def sink(event: Event) -> None:
        if isinstance(event, ModelLoaded | ModelLoadFailed):
            loaded.extend([event] if isinstance(event, ModelLoaded) else [])
            ready.set()

    engine = Engine(
        load_settings(None, {"model.backend": "openai", "server.base_url": "http://fake:1"}),
        ToolRegistry(),
        lambda progress: connect(FakeServer()),
    )
    engine.subscribe(sink)
    engine.start()
    try:
        assert ready.wait(10)
    finally:
        engine.close()
    (event,) = loaded
    assert (event.model, event.server, event.gpu) == ("fake-model", "fake:1", False)
