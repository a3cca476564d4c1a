"""A scripted backend: a fake model that writes given text, for fast tests.

It implements the :class:`~asynclm_tui.core.backends.base.Backend` protocol
with a tokenizer that splits text into words, CML markers and chat-template
specials, and a "model" that, at each sampling step, proposes the next token
of the current turn's script (an ``<eos>`` in a script ends the answer there;
text after it is what the model writes if decoding goes on).  Every append is
recorded, so a test can read exactly what reached the KV cache and when.

``faults`` makes one method raise on its n-th call, and ``poison`` makes the
tokenizer refuse any text that contains it: each stage of the decode loop can
be made to fail.  It never replaces the real model in tests of the real path.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from asynclm_tui.core.backends.base import (
    AppendStats,
    Backend,
    BackendInfo,
    ContextFullError,
    ProgressFn,
    SamplingParams,
    skip_text,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

EOS_TEXT = "<eos>"
EOS = 0
N_VOCAB = 1 << 16

_PIECE = re.compile(r"<\|[a-z_]+\|>|<eos>|\s?\[[A-Z]+\]|\s?[A-Za-z0-9_]+|\s|.", re.S)


class ScriptedFault(RuntimeError):
    """Raised where a test asked the backend to fail."""


class ScriptedBackend:
    """A fake model that writes scripted turns, one token per sample."""

    def __init__(
        self,
        turns: Sequence[str] = (),
        *,
        n_ctx: int = 8192,
        n_params: int = 10**10,
        step_s: float = 0.0,
        prefill_batch: int = 0,
        append_s: float = 0.0,
        faults: Mapping[str, int] | None = None,
        poison: str | None = None,
        model: str = "scripted.gguf",
        verifies: bool = True,
    ) -> None:
        self.info = BackendInfo(
            model=model,
            n_ctx=n_ctx,
            n_params=n_params,
            n_layers=1,
            n_gpu_layers=0,
            gpu_available=False,
            n_threads=1,
            prefill_batch=prefill_batch,
            verifies=verifies,
            extra={},
        )
        self.turns: deque[str] = deque(turns)
        """Scripts of the turns still to write."""
        self.step_s = step_s
        """Seconds each sample takes (a slower model)."""
        self.append_s = append_s
        """Seconds each append takes (a slower prompt evaluation); with
        ``prefill_batch``, a long prompt is appended in batches of that size."""
        self.faults = dict(faults or {})
        """Method name -> the call (1-based) on which it raises."""
        self.poison = poison
        self.appends: list[list[int]] = []
        """Every batch appended to the KV cache, in order."""
        self.closed = False
        self.pauses = 0
        self.forced_runs: list[list[int]] = []
        """Every run of tokens the engine forced (jump-forward), in order."""
        """How often decoding waited (traps, sync calls, turn ends)."""
        self._calls: dict[str, int] = {}
        self._vocab: dict[str, int] = {EOS_TEXT: EOS}
        self._pieces: list[str] = [EOS_TEXT]
        self._kv: list[int] = []
        self._script: deque[int] = deque()
        self._proposed: int | None = None
        self._proposed_at = 0
        """Where the proposal would go in the KV cache."""
        self._logits: npt.NDArray[np.float32] | None = None
        self._rows_at = 0
        """KV length before the last :meth:`append_rows`."""
        self._row_next: int | None = None
        """Where a token sampled at the row being read goes (None: the end)."""

    # ------------------------------------------------------------- test side

    def factory(self) -> Callable[[ProgressFn], Backend]:
        """An engine's backend factory that "loads" this backend."""
        return lambda _progress: self

    def text(self, tokens: Sequence[int] | None = None) -> str:
        """The text of ``tokens`` (default: the whole KV cache)."""
        return "".join(self._pieces[t] for t in (self._kv if tokens is None else tokens))

    def appended_texts(self) -> list[str]:
        """The text of each append, in order."""
        return [self.text(batch) for batch in self.appends]

    def _fault(self, method: str) -> None:
        n = self._calls[method] = self._calls.get(method, 0) + 1
        if self.faults.get(method) == n:
            raise ScriptedFault(f"scripted failure in {method} (call {n})")

    # ------------------------------------------------------------- tokens

    @property
    def n_past(self) -> int:
        return len(self._kv)

    @property
    def tokens(self) -> Sequence[int]:
        return list(self._kv)

    @property
    def n_vocab(self) -> int:
        return N_VOCAB

    def eos_tokens(self) -> frozenset[int]:
        return frozenset({EOS})

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        self._fault("tokenize")
        if self.poison is not None and self.poison in text:
            raise ScriptedFault(f"cannot tokenize text containing {self.poison!r}")
        ids = []
        for piece in _PIECE.findall(text):
            token = self._vocab.get(piece)
            if token is None:
                if len(self._pieces) >= N_VOCAB:
                    raise ScriptedFault("the scripted vocabulary is full")
                token = self._vocab[piece] = len(self._pieces)
                self._pieces.append(piece)
            ids.append(token)
        return ids

    def piece(self, token: int) -> bytes:
        self._fault("piece")
        return self._pieces[token].encode("utf-8") if 0 < token < len(self._pieces) else b""

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        self._fault("render_chat")
        parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
        return "".join(parts) + "<|im_start|>assistant\n"

    # ------------------------------------------------------------- KV cache

    def truncate(self, n: int) -> None:
        del self._kv[n:]
        self._row_next = None

    def append(self, tokens: Sequence[int]) -> None:
        self._fault("append")
        if len(self._kv) + len(tokens) > self.info.n_ctx:
            raise ContextFullError(self.info.n_ctx)
        batch = list(tokens)
        if self.append_s:
            time.sleep(self.append_s)
        # The model wrote its proposal when the batch holds it where it was
        # proposed: first, or further in after a re-prefill (a different
        # token leaves it pending).  A scripted EOS is never appended: the
        # engine went on past it, so it is spent.
        proposed = self._proposed
        at = self._proposed_at - len(self._kv)
        written = proposed == EOS or (0 <= at < len(batch) and batch[at] == proposed)
        if written and self._script and self._script[0] == proposed:
            self._script.popleft()
        self._proposed = None
        self._logits = None
        self._row_next = None
        self._kv.extend(batch)
        self.appends.append(batch)

    def append_rows(self, tokens: Sequence[int], keep: Sequence[int]) -> None:
        """Append as one batch; sampling then reads after any token of it (a
        drafted token the script writes where it is sampled is written)."""
        self._rows_at = len(self._kv)
        self.append(tokens)

    def read_row(self, index: int | None) -> None:
        self._row_next = None if index is None else self._rows_at + index + 1
        self._logits = None

    def append_stats(self) -> AppendStats:
        return AppendStats(n_cached=None, n_evaluated=len(self.appends[-1]) if self.appends else 0)

    def pause(self) -> None:
        self.pauses += 1

    def state_identity(self) -> str:
        return ""  # nothing to save: a script is cheap to replay

    def save_state(self, path: Path) -> None:
        raise OSError("the scripted backend saves no state")

    def load_state(self, path: Path, tokens: Sequence[int]) -> bool:
        return False

    # ------------------------------------------------------------- sampling

    def start_sampling(self, params: SamplingParams) -> None:
        del params  # the script decides
        text = self.turns.popleft() if self.turns else ""
        self._script = deque(self.tokenize(text))
        self._proposed = None
        self._logits = None

    def _next(self) -> int:
        return self._script[0] if self._script else EOS

    def sample(self) -> int:
        self._fault("sample")
        if self.step_s:
            time.sleep(self.step_s)
        token = self._next()
        if self._logits is not None and self._logits[token] == float("-inf"):
            token = EOS  # the caller forbade the scripted token
        self._propose(token)
        return token

    def _propose(self, token: int) -> None:
        at = len(self._kv) if self._row_next is None else self._row_next
        written = at < len(self._kv) and self._kv[at] == token
        if written and self._script and self._script[0] == token:
            self._script.popleft()  # a draft the script writes: written
            self._proposed = None
            return
        self._proposed = token
        self._proposed_at = at

    def logits(self) -> npt.NDArray[np.float32]:
        if self._logits is None:
            import numpy

            self._logits = numpy.full(N_VOCAB, -10.0, dtype=numpy.float32)
            self._logits[self._next()] = 10.0
        return self._logits

    def accept(self, token: int) -> None:
        self._propose(token)

    def note_forced(self, tokens: Sequence[int]) -> None:
        """The script moves past the forced text (after the proposal, which
        the next append writes)."""
        self.forced_runs.append(list(tokens))
        script = self._script
        head = script.popleft() if script and script[0] == self._proposed else None
        skip_text(script, b"".join(self.piece(t) for t in tokens), self)
        if head is not None:
            script.appendleft(head)

    def close(self) -> None:
        self.closed = True
