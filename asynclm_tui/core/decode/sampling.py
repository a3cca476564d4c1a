"""Choosing the next token: llama.cpp's sampler plus two CML guards.

* Outside blocks the model samples freely, except that a token which would
  complete the text ``[INTR`` gets its logit set to -inf and the token is
  resampled: a dynamic logit bias, so only the system can write interrupts.
* Inside a block, when ``constrain_calls`` is on, the token is picked among the
  highest-logit candidates that keep the block a viable prefix of the call
  grammar (:mod:`asynclm_tui.core.cml.constrain`).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from asynclm_tui.core.backends.base import Backend, SamplingParams
from asynclm_tui.core.cml.constrain import BlockGrammar
from asynclm_tui.core.cml.syntax import INTR
from asynclm_tui.core.settings.config import GenerationSettings

FORBIDDEN = INTR[:-1]  # "[INTR": the model may never complete this
if TYPE_CHECKING:
    import numpy as np

_TOP = 64
_MAX_CHOICES = 8
_MAX_RESAMPLES = 32


def sampling_params(gen: GenerationSettings, seed: int) -> SamplingParams:
    """The backend's sampler settings for ``gen``."""
    return SamplingParams(
        temperature=gen.temperature,
        top_k=gen.top_k,
        top_p=gen.top_p,
        repeat_penalty=gen.repeat_penalty,
        seed=seed,
    )


class TokenPicker:
    """Samples tokens for one turn on behalf of the decode loop."""

    def __init__(self, backend: Backend, temperature: float, seed: int) -> None:
        self.backend = backend
        self.temperature = temperature
        self._rng = random.Random(seed)
        self._text: dict[int, str] = {}
        self._eos = backend.eos_tokens()
        import numpy  # only once a backend exists: llama_cpp must load first

        self._np = numpy

    def text_of(self, token: int) -> str:
        """The token's piece as text (partial UTF-8 shown as U+FFFD)."""
        text = self._text.get(token)
        if text is None:
            text = self._text[token] = self.backend.piece(token).decode("utf-8", errors="replace")
        return text

    def free(self, tail: str) -> int:
        """Sample outside a block; never let the model write ``[INTR``."""
        token = self.backend.sample()
        if token in self._eos or FORBIDDEN not in tail + self.text_of(token):
            return token
        logits = self.backend.logits()
        for _ in range(_MAX_RESAMPLES):
            logits[token] = -self._np.inf
            token = self.backend.sample()
            if token in self._eos or FORBIDDEN not in tail + self.text_of(token):
                return token
        return min(self._eos)  # everything plausible was forbidden: end the turn

    def constrained(self, grammar: BlockGrammar) -> int | None:
        """Pick a token that keeps the block viable; None if none exists."""
        logits = self.backend.logits()
        np = self._np
        top = np.argpartition(-logits, _TOP)[:_TOP]
        order = top[np.argsort(-logits[top])]
        choices = self._viable(order, grammar)
        if not choices:
            choices = self._viable(np.argsort(-logits), grammar)
        if not choices:
            return None
        if self.temperature <= 0 or len(choices) == 1:
            token = choices[0]
        else:
            scaled = np.array([logits[t] for t in choices], dtype=np.float64)
            scaled = (scaled - scaled.max()) / self.temperature
            weights = np.exp(scaled)
            token = self._rng.choices(choices, weights=weights.tolist())[0]
        self.backend.accept(token)
        return token

    def _viable(self, order: np.ndarray, grammar: BlockGrammar) -> list[int]:
        found: list[int] = []
        for raw in order:
            token = int(raw)
            if token in self._eos:
                continue
            text = self.text_of(token)
            if text and grammar.accepts(text):
                found.append(token)
                if len(found) >= _MAX_CHOICES:
                    break
        return found
