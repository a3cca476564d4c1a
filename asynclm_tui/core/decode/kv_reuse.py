"""Bring the KV cache to a wanted token sequence, evaluating only what it
does not already hold: what a prefix-caching server does with each request."""

from __future__ import annotations

from collections.abc import Sequence

from asynclm_tui.core.backends.base import Backend


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def reuse_prefix(backend: Backend, wanted: Sequence[int]) -> int:
    """Make the KV cache hold exactly ``wanted``; returns the tokens evaluated.

    The last token is always evaluated again, even when it is cached, so the
    logits are those of ``wanted``'s end."""
    common = min(common_prefix(backend.tokens, wanted), len(wanted) - 1)
    backend.truncate(common)
    backend.append(wanted[common:])
    return len(wanted) - common
