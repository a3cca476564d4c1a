"""The decode steps an oracle segment takes, with jump-forward as the engine does it.

Under jump-forward a step appends the token the oracle chose plus whatever
the call grammar forces after it, in one decode call.  The calibrated bound
charges each step the cost of its batch, so it needs the batch sizes of
every segment; they follow from the text alone (the grammar, the boundary
rule and the tokenizer are deterministic), so they are worked out here the
way the engine and the replay oracle do it, token by token.
"""

from __future__ import annotations

import codecs
from collections import deque
from collections.abc import Mapping, Sequence

from asynclm_tui.core.backends.base import Pieces, skip_text
from asynclm_tui.core.cml.constrain import ToolShape
from asynclm_tui.core.cml.syntax import CMLParser
from asynclm_tui.core.decode.jump_forward import GrammarFollower, JumpForward

Steps = tuple[int, ...]
"""Tokens appended by each decode step of a segment, in order."""


def segment_steps(tokens: Sequence[int], vocab: Pieces, shapes: Mapping[str, ToolShape]) -> Steps:
    """The batches of one segment (written from outside any block) when the
    engine jumps forward over what the grammar of ``shapes`` forces."""
    queue = deque(tokens)
    parser = CMLParser()
    follower = GrammarFollower(shapes)
    jump = JumpForward(vocab)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    steps: list[int] = []
    while queue:
        parser.feed(decoder.decode(vocab.piece(queue.popleft())))
        follower.follow(parser)
        grammar = follower.active
        forced = jump.tokens(grammar) if grammar is not None else []
        if forced:
            text = b"".join(vocab.piece(t) for t in forced)
            skip_text(queue, text, vocab)
            parser.feed(decoder.decode(text))
            follower.follow(parser)
        steps.append(1 + len(forced))
    return tuple(steps)


def plain_steps(tokens: Sequence[int]) -> Steps:
    """One token per step (no jump-forward)."""
    return (1,) * len(tokens)
