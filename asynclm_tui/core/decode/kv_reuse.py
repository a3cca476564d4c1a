"""Bring the KV cache to a wanted token sequence, evaluating only what it
does not already hold: what a prefix-caching server does with each request."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from asynclm_tui.core.backends.base import Backend, ContextFullError, CountFn


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class PrefillStopped(Exception):
    """Reading the prompt was stopped between two batches; the KV cache holds
    what was read (a later prompt with the same start reuses it)."""


def reuse_prefix(
    backend: Backend,
    wanted: Sequence[int],
    progress: CountFn | None = None,
    stopped: Callable[[], bool] = lambda: False,
) -> int:
    """Make the KV cache hold exactly ``wanted``; returns the tokens evaluated.

    The last token is always evaluated again, even when it is cached, so the
    logits are those of ``wanted``'s end.  With ``progress``, tokens that span
    more than one of the backend's batches are appended a batch at a time
    and ``progress(done, total)`` is called before the first and after each
    (a batch per append is what llama.cpp evaluates anyway: no cost); then
    :class:`PrefillStopped` is raised between batches once ``stopped()``."""
    common = min(common_prefix(backend.tokens, wanted), len(wanted) - 1)
    if len(wanted) > backend.info.n_ctx:  # fail before evaluating any of it
        raise ContextFullError(backend.info.n_ctx)
    backend.truncate(common)
    rest = wanted[common:]
    batch = backend.info.prefill_batch
    if progress is None or batch <= 0 or len(rest) <= batch:
        backend.append(rest)
        return len(rest)
    progress(0, len(rest))
    for start in range(0, len(rest), batch):
        if start and stopped():
            raise PrefillStopped
        backend.append(rest[start : start + batch])
        progress(min(start + batch, len(rest)), len(rest))
    return len(rest)
