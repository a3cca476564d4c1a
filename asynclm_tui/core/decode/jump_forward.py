"""Jump-forward decoding: what the call grammar forces goes in as one batch.

Inside a call block the grammar often admits exactly one continuation (the
rest of ``[HEAD]``, a tool name once it is unambiguous, ``=`` after a
parameter name, `` [END]`` once the arguments are complete).  Instead of
sampling those tokens one decode step at a time, the engine appends them
together with the token just sampled, in the same decode call.

The boundary: the forced text is tokenized on its own, and its last token is
held back (left for the model to sample, under the grammar) when it could
merge with a character the grammar allows right after it: the model would
then have written one longer token, and appending the short one would put a
sequence in the KV cache that the model itself never writes (``=`` before a
quote, ``(`` before ``)``, the space before a tool name).  Once the forced
text closes the block (the ``]`` of ``[END]``) it all goes in.
docs/benchmarks.md has the measurement that chose this rule among the
candidates in :data:`RULES`, against the model's own greedy tokens.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from asynclm_tui.core.backends.base import Pieces
from asynclm_tui.core.cml.constrain import BlockGrammar, ToolShape
from asynclm_tui.core.cml.syntax import CALL, TRAP, CMLParser

Rule = Literal["whole", "hold_last", "hold_merge", "hold_inside"]
RULES: tuple[Rule, ...] = ("whole", "hold_last", "hold_merge", "hold_inside")
"""Candidate boundary rules: append every forced token; hold back the last
one always; hold it back only when it could merge with a character the
grammar allows next, or anything once the block is closed; the same, but
never at the close (``]`` of ``[END]`` always goes in)."""
RULE: Rule = "hold_inside"
"""The rule the engine uses."""
_PRINTABLE = "".join(chr(c) for c in range(32, 127)) + "\n\t"
_MERGES: weakref.WeakKeyDictionary[Pieces, dict[tuple[int, str], bool]] = (
    weakref.WeakKeyDictionary()
)
"""Per backend: whether a token merges with any of some following characters."""


def exact_tokens(backend: Pieces, text: str) -> list[int]:
    """``text`` tokenized, cut at the first token that is not exactly the
    next piece of it: nothing the grammar did not force is ever written
    (a tokenizer that adds a leading space, say, forces nothing)."""
    want = text.encode("utf-8")
    pos = 0
    out: list[int] = []
    for token in backend.tokenize(text):
        piece = backend.piece(token)
        if not piece or not want.startswith(piece, pos):
            break
        out.append(token)
        pos += len(piece)
    return out


class JumpForward:
    """Turns a grammar's forced text into the tokens to append (one turn's
    helper; caches what it learns about the vocabulary)."""

    def __init__(self, backend: Pieces, rule: Rule = RULE) -> None:
        self.backend = backend
        self.rule = rule
        # What the vocabulary merges outlives the turn (over a server every
        # probe is a request).
        self._merges = _MERGES.setdefault(backend, {})

    def tokens(self, grammar: BlockGrammar) -> list[int]:
        """The tokens to append now for what ``grammar`` forces ([] at a choice)."""
        text = grammar.forced()
        return self.plan(text, lambda: grammar.viable_after(text)) if text else []

    def plan(self, text: str, following: Callable[[], str | None]) -> list[int]:
        """Tokens for the forced ``text`` under the rule; ``following`` gives
        the characters viable right after it (None: any)."""
        tokens = exact_tokens(self.backend, text)
        if not tokens or self.rule == "whole":
            return tokens
        if self.rule == "hold_last":
            tokens.pop()
            return tokens
        after = following()
        if after is None and self.rule == "hold_inside":
            return tokens
        if self._may_merge(tokens[-1], after):
            tokens.pop()
        return tokens

    def _may_merge(self, token: int, following: str | None) -> bool:
        """Whether the model could write ``token`` fused with a character that
        may follow it (one token for both)."""
        chars = _PRINTABLE if following is None else following
        key = (token, chars)
        known = self._merges.get(key)
        if known is None:
            piece = self.backend.piece(token).decode("utf-8", errors="replace")
            known = any(len(self.backend.tokenize(piece + ch)) == 1 for ch in chars)
            self._merges[key] = known
        return known


class GrammarFollower:
    """Keeps a call grammar in step with the parser's open block (a new one
    per block); gives up on a block whose text leaves the grammar."""

    def __init__(self, shapes: Mapping[str, ToolShape]) -> None:
        self.shapes = shapes
        self._grammar: BlockGrammar | None = None
        self._alive = False
        self._fed = 0
        self._serial = -1

    @property
    def active(self) -> BlockGrammar | None:
        """The open block's grammar, while its text is a viable prefix."""
        return self._grammar if self._alive else None

    def follow(self, parser: CMLParser) -> None:
        """Catch up with what ``parser`` read since the last call."""
        kind = parser.block_kind
        if kind not in (CALL, TRAP):
            self._grammar, self._alive = None, False
            return
        text = parser.block_tail
        if parser.block_serial != self._serial or self._grammar is None:
            self._grammar = BlockGrammar(self.shapes, kind)
            self._alive, self._fed, self._serial = True, 0, parser.block_serial
        if self._alive and len(text) > self._fed:
            # Text off the grammar (the model unconstrained, or a script): let it be.
            self._alive = self._grammar.feed(text[self._fed :])
            self._fed = len(text)

    def kill(self) -> None:
        """Stop following the open block."""
        self._alive = False


Taken = Literal["sampled", "forced", "drafted"]
"""How the model's tokens went in: sampled in a step of their own; forced by
the grammar (jump-forward); drafted, and kept because the sample at their
position equalled them (no step of their own)."""
SAMPLED: Taken = "sampled"
FORCED: Taken = "forced"
DRAFTED: Taken = "drafted"


@dataclass
class BlockMeter:
    """Per call block: tokens sampled, forced and drafted, and the time from
    the step that picked its first token (the opener's) to the call's hand-off."""

    blocks: int = 0
    sampled: int = 0
    forced: int = 0
    drafted: int = 0
    ms: float = 0.0
    _open: list[float] | None = None  # [start, sampled, forced, drafted] of the open block

    def token(
        self, count: int, *, kind: Taken, in_block: bool, closed_call: bool, started: float
    ) -> None:
        """``count`` tokens were taken (one sampled or drafted, or a forced
        run), after which the parser is ``in_block`` and a call block closed
        or not; ``started``: when their decode step began."""
        if self._open is None and (in_block or closed_call):
            self._open = [started, 0, 0, 0]
        if self._open is not None:
            self._open[{SAMPLED: 1, FORCED: 2, DRAFTED: 3}[kind]] += count
        if closed_call and self._open is not None:
            self._close(started)
        if not in_block:
            self._open = None

    def _close(self, started: float) -> None:
        start, sampled, forced, drafted = self._open or (started, 0, 0, 0)
        self.blocks += 1
        self.sampled += int(sampled)
        self.forced += int(forced)
        self.drafted += int(drafted)
        self.ms += (time.perf_counter() - start) * 1000
        self._open = None


def jump_forward_on(setting: bool | None, *, mask: bool, has_logits: bool) -> bool:
    """Whether a turn jumps forward: as set, else wherever calls are
    constrained (``mask``) or cannot be (a server: the grammar then only
    follows the model's text)."""
    if setting is not None:
        return setting
    return mask or not has_logits
