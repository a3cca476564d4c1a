"""Token budgets for results injected into the model's context.

A long result costs context and prefill time (appending a 1,000-token listing
takes seconds on a small CPU), so each result is cut to its tool's budget
before injection, with a marker that tells the model how much it did not see.
The full result stays with the call (the UI shows it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CHARS_PER_TOKEN_MAX = 16
"""Few tokens span more characters than this; text beyond ``budget`` times
this is cut before tokenizing (a 10 MB result must not stall decoding)."""


@dataclass(frozen=True)
class Fitted:
    """A result fitted to its budget."""

    text: str
    """What is injected: the result, or its head plus the truncation marker."""
    n_tokens: int
    """Tokens of the whole result (approximate, ``~``, when it was huge)."""
    n_kept: int
    """Tokens of the result that were kept."""
    exact: bool = True
    """False when ``n_tokens`` was extrapolated from a prefix."""

    @property
    def cut(self) -> int:
        """Tokens left out (0 when the result fitted)."""
        return self.n_tokens - self.n_kept


def truncation_marker(cut: int, total: int, exact: bool = True) -> str:
    """``… [truncated: 812 of 1079 tokens]``: what the model reads at the cut."""
    about = "" if exact else "~"
    return f"… [truncated: {about}{cut} of {about}{total} tokens]"


def fit_result(
    value: str,
    budget: int | None,
    tokenize: Callable[[str], list[int]],
    piece: Callable[[int], bytes],
) -> Fitted:
    """Cut ``value`` to at most ``budget`` tokens (None: no limit).

    The head is decoded from the kept tokens themselves, so the cut falls on a
    token boundary; a character split by it is dropped.
    """
    if budget is None:
        return Fitted(value, 0, 0)
    limit = budget * CHARS_PER_TOKEN_MAX
    probe = value if len(value) <= limit else value[:limit]
    tokens = tokenize(probe)
    exact = probe is value
    total = len(tokens) if exact else max(len(tokens), round(len(tokens) * len(value) / limit))
    if total <= budget:
        return Fitted(value, total, total)
    head = b"".join(piece(t) for t in tokens[:budget]).decode("utf-8", errors="ignore")
    marker = truncation_marker(total - budget, total, exact)
    return Fitted(head.rstrip() + marker, total, budget, exact)
