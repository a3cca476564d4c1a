"""``asynclm doctor`` for a server: does it reuse a repeated prompt prefix?

The same prompt is sent twice after an unrelated one (which empties a
one-slot cache), each asking for one token.  Where the server reports cached
tokens (vLLM, SGLang, llama-server) the second reply says how many; where it
does not (llama-cpp-python's server), the two times tell.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from asynclm_tui.core.backends.openai import OpenAIBackend, count_cached

_FILLER = (
    "The quick brown fox jumps over the lazy dog while the committee reviews "
    "the quarterly figures, the weather report, and a long list of errands. "
)
REUSE_SPEEDUP = 2.0
"""A repeated prompt this many times faster than cold counts as reused."""


@dataclass(frozen=True)
class PrefixProbe:
    """Two identical one-token requests, timed and counted."""

    n_prompt: int
    cold_ms: float
    warm_ms: float
    n_cached: int | None
    """Cached tokens the server reported for the repeat (None: it does not say)."""

    @property
    def reused(self) -> bool:
        """Whether the repeat reused the prefix (by count, else by time)."""
        if self.n_cached is not None:
            return self.n_cached >= self.n_prompt // 2
        return self.cold_ms >= REUSE_SPEEDUP * self.warm_ms


def probe_prefix_cache(backend: OpenAIBackend, repeats: int = 12) -> PrefixProbe:
    """Time a cold and a repeated prompt of ``repeats`` filler sentences."""
    client = backend.client
    prompt = _FILLER * repeats
    n_prompt = len(backend.tokenize(prompt))

    def once(text: str) -> tuple[float, dict[str, Any]]:
        body = {"model": backend.model, "prompt": text, "max_tokens": 1, "temperature": 0}
        start = time.perf_counter()
        data = client.post_json("/v1/completions", body)
        return (time.perf_counter() - start) * 1000, data if isinstance(data, dict) else {}

    once("\x00")
    cold_ms, _ = once(prompt)
    warm_ms, reply = once(prompt)
    return PrefixProbe(n_prompt, cold_ms, warm_ms, count_cached(reply).n_cached)
