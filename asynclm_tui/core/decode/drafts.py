"""Drafted call text: guesses the model checks in one decode call.

Jump-forward appends only what the call grammar forces.  Much of the rest of
a call block is predictable without being forced: ``ALL]`` after ``[C``, the
tool an id like ``calc1`` names, the next parameter's name, an argument the
user's message spells out (``San`` ... `` Francisco``).  The engine appends
such a guess with the step's own tokens, keeping the logits after each of
them (:class:`~asynclm_tui.core.backends.base.Verifying`), and then samples at
each position in turn, exactly as if it had stepped: a drafted token is kept
only while the sampled token equals it, and the first sampled token that
differs is the model's next token (it costs no step of its own).  What the
model writes is therefore what it would have written without drafts, with
the same distribution (sample-and-compare verification); a wrong guess costs
only the extra positions of one batch.

Drafts stay inside a block (a marker being written counts), stop before the
token that would close it, and keep the grammar viable, so an interrupt still
goes in only between blocks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from asynclm_tui.core.backends.base import Pieces
from asynclm_tui.core.cml.constrain import BlockGrammar, ToolShape
from asynclm_tui.core.cml.syntax import CALL, END, HEAD, TRAP
from asynclm_tui.core.decode.jump_forward import JumpForward, exact_tokens

LENGTHS: dict[str, int] = {"opener": 6, "id": 6, "tool": 6, "param": 3, "lookup": 1, "": 0}
"""Most tokens drafted per kind of guess.  On a CPU each token past the first
in a decode call costs about 0.4 of a step, so a guess is kept short where
it is often wrong past its start: an argument copied from the request runs
on past where the model ends it.  Chosen by replaying the BFCL sets' call
blocks through the drafter (docs/benchmarks.md)."""
MAX_DRAFT = max(LENGTHS.values())
"""Most tokens a draft holds: a wrong guess costs its positions in the batch."""
_MIN_LOOKUP = 3
"""Characters of an argument needed before it is looked up in the request."""
_LOOKUP_CHARS = 40
_OPENERS = (CALL, TRAP + END)
_HEADED = re.compile(r"\s*(\S+?)\s*" + re.escape(HEAD) + r"( ?)(\w*)$")
_ID_COUNTER = re.compile(r"_?\d+$")
_ARGUMENT_END = re.compile(r"[\n'\"?!;,()\[\]]")


@dataclass(frozen=True)
class Draft:
    """One drafted token; ``forced`` when the grammar leaves no choice once
    the drafted tokens before it are kept (it needs no check)."""

    token: int
    forced: bool = False


class Drafter:
    """Makes the drafts of one turn."""

    def __init__(self, backend: Pieces, shapes: Mapping[str, ToolShape], jump: JumpForward) -> None:
        self.backend = backend
        self.shapes = shapes
        self.jump = jump

    def draft(
        self, kind: str | None, tail: str, grammar: BlockGrammar | None, source: str, limit: int
    ) -> list[Draft]:
        """Tokens to check after what is written: ``kind`` and ``tail`` are the
        parser's open block and its text so far, ``grammar`` its call grammar
        (None outside a call block or when it is not followed), ``source`` the
        text arguments may be copied from (the request, the answer so far)."""
        if limit <= 0:
            return []
        if kind is None:
            return self._opener(tail, limit)
        if grammar is None or kind != CALL:
            return []
        text, source_kind = self._guess(tail, grammar, source)
        return self._walk(text, grammar, min(limit, LENGTHS[source_kind])) if text else []

    def _opener(self, pending: str, limit: int) -> list[Draft]:
        """The rest of a marker being written (``[`` is most often a call)."""
        for marker in _OPENERS:
            if pending and marker.startswith(pending) and marker != pending:
                rest = marker[len(pending) :]
                tokens = exact_tokens(self.backend, rest)
                if marker != CALL:
                    tokens.pop()  # a trap: stop before the token that closes it
                return [Draft(t) for t in tokens[: min(limit, LENGTHS["opener"])]]
        return []

    def _guess(self, tail: str, grammar: BlockGrammar, source: str) -> tuple[str, str]:
        """The guessed text and where it comes from (a key of :data:`LENGTHS`)."""
        state = grammar.state
        match state.mode:
            case "ident" if state.word:
                return self._id_end(state.word, source), "id"
            case "post_head1" | "name":
                return self._tool_from_id(tail), "tool"
            case "args":
                return self._next_param(grammar, ""), "param"
            case "comma":
                return self._next_param(grammar, " "), "param"
            case "string":
                return _lookup(_literal(tail, state.quote), source), "lookup"
        return "", ""

    def _id_end(self, word: str, source: str) -> str:
        """The end of an id and what follows: ``calc`` -> ``1 [HEAD] calc(``
        (the counter one past the calls of that tool in the answer so far),
        ``calc1`` or ``c3`` -> `` [HEAD] calc(`` / `` [HEAD] ``."""
        if word[-1].isdigit():
            stem = _ID_COUNTER.sub("", word)
            return f" {HEAD}" + (f" {stem}(" if stem in self.shapes else "")
        if word not in self.shapes:
            return ""
        seen = source.count(f"{CALL} {word}") - 1  # the call being written is one
        return f"{seen + 1} {HEAD} {word}("

    def _tool_from_id(self, tail: str) -> str:
        """The tool an id names (``calc1``, ``get_weather_2``), and ``(``."""
        m = _HEADED.match(tail)
        if m is None:
            return ""
        stem, written = _ID_COUNTER.sub("", m[1]), m[3]
        if stem not in self.shapes or not stem.startswith(written) or stem == written:
            return ""
        return ("" if m[2] else " ") + stem[len(written) :] + "("

    def _next_param(self, grammar: BlockGrammar, lead: str) -> str:
        """The next parameter not given yet, required first."""
        state = grammar.state
        shape = self.shapes.get(state.name)
        if shape is None:
            return ""
        free = [p for p in shape.params if p not in state.used]
        if not free:
            return ""
        required = [p for p in free if p in shape.required]
        # Not "=": the model writes it fused with what follows (``='``), and
        # the grammar forces it anyway.
        return lead + (required or free)[0]

    def _walk(self, text: str, grammar: BlockGrammar, limit: int) -> list[Draft]:
        """``text``'s tokens while the grammar stays viable and the block
        open, with the runs the grammar forces between them marked."""
        trial = grammar.clone()
        out: list[Draft] = []
        while text and len(out) < limit:
            tokens = exact_tokens(self.backend, text)
            if not tokens:
                break
            token = tokens[0]
            piece = self._text(token)
            if not trial.feed(piece) or trial.done:
                break
            text = text[len(piece) :]
            forced = self.jump.tokens(trial)
            run = "".join(self._text(f) for f in forced)
            if forced and (not trial.feed(run) or trial.done):
                break  # the run closes the block: the token is sampled, then jumped over
            out.append(Draft(token))
            out.extend(Draft(f, forced=True) for f in forced)
            if run:
                if not text.startswith(run):
                    break  # the guess went another way than the grammar must
                text = text[len(run) :]
        return out[:limit]

    def _text(self, token: int) -> str:
        return self.backend.piece(token).decode("utf-8", errors="replace")


def _literal(tail: str, quote: str) -> str:
    """The string argument being written: the text after its opening quote."""
    at = tail.rfind(quote) if quote else -1
    return tail[at + 1 :] if at >= 0 else ""


def _lookup(written: str, source: str) -> str:
    """What follows ``written`` where the request (or the answer) has it."""
    if len(written) < _MIN_LOOKUP:
        return ""
    # Not the argument itself, which ends the source.
    at = source.rfind(written, 0, len(source) - len(written))
    if at < 0:
        return ""
    rest = source[at + len(written) : at + len(written) + _LOOKUP_CHARS]
    # Up to punctuation that most often ends an argument (a comma inside one
    # costs a step, and the next lookup goes on after it).
    return _ARGUMENT_END.split(rest, maxsplit=1)[0]
