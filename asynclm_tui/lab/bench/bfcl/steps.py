"""The decode steps an oracle segment takes, with jump-forward as the engine does it.

Under jump-forward a step appends the token the oracle chose plus whatever
the call grammar forces after it, and the call text the engine drafts after
that, in one decode call.  The calibrated bound charges each step the cost
of its batch, so it needs the batch sizes of every segment; they follow from
the text and what the drafts are copied from (the grammar, the boundary rule,
the drafter and the tokenizer are deterministic), so they are worked out
here the way the engine and the replay oracle do it, token by token.
"""

from __future__ import annotations

import codecs
from collections import deque
from collections.abc import Mapping, Sequence

from asynclm_tui.core.backends.base import Pieces, skip_text
from asynclm_tui.core.cml.constrain import ToolShape
from asynclm_tui.core.cml.syntax import CMLParser
from asynclm_tui.core.decode.drafts import MAX_DRAFT, Drafter
from asynclm_tui.core.decode.jump_forward import GrammarFollower, JumpForward

Steps = tuple[int, ...]
"""Tokens appended by each decode step of a segment, in order."""


def segment_steps(
    tokens: Sequence[int],
    vocab: Pieces,
    shapes: Mapping[str, ToolShape],
    source: str | None = None,
) -> Steps:
    """The batches of one segment (written from outside any block) when the
    engine jumps forward over what the grammar of ``shapes`` forces and,
    with a ``source`` (what arguments may be copied from), drafts call text:
    a draft goes in with its step whether kept or not, and the oracle's
    token where a draft differs is the next step's."""
    queue = deque(tokens)
    parser = CMLParser()
    follower = GrammarFollower(shapes)
    jump = JumpForward(vocab)
    drafter = Drafter(vocab, shapes, jump) if source is not None else None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    written: list[str] = []

    def take(text: bytes) -> None:
        chars = decoder.decode(text)
        written.append(chars)
        parser.feed(chars)
        follower.follow(parser)

    steps: list[int] = []
    while queue:
        take(vocab.piece(queue.popleft()))
        grammar = follower.active
        forced = jump.tokens(grammar) if grammar is not None else []
        if forced:
            text = b"".join(vocab.piece(t) for t in forced)
            skip_text(queue, text, vocab)
            take(text)
        drafts = []
        if drafter is not None and parser.in_block:
            drafts = drafter.draft(
                parser.block_kind,
                parser.block_tail,
                follower.active,
                (source or "") + "".join(written),
                MAX_DRAFT,
            )
        steps.append(1 + len(forced) + len(drafts))
        for draft in drafts:
            piece = vocab.piece(draft.token)
            if draft.forced:
                skip_text(queue, piece, vocab)
            elif queue and queue[0] == draft.token:
                queue.popleft()
            else:
                break
            take(piece)
    return tuple(steps)


def plain_steps(tokens: Sequence[int]) -> Steps:
    """One token per step (no jump-forward)."""
    return (1,) * len(tokens)
