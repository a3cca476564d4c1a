"""A model behind an OpenAI-compatible server, as a token-level backend.

No server can append tokens to the KV cache of a running generation, so the
backend emulates it with prefix reuse (AsyncLM section 5.5, done carefully):

* ``sample()`` reads the next token of a streaming ``/v1/completions``
  request; ``append()`` of exactly that token lets the stream go on.
* ``append()`` of anything else (an interrupt, a forced token) closes the
  stream (the server stops generating) and at once opens a continuation whose
  prompt is the exact text so far; the server's prefix cache evaluates only
  the new suffix.  The time until its first token is the interrupt's cost.
* ``append()`` outside a turn (the prompt's prefill) sends a one-token
  request, so the prompt is evaluated and cached before the turn samples.
* ``pause()`` closes the stream while the engine waits on a trap or a call.

Prompts are sent as text because llama-cpp-python's server rejects token ids
on ``/v1/completions``.  The text is the exact concatenation of what the
server streamed and what was tokenized here, never a re-rendering; the
server tokenizes it again, which matches what it generated except where BPE
merges across a chunk boundary (the prefix match then stops there).
Generated chunks get local ids above :data:`PSEUDO_BASE`; their bytes are the
streamed text.  Logits are not available, so ``constrain_calls`` is off and
the ``[INTR`` guard is a stop sequence instead of a logit bias.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from asynclm_tui.core.backends.base import (
    AppendStats,
    BackendError,
    BackendInfo,
    ContextFullError,
    ModelLoadError,
    ProgressFn,
    SamplingParams,
)
from asynclm_tui.core.backends.openai_http import Chunk, CompletionStream, ServerClient, ServerError
from asynclm_tui.core.backends.text_store import PSEUDO_BASE, TextStore
from asynclm_tui.core.cml.syntax import INTR

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

EOS_ID = PSEUDO_BASE - 1
"""The local end-of-turn token (the server finished or hit the guard)."""
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
_SPECIAL = re.compile(r"<\|[^|<>]{1,40}\|>|</?s>")
_EVICT_PROMPT = "\x00"
_VOCAB_SAMPLE = (
    "Quixotic zephyrs bewilder the obsequious lexicographer; floccinaucinihilipilification, "
    "antidisestablishmentarianism and sesquipedalian verbosity abound. "
    "Ünïcödé façade naïve café — 東京 € ✓"
)
"""Rare words and scripts: their ids bound the vocabulary from below."""


class OpenAIBackend:
    """Streams from ``/v1/completions``; owned by the engine's decode thread."""

    def __init__(
        self,
        client: ServerClient,
        *,
        model: str | None = None,
        n_ctx: int = 4096,
        chat_template: str | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        self.client = client
        self._lock = threading.Lock()  # tokenize may come from another thread
        listed = self._models()
        if progress is not None:
            progress(0.5)
        entry = next((m for m in listed if m.get("id") == model), None) if model else None
        if model and entry is None:
            names = ", ".join(str(m.get("id")) for m in listed) or "none"
            raise ModelLoadError(f"{client.url} does not serve {model!r} (it serves: {names})")
        entry = entry or (listed[0] if listed else {})
        self.model = model or str(entry.get("id", ""))
        self._tokenize_path = self._find_tokenizer()
        reported = entry.get("max_model_len") or entry.get("meta", {}).get("n_ctx_train")
        template = chat_template or self._server_template() or CHATML
        self.info = BackendInfo(
            model=self.model.rsplit("/", 1)[-1] or client.url,
            n_ctx=int(reported) if reported else n_ctx,
            n_params=0,
            n_layers=0,
            n_gpu_layers=0,
            gpu_available=False,
            n_threads=0,
            extra={
                "server": client.url,
                "host": client.config.host,
                "tokenizer": self._tokenize_path,
                "n_ctx_source": "server" if reported else "config",
                "chat_template": "server" if template != CHATML else "chatml",
            },
            has_logits=False,
        )
        self.store = TextStore(self._detokenize_one)
        self._template = template
        self._formatter: Any = None
        self._params = SamplingParams()
        self._stream: CompletionStream | None = None
        self._stream_owner = 0
        self._ahead: int | None = None  # a token read by append(), for sample()
        self._pending: int | None = None  # the last token sample() returned
        self._ended = False  # the model finished right after the pending token
        self._turn_live = False
        self._evict = False
        self._capped = False  # the stream asked for one token (forced decoding)
        self._streak = 0  # consecutive streams cut after their first token
        self._stats = AppendStats(None, None)
        for special in set(_SPECIAL.findall(template)):
            self.tokenize(special, special=True)  # learn the specials' text
        self.tokenize(_VOCAB_SAMPLE)
        if progress is not None:
            progress(1.0)

    # ------------------------------------------------------------ probing

    def _models(self) -> list[dict[str, Any]]:
        try:
            data = self.client.get_json("/v1/models")
        except ServerError as exc:
            raise ModelLoadError(str(exc)) from None
        listed = data.get("data") if isinstance(data, dict) else None
        if not isinstance(listed, list):
            raise ModelLoadError(f"{self.client.url}/v1/models is not an OpenAI model list")
        return [m for m in listed if isinstance(m, dict)]

    def _find_tokenizer(self) -> str:
        """The first tokenize endpoint the server has (each names it its way)."""
        for path in ("/extras/tokenize", "/tokenize"):
            try:
                self.client.post_json(path, self._tokenize_body(path, "a"))
            except ServerError:
                continue
            return path
        raise ModelLoadError(
            f"{self.client.url} has no tokenize endpoint (/extras/tokenize or /tokenize); "
            "asynclm needs one to count and force tokens"
        )

    def _tokenize_body(self, path: str, text: str) -> dict[str, Any]:
        if path == "/extras/tokenize":  # llama-cpp-python
            return {"input": text, "model": self.model}
        # llama.cpp's llama-server reads "content", vLLM and SGLang "prompt".
        return {
            "content": text,
            "prompt": text,
            "model": self.model,
            "add_special": False,
            "add_special_tokens": False,
            "parse_special": True,
        }

    def _server_template(self) -> str | None:
        """llama.cpp's llama-server publishes the model's chat template."""
        try:
            props = self.client.get_json("/props")
        except ServerError:
            return None
        template = props.get("chat_template") if isinstance(props, dict) else None
        return template if isinstance(template, str) and template else None

    # ------------------------------------------------------------ tokens

    @property
    def n_past(self) -> int:
        return len(self.store)

    @property
    def tokens(self) -> Sequence[int]:
        return list(self.store.ids)

    @property
    def n_vocab(self) -> int:
        """A lower bound: the highest id seen so far, plus one (servers do not
        publish their vocabulary size; ids below it are safe to look up)."""
        return self.store.max_real_id + 1

    def eos_tokens(self) -> frozenset[int]:
        return frozenset({EOS_ID})

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        cached = self.store.known_ids(text)
        if cached is not None:
            return cached
        self._quiesce()
        path = self._tokenize_path
        data = self._call(lambda: self.client.post_json(path, self._tokenize_body(path, text)))
        ids = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(ids, list):
            raise BackendError(f"{self.client.url}{path} returned no token list")
        ids = [int(t["id"]) if isinstance(t, dict) else int(t) for t in ids]
        if path == "/extras/tokenize" and text and ids and ids[0] in self._bos_ids():
            ids = ids[1:]  # llama-cpp-python adds BOS when the model asks for it
        self.store.remember(text, ids)
        return ids

    def _bos_ids(self) -> list[int]:
        empty = self.store.known_ids("")
        if empty is None:
            data = self._call(
                lambda: self.client.post_json(
                    self._tokenize_path, {"input": "", "model": self.model}
                )
            )
            empty = [int(t) for t in data.get("tokens", [])] if isinstance(data, dict) else []
            self.store.remember("", empty)
        return empty

    def piece(self, token: int) -> bytes:
        return self.store.piece(token)

    def _detokenize_one(self, token: int) -> bytes:
        self._quiesce()
        path = "/extras/detokenize" if self._tokenize_path == "/extras/tokenize" else "/detokenize"
        try:
            data = self._call(
                lambda: self.client.post_json(path, {"tokens": [token], "model": self.model})
            )
        except ServerError as exc:
            if "answered 5" not in str(exc):
                raise
            # A byte-fallback token (part of a UTF-8 character): llama-cpp-
            # python's server cannot decode it alone, and sends text only.
            return "\ufffd".encode()
        text = ""
        if isinstance(data, dict):
            text = str(data.get("text", data.get("content", data.get("prompt", ""))))
        return text.encode("utf-8")

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(self._template, eos_token="", bos_token="")
        return str(self._formatter(messages=list(messages)).prompt)

    # ------------------------------------------------------------ KV cache

    def truncate(self, n: int) -> None:
        self._close()
        self._ahead = None
        self._ended = False
        self._pending = None
        self._turn_live = False
        if n == 0 and len(self.store):
            self._evict = True  # an empty cache means "reuse nothing" over the wire
        self.store.truncate(n)

    def append(self, tokens: Sequence[int]) -> None:
        if len(self.store) + len(tokens) > self.info.n_ctx:
            raise ContextFullError(self.info.n_ctx)
        pending, self._pending = self._pending, None
        if pending is not None:
            # Forced decoding appends other tokens than the stream's: after
            # two in a row, ask for one token per request.
            self._streak = 0 if list(tokens[:1]) == [pending] else self._streak + 1
        live = self._stream is not None or self._ended
        if live and pending is not None and list(tokens) == [pending]:
            self.store.extend(tokens)  # the stream goes on: nothing to evaluate
            self._stats = AppendStats(None, None)
            return
        self._ended = False
        self._ahead = None
        self._stats = AppendStats(None, None)
        self._close()
        self.store.extend(tokens)
        if not tokens:
            return
        if self._turn_live:
            self._open()
            self._ahead = self._read()
        else:
            self._warm()

    def append_stats(self) -> AppendStats:
        return self._stats

    # ------------------------------------------------------------ sampling

    def start_sampling(self, params: SamplingParams) -> None:
        self._close()
        self._ahead = None
        self._params = params
        self._turn_live = True

    def sample(self) -> int:
        if self._ahead is not None:
            token, self._ahead = self._ahead, None
        elif self._ended:
            self._ended = False
            token = EOS_ID
        else:
            token = self._read()
        self._pending = token
        return token

    def logits(self) -> npt.NDArray[np.float32]:
        raise BackendError("a remote server exposes no logits (constrain_calls is off)")

    def accept(self, token: int) -> None:
        """The server keeps its own penalty history."""

    def note_forced(self, tokens: Sequence[int]) -> None:
        """Nothing to do here: the next :meth:`append` (the sampled token and
        these) closes the stream and continues from the text with them in,
        which the server's prefix cache evaluates as a suffix."""

    def pause(self) -> None:
        self._close()

    def state_identity(self) -> str:
        """'': the server keeps its own prefix cache; nothing is saved here."""
        return ""

    def save_state(self, path: Path) -> None:
        """Not supported over the wire."""
        raise OSError("a server backend cannot save its state")

    def load_state(self, path: Path, tokens: Sequence[int]) -> bool:
        """Not supported over the wire."""
        return False

    def close(self) -> None:
        self._close()
        self.client.close()

    # ------------------------------------------------------------ requests

    def _body(self, max_tokens: int, *, stream: bool, reuse: bool = True) -> dict[str, Any]:
        p = self._params
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": self.store.text(),
            "max_tokens": max_tokens,
            "stream": stream,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "top_k": p.top_k,
            "repeat_penalty": p.repeat_penalty,
            "seed": p.seed,
            "stop": [INTR[:-1]],  # the model may never write an interrupt
            "cache_prompt": reuse,  # llama.cpp's server
        }
        if stream:
            # Counts with every chunk, so the first one already says what the
            # continuation reused: vLLM's continuous usage, llama-server's timings.
            body["stream_options"] = {"include_usage": True, "continuous_usage_stats": True}
            body["timings_per_token"] = True
        return body

    def _room(self) -> int:
        return max(1, self.info.n_ctx - len(self.store) - 1)

    def _open(self) -> None:
        """Start generating from the whole text so far."""
        reuse = not self._evict_if_asked()
        self._capped = self._streak >= 2
        body = self._body(1 if self._capped else self._room(), stream=True, reuse=reuse)
        self._stream = self._call(lambda: self.client.stream("/v1/completions", body))
        self._stream_owner = threading.get_ident()

    def _warm(self) -> None:
        """Prefill outside a turn: one token generated and dropped, so the
        prompt is cached before sampling starts (llama-cpp-python treats
        ``max_tokens: 0`` as "until the context is full")."""
        reuse = not self._evict_if_asked()
        body = self._body(1, stream=False, reuse=reuse)
        data = self._call(lambda: self.client.post_json("/v1/completions", body))
        self._stats = count_cached(data if isinstance(data, dict) else {})

    def _evict_if_asked(self) -> bool:
        """For the no-reuse baselines: a one-slot server (llama-cpp-python)
        keeps only the last prompt, so a tiny unrelated one empties it, and
        llama-server is told ``cache_prompt: false``.  True when evicted."""
        if not self._evict:
            return False
        self._evict = False
        body = {"model": self.model, "prompt": _EVICT_PROMPT, "max_tokens": 1, "stream": False}
        self._call(lambda: self.client.post_json("/v1/completions", body))
        return True

    def _read(self) -> int:
        """The next streamed token (a local id), or :data:`EOS_ID`."""
        for _ in range(4):
            if self._stream is None:
                self._open()
            stream = self._stream
            assert stream is not None
            chunk: Chunk | None = self._call(stream.next_chunk)
            if chunk is None:
                # Ended without a finish reason: the server cut the stream
                # (another request came first); continue where it stopped.
                self._close()
                continue
            self._note(chunk)
            finish = chunk.finish_reason
            if finish is not None:
                self._close()
                own_cap = finish == "length" and self._capped
                if not own_cap:  # the model's end (EOS, the guard, or no room)
                    if not chunk.text:
                        return EOS_ID
                    self._ended = True
            if chunk.text:
                return self.store.pseudo(chunk.text)
        self._fail(f"{self.client.url} ends every stream without a token")

    def _note(self, chunk: Chunk) -> None:
        counts = count_cached(chunk.raw)
        if counts.n_cached is not None or counts.n_evaluated is not None:
            self._stats = counts

    def _close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _quiesce(self) -> None:
        """A one-slot server serves one request at a time: drop a live stream
        (its next token is not needed: the caller is about to append
        something else) before another request from the decode thread."""
        if self._stream is not None and self._stream_owner == threading.get_ident():
            self._close()

    def _call(self, fn: Any) -> Any:
        with self._lock:
            return fn()

    def _fail(self, message: str) -> NoReturn:
        raise ServerError(message)


def count_cached(obj: dict[str, Any]) -> AppendStats:
    """Cached/evaluated prompt tokens, as vLLM, SGLang or llama.cpp report them."""
    usage = obj.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    timings = obj.get("timings") or {}
    cached = details.get("cached_tokens", timings.get("cache_n", obj.get("tokens_cached")))
    evaluated = timings.get("prompt_n", obj.get("tokens_evaluated"))
    if evaluated is None and cached is not None and "prompt_tokens" in usage:
        evaluated = int(usage["prompt_tokens"]) - int(cached)
    return AppendStats(
        int(cached) if cached is not None else None,
        int(evaluated) if evaluated is not None else None,
    )
