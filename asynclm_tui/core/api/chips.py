"""One line for each thing in an answer that is not its prose: a call the
model made, a result or error that landed, a message you sent mid-answer, a
pause.  The chat draws these lines as chips; ``asynclm run`` prints them, so
both word a call and a result the same way.

Where a chip goes is decided here too (:func:`boundary`): what landed from
outside (a result, an error, your message) waits for the end of the sentence
or line it landed in, so a person reads whole sentences; the model's own
blocks wait at most for the word's end.

The wording here is plain text; shortening a value to fit a width is left to
the caller (a terminal cell count needs Rich, which core does not import).
"""

from __future__ import annotations

from collections.abc import Iterable

from asynclm_tui.core.api.enums import CallStatus, PauseReason
from asynclm_tui.core.api.events import CallIssued

CHIP_ICONS = {
    "call": "⚙",
    "result": "↩",
    "error": "✗",
    "trap": "⏸",
    "user": "✉",
    "stop": "■",
    "info": "•",
}
"""The icon that starts each kind of line."""

WAIT_WORDS = {
    PauseReason.TRAP: "waiting",
    PauseReason.EOS: "finished writing; waiting",
    PauseReason.SYNC: "sync mode: waiting",
}
"""How a pause's line starts, by its reason: ``waiting for clock1 …``."""

ENDED_VERBS = {
    CallStatus.DONE: "finished",
    CallStatus.FAILED: "failed",
    CallStatus.CANCELLED: "was cancelled",
    CallStatus.TIMED_OUT: "timed out",
    CallStatus.DENIED: "was denied",
}
"""How a call ended, in words: ``sleep c3 finished after 20.10 s``."""

VALUE_CELLS = 80
"""A result's value is cut to about this many cells in its line."""


def fmt_seconds(ms: float) -> str:
    """Milliseconds as a compact duration: ``840 ms``, ``1.51 s``, ``2m 05s``."""
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(int(ms / 1000), 60)
    return f"{minutes}m {seconds:02d}s"


def chip_line(kind: str, text: str) -> str:
    """``text`` after the icon of ``kind`` (``•`` for an unknown kind)."""
    return f"{CHIP_ICONS.get(kind, '•')} {text}"


def call_text(event: CallIssued) -> str:
    """``clock1 = clock(tz='Asia/Tokyo')``, or the bare call and a note when
    the model asked for no result."""
    if event.wants_result:
        return f"{event.id} = {event.fn}({event.signature()})"
    return f"{event.fn}({event.signature()})  (no result wanted)"


def flat(value: str) -> str:
    """``value`` on one line: runs of whitespace (line breaks too) as one space."""
    return " ".join(value.split())


def result_text(
    call_id: str,
    value: str,
    *,
    took_ms: float | None = None,
    result_tokens: int = 0,
    cut_tokens: int = 0,
) -> str:
    """``clock1 → 15:07 · took 120 ms``: what landed for ``call_id``.

    ``value`` is written as given (pass it through :func:`flat` and cut it
    first); ``took_ms`` is the call's own run time (None: it never ran, or
    this is not its result); ``cut_tokens`` of ``result_tokens`` were kept
    from the model by the result's token budget."""
    took = f" · took {fmt_seconds(took_ms)}" if took_ms is not None else ""
    cut = (
        f" · model saw {result_tokens - cut_tokens:,} of {result_tokens:,} tokens"
        if cut_tokens
        else ""
    )
    return f"{call_id} → {value}{took}{cut}"


LANDED_KINDS = frozenset({"result", "error", "user"})
"""Chips for what landed between tokens: held to the end of the sentence."""
SENTENCE_ENDS = (".", "!", "?", ":", ";", "…")
CLOSERS = "\"')]}*_`”’"
"""Characters that may follow a sentence's full stop (quotes, emphasis)."""
MAX_HOLD_CHARS = 200
"""A sentence that has not ended after this many characters lets its chips in
at the next word's end: a chip must not drift far from where it landed."""


def waits_for_sentence(kinds: Iterable[str], written: int) -> bool:
    """Whether held chips of ``kinds`` wait for a sentence's end (not just a
    word's), ``written`` characters after the first of them was held."""
    return written < MAX_HOLD_CHARS and any(kind in LANDED_KINDS for kind in kinds)


def ends_here(before: str, after: str, sentence: bool) -> bool:
    """Whether held chips go between ``before`` (the text so far) and
    ``after`` (its next character; '' when none has come yet); ``sentence``:
    they wait for a sentence's end, not just a word's."""
    if not after:  # the chip landed right here
        if not before or before[-1] == "\n":
            return True
        if sentence:
            return before.rstrip(CLOSERS).endswith(SENTENCE_ENDS)
        return not before[-1].isalnum()
    if after == "\n":
        return True
    if not after.isspace():
        return False
    return not sentence or before.rstrip(CLOSERS).endswith(SENTENCE_ENDS)


def boundary(tail: str, text: str, kinds: Iterable[str], written: int) -> int:
    """Where in ``text`` (which follows ``tail``) held chips of ``kinds`` go,
    ``written`` characters after the first was held; -1: not in it."""
    kinds = tuple(kinds)
    for i, ch in enumerate(text):
        if ch.isspace() and ends_here(tail + text[:i], ch, waits_for_sentence(kinds, written + i)):
            return i
    return -1
