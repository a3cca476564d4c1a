"""``asynclm run``'s default output: the answer as text for a person to read.

The model's prose is written as it streams; each call it makes, and each
result, error or message that lands in its context, is one short line of its
own, worded as the chat's chips (:mod:`asynclm_tui.core.api.chips`), and the
prose goes on below it.  No CML reaches the terminal (``--raw`` prints it),
and every character written passes :func:`~asynclm_tui.core.api.display.visible`,
so no escape sequence from the model or a tool reaches the terminal either.

The raw tokens are parsed again with the engine's incremental CML parser, one
character at a time: a token that closes a call and starts the next sentence
(``].``, ``] Then``) puts the call's line between the two, and prose is held
back only while it may be the start of a marker (``Let me [CA``).
"""

from __future__ import annotations

from typing import TextIO

from rich.cells import cell_len, chop_cells

from asynclm_tui.core.api.chips import (
    ENDED_VERBS,
    VALUE_CELLS,
    WAIT_WORDS,
    boundary,
    call_text,
    chip_line,
    ends_here,
    flat,
    fmt_seconds,
    result_text,
    waits_for_sentence,
)
from asynclm_tui.core.api.delivery import ResultHeld
from asynclm_tui.core.api.display import visible
from asynclm_tui.core.api.enums import CallStatus, DeliverIdle, InterruptKind
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    Event,
    Interrupt,
    Token,
    Trapped,
    TurnDone,
    TurnFailed,
    TurnStarted,
    UserMessage,
)
from asynclm_tui.core.cml.syntax import CallBlock, CMLParser

DIM, PLAIN = "\x1b[2m", "\x1b[0m"
"""Lines are dimmed on a terminal, so the prose stands out."""


def clip(text: str, cells: int) -> str:
    """``text`` cut to ``cells`` terminal cells, ending in ``…`` when cut."""
    if cell_len(text) <= cells:
        return text
    return chop_cells(text, max(1, cells - 1))[0] + "…"


ATTACHED = ".,;:!?…)]}\"'”’"
"""Characters that, right after a call's block, end the sentence before it
(``Let me check [CALL] … [END].``): written before the call's line."""


class AnswerText:
    """Writes one run's events to ``out`` as prose and one-line chips.

    ``color`` dims the chips (for a terminal).  Feed it every event, in order;
    events it has nothing to say about are ignored.

    A call's line waits for the next character of prose (punctuation that
    ends the sentence goes before the line) or for the next thing that is
    not prose; blank space at the end of the prose waits for more prose, so
    no line ends in spaces before a chip.  Nothing visible is held back.
    """

    def __init__(self, out: TextIO, *, color: bool = False) -> None:
        self._out = out
        self._color = color
        self._parser = CMLParser()
        self._line_start = True
        """The output so far ends with a line break (or nothing was written)."""
        self._fresh = True
        """A chip (or the answer's start) came last: the prose's leading
        blank space is dropped, so it resumes at the line's start."""
        self._space = ""
        """Blank space at the end of the prose, written when more prose follows."""
        self._slots = 0
        """Call blocks closed whose ``call`` event has not come yet."""
        self._after: list[str] = []
        """Prose that followed such a block in the same token."""
        self._held_call = ""
        """A call's line, waiting for the next prose."""
        self._held: list[tuple[str, str]] = []
        """Lines (kind, text) of what landed mid-sentence, waiting for its end."""
        self._held_chars = 0
        """Prose written since the first of them landed."""
        self._tail = ""
        """The end of the prose written so far (a line break after a chip)."""
        self._ran: set[str] = set()
        """Calls that started running."""
        self._took: dict[str, float] = {}
        """Run time of each call that ran and ended."""
        self._failed: set[str] = set()
        """Calls that ended without a result (failed, refused, cancelled)."""
        self._issued: dict[str, tuple[str, float]] = {}
        """Each call's tool and when it was issued."""
        self._ended: dict[str, CallFinished] = {}
        """How each call that ended ended."""

    def write(self, event: Event) -> None:
        """Write what ``event`` adds to the answer."""
        match event:
            case Token():
                self._take(event.text)
            case CallIssued():
                self._issued[event.id] = (event.fn, event.t)
                self._place_held()
                self._place_call()
                self._held_call = call_text(event)
                if self._slots:
                    self._slots -= 1
                    if not self._slots:
                        self._release()
            case CallUpdated(status=CallStatus.RUNNING):
                self._ran.add(event.id)
            case CallFinished():
                self._ended[event.id] = event
                if event.id in self._ran or event.status in (CallStatus.DONE, CallStatus.TIMED_OUT):
                    self._took[event.id] = event.ms
                if not event.ok:
                    self._failed.add(event.id)
            case Interrupt() if event.kind == InterruptKind.BACKGROUND:
                self._land("info", f"{event.id} {flat(event.value)}")
            case Interrupt() if event.kind is not InterruptKind.USER:
                self._landed(event)
            case ResultHeld() if event.deliver_idle is not DeliverIdle.ANSWER:
                self._land("info", self._held_text(event))
            case UserMessage():
                self._land("user", f"you, mid-answer: {flat(event.text)}")
            case Trapped():
                self._settle()
                self._place_held()
                what = ", ".join(event.pending) or "results"
                self._chip("trap", f"{WAIT_WORDS.get(event.reason, 'waiting')} for {what} …")
            case TurnStarted():
                self._settle()
                self._place_held()
                self._parser = CMLParser()
                self.end_line()
                self._fresh = True
                if event.started_by:
                    self._chip("info", self._started_text(event.started_by, event.t))
            case TurnDone() | TurnFailed():
                text, _ = self._parser.flush()
                self._text(text)
                self._settle()
                self._place_held()
                self.end_line()
        self._out.flush()

    def end_line(self) -> None:
        """End the current line, if the output is in the middle of one."""
        self._space = ""
        if not self._line_start:
            self._out.write("\n")
            self._line_start = True

    def _take(self, text: str) -> None:
        """Parse a token's text: prose out, calls' places found."""
        for ch in text:
            shown, blocks = self._parser.feed(ch)
            self._text(shown)
            self._slots += sum(isinstance(b, CallBlock) for b in blocks)

    def _text(self, text: str) -> None:
        if self._slots:
            self._after.append(text)  # after a call whose line has not come
        else:
            self._prose(text)

    def _release(self) -> None:
        """The prose that waited for a call's line follows it."""
        self._slots = 0
        after, self._after = "".join(self._after), []
        self._prose(after)

    def _settle(self) -> None:
        """Something other than prose comes: what waited goes out first (a
        block the engine refused, an id from an earlier turn, has no line)."""
        self._release()
        self._place_call()

    def _place_call(self) -> None:
        if self._held_call:
            self._chip("call", self._held_call)
            self._held_call = ""

    def _prose(self, text: str) -> None:
        if self._held_call:
            rest = text.lstrip(ATTACHED)
            ends = text[: len(text) - len(rest)]
            if ends:
                self._space = ""  # "check [CALL] … [END]." reads "check."
                self._emit(ends)
            if not rest:
                return  # more of the sentence's end may follow
            self._place_call()
            text = rest
        if self._held:
            end = boundary(self._tail, text, (k for k, _ in self._held), self._held_chars)
            if end == -1:
                self._held_chars += len(text)  # the sentence goes on
            else:
                self._resume(text[:end])
                self._place_held()
                text = text[end:]
        self._resume(text)

    def _resume(self, text: str) -> None:
        if self._fresh:
            text = text.lstrip()
            if not text:
                return
            self._fresh = False
        self._emit(text)

    def _emit(self, text: str) -> None:
        self._tail = (self._tail + text)[-8:]
        body = text.rstrip()
        if not body:
            self._space += text
            return
        self._out.write(visible(self._space + body))
        self._space = text[len(body) :]
        self._line_start = False

    def _started_text(self, ids: tuple[str, ...], t: float) -> str:
        """``a new turn, started by sleep c3 (finished after 2.10 s)``."""
        parts = []
        for call_id in ids:
            fn, issued = self._issued.get(call_id, ("", t))
            end = self._ended.get(call_id)
            took = fmt_seconds(max(0.0, (end.t if end is not None else t) - issued) * 1000)
            verb = ENDED_VERBS.get(end.status, "ended") if end is not None else "ended"
            parts.append(f"{fn} {call_id} ({verb} after {took})" if fn else call_id)
        return f"a new turn, started by {', '.join(parts)}"

    def _held_text(self, event: ResultHeld) -> str:
        """A result held for a message no run sends: shown, said so."""
        end = self._ended.get(event.id)
        value = clip(flat(end.value), VALUE_CELLS) if end is not None else "(no value)"
        took = self._took.get(event.id)
        text = result_text(event.id, value, took_ms=took)
        return f"{text} · held for the next turn ({event.deliver_idle})"

    def _landed(self, event: Interrupt) -> None:
        tool = event.kind is InterruptKind.TOOL
        # An ERROR interrupt is about a block (a reused id), not this call's result.
        took = self._took.get(event.id) if tool else None
        ok = tool and event.id not in self._failed
        text = result_text(
            event.id,
            clip(flat(event.value), VALUE_CELLS),
            took_ms=took,
            result_tokens=event.result_tokens,
            cut_tokens=event.cut_tokens,
        )
        self._land("result" if ok else "error", text)

    def _land(self, kind: str, text: str) -> None:
        """A line for what landed: now, or at the end of its sentence."""
        self._settle()
        self._held.append((kind, text))
        sentence = waits_for_sentence((k for k, _ in self._held), self._held_chars)
        if ends_here(self._tail, "", sentence):
            self._place_held()

    def _place_held(self) -> None:
        held, self._held, self._held_chars = self._held, [], 0
        for kind, text in held:
            self._chip(kind, text)

    def _chip(self, kind: str, text: str) -> None:
        self.end_line()
        line = visible(chip_line(kind, text))
        self._out.write(f"{DIM}{line}{PLAIN}\n" if self._color else f"{line}\n")
        self._fresh = True
        self._tail = "\n"
