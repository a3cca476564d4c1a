"""The small interface the decoding engine needs from a model backend.

A backend holds one token sequence (the KV cache) and can append tokens to it,
sample the next token from the current logits, and roll back to a prefix.
Everything is called from the engine's decode thread only.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # numpy is imported at run time only after llama_cpp loads
    import numpy as np
    import numpy.typing as npt


@dataclass(frozen=True)
class SamplingParams:
    """Sampling knobs, fixed for one turn."""

    temperature: float = 0.2
    top_k: int = 40
    top_p: float = 0.95
    repeat_penalty: float = 1.1
    seed: int = 0


@dataclass(frozen=True)
class BackendInfo:
    """What ``asynclm doctor`` and the status bar show."""

    model: str
    n_ctx: int
    n_params: int
    n_layers: int
    n_gpu_layers: int
    gpu_available: bool
    n_threads: int
    extra: dict[str, Any]
    has_logits: bool = True
    """False for remote servers: no logit masking, so ``constrain_calls`` is off."""
    prefill_batch: int = 0
    """Tokens one evaluation batch holds: a longer prompt is appended in
    pieces of this size so its progress can be reported (0: in one piece,
    e.g. a remote server that evaluates it on its side)."""
    verifies: bool = False
    """It implements :class:`Verifying`: drafted tokens can be checked in one
    decode call (see :mod:`asynclm_tui.core.decode.drafts`)."""


@dataclass(frozen=True)
class AppendStats:
    """What the last :meth:`Backend.append` cost, as far as the backend knows."""

    n_cached: int | None
    """Prompt tokens that were already in the KV cache (None: not reported)."""
    n_evaluated: int | None
    """Tokens actually evaluated (None: not reported)."""


class BackendError(Exception):
    """The backend failed mid-turn (a remote server went away or broke the
    stream): the turn ends with the text written so far kept, and the next
    turn tries again."""


class ModelLoadError(Exception):
    """The model file is missing or llama.cpp could not load it."""


class ContextFullError(Exception):
    """Appending would overflow the context window."""

    def __init__(self, n_ctx: int) -> None:
        super().__init__(f"the context window ({n_ctx} tokens) is full")


ProgressFn = Callable[[float], None]

#: Fastest rate of load progress reports. llama.cpp reports once per tensor
#: (273 times in 50 ms for the bundled model); each report redraws a bar.
PROGRESS_INTERVAL_S = 0.05


def throttled(progress: ProgressFn, interval_s: float = PROGRESS_INTERVAL_S) -> ProgressFn:
    """``progress`` called for the first value, then at most once per
    ``interval_s``, and always for the last (1.0)."""
    last: float | None = None

    def report(value: float) -> None:
        nonlocal last
        now = time.perf_counter()
        if last is None or value >= 1.0 or now - last >= interval_s:
            last = now
            progress(value)

    return report


CountFn = Callable[[int, int], None]
"""Progress as ``(done, total)`` counts."""


def throttled_counts(progress: CountFn, interval_s: float = PROGRESS_INTERVAL_S) -> CountFn:
    """``progress`` called for the first report, then at most once per
    ``interval_s``, and always for the last (``done >= total``)."""
    last: float | None = None

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.perf_counter()
        if last is None or done >= total or now - last >= interval_s:
            last = now
            progress(done, total)

    return report


class Backend(Protocol):
    """A token-level model: the engine's only view of llama.cpp."""

    info: BackendInfo

    @property
    def n_past(self) -> int:
        """Tokens currently in the KV cache."""

    @property
    def tokens(self) -> Sequence[int]:
        """The tokens in the KV cache, in order."""

    @property
    def n_vocab(self) -> int:
        """Vocabulary size."""

    def eos_tokens(self) -> frozenset[int]:
        """Tokens that end the assistant's turn."""

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        """Tokens for ``text`` (no BOS added)."""

    def piece(self, token: int) -> bytes:
        """The bytes one token decodes to."""

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        """The model's own chat template applied, generation prompt added."""

    def truncate(self, n: int) -> None:
        """Drop KV entries after the first ``n`` tokens."""

    def append(self, tokens: Sequence[int]) -> None:
        """Evaluate ``tokens`` on top of the KV cache (one decode call)."""

    def start_sampling(self, params: SamplingParams) -> None:
        """Set up a sampler for a new turn."""

    def sample(self) -> int:
        """Sample the next token from the current logits."""

    def logits(self) -> npt.NDArray[np.float32]:
        """A writable view of the current logits (for masking)."""

    def accept(self, token: int) -> None:
        """Tell the sampler a token was chosen outside it (penalty history)."""

    def note_forced(self, tokens: Sequence[int]) -> None:
        """The engine wrote ``tokens`` for the model (jump-forward: what the
        call grammar forces); they follow the last sampled token in the next
        :meth:`append`.  The sampler's penalty history takes them; a scripted
        or replayed model skips them in what it still has to write."""

    def append_stats(self) -> AppendStats:
        """Cached/evaluated token counts of the last :meth:`append`."""

    def pause(self) -> None:
        """Decoding waits (a trap, a sync call, the turn's end): stop any
        work ahead of the engine, such as a remote stream."""

    def state_identity(self) -> str:
        """What a saved state depends on besides its tokens (model file, context
        size, build); '' when this backend cannot save states."""

    def save_state(self, path: Path) -> None:
        """Write the KV cache and its tokens to ``path``.

        Raises:
            OSError: it could not be written.
        """

    def load_state(self, path: Path, tokens: Sequence[int]) -> bool:
        """Restore a state saved by :meth:`save_state` holding exactly ``tokens``;
        False (and an empty KV cache) when the file is unusable."""

    def close(self) -> None:
        """Free the model."""


class Verifying(Protocol):
    """A backend that evaluates a batch with logits at several positions and
    samples at any of them: the engine appends drafted tokens in one decode
    call and keeps those the model would have written (``info.verifies``)."""

    def append_rows(self, tokens: Sequence[int], keep: Sequence[int]) -> None:
        """Evaluate ``tokens`` (one decode call), keeping the logits after
        each ``tokens[i]`` for ``i`` in ``keep`` (the last one included);
        :meth:`read_row` picks one."""

    def read_row(self, index: int | None) -> None:
        """Make ``sample``/``logits`` read the logits after ``tokens[index]``
        of the last :meth:`append_rows`; None: after its last token."""


class Pieces(Protocol):
    """What :func:`skip_text` needs of a backend."""

    def piece(self, token: int) -> bytes:
        """The bytes of one token."""

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        """Tokens for ``text``."""


def skip_text(queue: deque[int], text: bytes, vocab: Pieces) -> bool:
    """Drop ``text`` from the front of a queue of tokens still to be written
    (a script, the replay oracle) because it was written another way; a token
    that straddles the end of ``text`` is replaced by the tokens of its rest.
    False when the queue does not start with ``text`` (left as far as it
    matched)."""
    while text:
        if not queue:
            return False
        piece = vocab.piece(queue[0])
        if text.startswith(piece) and piece:
            queue.popleft()
            text = text[len(piece) :]
        elif piece.startswith(text):
            queue.popleft()
            rest = piece[len(text) :].decode("utf-8", errors="replace")
            queue.extendleft(reversed(vocab.tokenize(rest)))
            return True
        else:
            return False
    return True
