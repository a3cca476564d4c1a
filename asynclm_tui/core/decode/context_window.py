"""A full context window: drop the oldest turns and go on.

When the next tokens would not fit, the conversation keeps its system prompt,
the turn being written and as many recent turns as leave room, and the KV
cache is rebuilt by one prefill (only what follows the common prefix, usually
the system prompt, is evaluated again).  Dropped turns stay in the transcript
and in the saved chat; only the model stops seeing them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from asynclm_tui.core.backends.base import Backend
from asynclm_tui.core.decode.kv_reuse import reuse_prefix

HEADROOM_SHARE = 4
"""A slide frees at least 1/HEADROOM_SHARE of the window, so a long answer
slides rarely instead of at every token."""


@dataclass(frozen=True)
class Slide:
    """What one slide did."""

    dropped_turns: int
    n_before: int
    """Tokens in the context before."""
    n_after: int
    n_evaluated: int
    """Tokens the re-prefill evaluated."""
    ms: float
    n_prompt: int
    """The new length of the rendered history (where the current turn starts)."""


def _prompt_tokens(backend: Backend, messages: Sequence[dict[str, str]]) -> list[int]:
    return backend.tokenize(backend.render_chat(messages), special=True)


@dataclass(frozen=True)
class Fitted:
    """The history after :func:`fit`."""

    dropped_turns: int
    tokens: list[int]
    n_full: int
    """Tokens the history needed before anything was dropped."""


def fit(
    backend: Backend,
    messages: list[dict[str, str]],
    *,
    tail: Sequence[int] = (),
    need: int,
    at_least: int = 0,
) -> Fitted | None:
    """Drop the oldest turns from ``messages`` (in place) until
    the rendered history, then ``tail`` (the turn written so far), then
    ``need`` more tokens fit in the window; when nothing more can go, settle
    for ``at_least`` more tokens.

    Returns None when not even that fits (``messages`` is then left as it was).
    """
    n_ctx = backend.info.n_ctx
    kept = list(messages)
    dropped = 0
    tokens = _prompt_tokens(backend, kept)
    n_full = len(tokens) + len(tail)
    first = 1 if kept and kept[0]["role"] == "system" else 0
    while len(tokens) + len(tail) + need > n_ctx:
        # Only whole earlier turns go, never the current user's message.
        droppable = len(kept) - first - (1 if kept and kept[-1]["role"] == "user" else 0)
        size = _oldest_turn(kept, first)
        if droppable <= 0 or size > droppable:
            if len(tokens) + len(tail) + at_least <= n_ctx:
                break
            return None
        del kept[first : first + size]
        dropped += 1
        tokens = _prompt_tokens(backend, kept)
    messages[:] = kept
    return Fitted(dropped, tokens, n_full)


def _oldest_turn(messages: Sequence[dict[str, str]], first: int) -> int:
    """Messages of the oldest turn from ``first``: a user message and its
    answer, or an answer alone (a turn that results started)."""
    if first + 1 < len(messages) and messages[first]["role"] == "user":
        return 2 if messages[first + 1]["role"] == "assistant" else 1
    return 1


def headroom(n_ctx: int, max_tokens: int) -> int:
    """Room a slide leaves for what comes next."""
    return min(max_tokens, n_ctx // HEADROOM_SHARE)


def slide(
    backend: Backend,
    messages: list[dict[str, str]],
    turn_start: int,
    *,
    need: int,
    spare: int,
) -> Slide | None:
    """Mid-turn: make room for ``need`` more tokens after the turn so far
    (the KV cache from ``turn_start`` on), and ``spare`` more if dropping
    allows.  None when nothing can be dropped."""
    t0 = time.perf_counter()
    current = list(backend.tokens[turn_start:])
    before = backend.n_past
    fitted = fit(backend, messages, tail=current, need=need + spare, at_least=need)
    if fitted is None or fitted.dropped_turns == 0:
        return None
    dropped, history = fitted.dropped_turns, fitted.tokens
    wanted = [*history, *current]
    n_evaluated = reuse_prefix(backend, wanted)
    ms = (time.perf_counter() - t0) * 1000
    return Slide(dropped, before, backend.n_past, n_evaluated, ms, len(history))
