"""A backend wrapper that teacher-forces the replay oracle's tokens.

The engine's ``--script`` teacher forcing fixes a turn's whole text in advance,
which cannot express "trap, and after whichever result lands next, continue
accordingly".  This wrapper keeps the engine untouched: every ``sample()``
still runs the real llama.cpp sampler (the same cost as free generation and as
``--script``), then returns the oracle's token instead.  Everything else is
delegated to the real backend, so every sampled token is a real decode step
and every interrupt a real KV-cache append.  What the call grammar forces the
engine appends itself (jump-forward); the oracle then skips it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt

from asynclm_tui.core.backends.base import (
    AppendStats,
    Backend,
    BackendInfo,
    SamplingParams,
    Verifying,
)
from asynclm_tui.lab.tasks.oracle import Oracle


class ForcingBackend:
    """Delegates to ``inner``; ``oracle`` (when set) picks every token."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.info: BackendInfo = inner.info
        self.oracle: Oracle | None = None

    @property
    def n_past(self) -> int:
        """Tokens in the KV cache."""
        return self.inner.n_past

    @property
    def tokens(self) -> Sequence[int]:
        """The KV cache's tokens."""
        return self.inner.tokens

    @property
    def n_vocab(self) -> int:
        """Vocabulary size."""
        return self.inner.n_vocab

    def eos_tokens(self) -> frozenset[int]:
        """End-of-turn tokens."""
        return self.inner.eos_tokens()

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        """Tokens for ``text``."""
        return self.inner.tokenize(text, special=special)

    def piece(self, token: int) -> bytes:
        """Bytes of one token."""
        return self.inner.piece(token)

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        """The model's chat template applied."""
        return self.inner.render_chat(messages)

    def truncate(self, n: int) -> None:
        """Drop the KV cache after ``n`` tokens."""
        self.inner.truncate(n)

    def append(self, tokens: Sequence[int]) -> None:
        """Evaluate ``tokens`` on top of the KV cache."""
        self.inner.append(tokens)

    def append_rows(self, tokens: Sequence[int], keep: Sequence[int]) -> None:
        """Evaluate ``tokens`` keeping the logits after those in ``keep``."""
        cast(Verifying, self.inner).append_rows(tokens, keep)

    def read_row(self, index: int | None) -> None:
        """Sample at another kept position (the oracle still picks)."""
        cast(Verifying, self.inner).read_row(index)

    def start_sampling(self, params: SamplingParams) -> None:
        """Set up the real sampler chain."""
        self.inner.start_sampling(params)

    def sample(self) -> int:
        """Run the real sampler, then return the oracle's token if forcing."""
        token = self.inner.sample()
        oracle = self.oracle
        return token if oracle is None else oracle.next_token()

    def logits(self) -> npt.NDArray[np.float32]:
        """Current logits."""
        return self.inner.logits()

    def accept(self, token: int) -> None:
        """Record a token chosen outside the sampler."""
        self.inner.accept(token)

    def note_forced(self, tokens: Sequence[int]) -> None:
        """The engine wrote grammar-forced tokens (jump-forward): the sampler
        records them and the oracle, which had them queued, moves past them."""
        self.inner.note_forced(tokens)
        oracle = self.oracle
        if oracle is not None:
            oracle.skip(tokens, self.inner)

    def append_stats(self) -> AppendStats:
        """Counts of the last append."""
        return self.inner.append_stats()

    def pause(self) -> None:
        """Decoding waits."""
        self.inner.pause()

    def state_identity(self) -> str:
        """The inner backend's (saved states are its KV cache)."""
        return self.inner.state_identity()

    def save_state(self, path: Path) -> None:
        """Save the inner backend's state."""
        self.inner.save_state(path)

    def load_state(self, path: Path, tokens: Sequence[int]) -> bool:
        """Restore the inner backend's state."""
        return self.inner.load_state(path, tokens)

    def close(self) -> None:
        """Free the model."""
        self.inner.close()
