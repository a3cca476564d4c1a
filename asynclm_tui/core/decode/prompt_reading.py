"""Getting a turn's prompt into the KV cache, and keeping room as it grows.

:func:`read_prompt` renders the conversation, drops the oldest turns when the
rest would leave no room to answer, and evaluates only what the cache does not
hold yet, a batch at a time with progress (Esc stops it between batches).
:func:`room_maker` is a running turn's way to slide the window when the
answer fills it.  Both report what they dropped as ``ContextSlid``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from asynclm_tui.core.api.bus import EventBus
from asynclm_tui.core.api.events import ContextSlid, PrefillProgress
from asynclm_tui.core.backends.base import Backend, throttled_counts
from asynclm_tui.core.decode.budget import PromptTooLong, prompt_parts
from asynclm_tui.core.decode.context_window import fit, headroom, slide
from asynclm_tui.core.decode.kv_reuse import reuse_prefix
from asynclm_tui.core.decode.session import Session
from asynclm_tui.core.settings.config import GenerationSettings
from asynclm_tui.core.tools.spec import ToolSpec


def read_prompt(
    backend: Backend,
    session: Session,
    gen: GenerationSettings,
    bus: EventBus,
    *,
    tools: Callable[[], Sequence[ToolSpec]],
    estimate: Callable[[str], float],
    stopped: Callable[[], bool],
) -> tuple[int, int]:
    """Evaluate the conversation's tokens the KV cache does not already hold
    (prefix reuse across turns); returns (prompt tokens, tokens evaluated).
    Raises :class:`PromptTooLong`, naming the part to blame (``tools()`` and
    ``estimate`` describe the offered tools), when even the last turn alone
    leaves no room, and ``kv_reuse.PrefillStopped`` once ``stopped()``."""
    t0 = time.perf_counter()
    fitted = fit(
        backend,
        session.messages,
        need=headroom(backend.info.n_ctx, gen.max_tokens),
        at_least=1,
    )
    if fitted is None:  # too long even with only the last turn
        tokens = backend.tokenize(backend.render_chat(session.messages), special=True)
        if len(tokens) >= backend.info.n_ctx:  # not even room for one token of answer
            parts = prompt_parts(
                len(tokens),
                backend.info.n_ctx,
                session.messages,
                tools(),
                estimate,
                lambda text: len(backend.tokenize(text)),
                gen.system_prompt,
            )
            raise PromptTooLong(len(tokens), backend.info.n_ctx, parts)
    else:
        tokens = fitted.tokens
    t_eval = time.perf_counter()

    def evaluated(done: int, total: int) -> None:
        ms = (time.perf_counter() - t_eval) * 1000
        bus.emit(PrefillProgress(bus.now(), done, total, ms))

    n_evaluated = 0
    try:
        n_evaluated = reuse_prefix(backend, tokens, throttled_counts(evaluated), stopped)
    finally:  # the turns are gone from the chat even when Esc stopped the reading
        if fitted is not None and fitted.dropped_turns:
            ms = (time.perf_counter() - t0) * 1000
            bus.emit(
                ContextSlid(
                    bus.now(), fitted.dropped_turns, fitted.n_full, len(tokens), n_evaluated, ms
                )
            )
    return len(tokens), n_evaluated


def room_maker(
    backend: Backend, session: Session, gen: GenerationSettings, bus: EventBus, turn_start: int
) -> Callable[[int], bool]:
    """A turn's ``make_room``: slide the window past the oldest turns."""
    start = [turn_start]

    def make_room(n: int) -> bool:
        spare = headroom(backend.info.n_ctx, gen.max_tokens)
        slid = slide(backend, session.messages, start[0], need=n, spare=spare)
        if slid is None:
            return False
        start[0] = slid.n_prompt
        bus.emit(
            ContextSlid(
                bus.now(),
                slid.dropped_turns,
                slid.n_before,
                slid.n_after,
                slid.n_evaluated,
                slid.ms,
            )
        )
        return True

    return make_room
