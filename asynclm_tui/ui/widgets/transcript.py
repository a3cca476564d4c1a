"""The conversation: user messages, streamed Markdown answers and CML chips.

Each assistant turn streams its visible text into
:class:`~asynclm_tui.ui.streaming.stream_markdown.StreamingMarkdown` segments,
written a few times a second.  CML blocks become compact chips, splitting the
answer into Markdown segments.  A chip for something that landed in the
model's context from outside (a result, an error, your message) is drawn at
the end of the sentence or line it landed in, so a person reads whole
sentences; the model's own blocks (calls) are drawn where it wrote them, at
least after the word (the rule is :func:`~asynclm_tui.core.api.chips.boundary`,
which ``asynclm run`` follows too).  The raw CML text of the same turn is
kept alongside, exact to the token, and shown instead when raw mode is on
(the timeline, the JSON and the saved chat keep the exact place too).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rich.text import Text
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import ProgressBar, Static

from asynclm_tui.core.api.chips import boundary, chip_line, ends_here, waits_for_sentence
from asynclm_tui.core.cml.syntax import MARKERS
from asynclm_tui.ui.streaming.stream_markdown import StreamingMarkdown
from asynclm_tui.ui.textual_internals import LayoutOnce, StableGutterScroll
from asynclm_tui.ui.widgets.keep_place import KeepsPlace


def highlight_cml(raw: str) -> Text:
    """Raw CML with its markers emphasised (styles come from CSS classes)."""
    text = Text(raw)
    for marker in MARKERS:
        start = raw.find(marker)
        while start != -1:
            text.stylize("bold reverse", start, start + len(marker))
            start = raw.find(marker, start + len(marker))
    return text


class Chip(Static):
    """A one-line marker for a CML block (call, result, trap, user interrupt)."""

    def __init__(self, kind: str, text: str, *, chip_id: str | None = None) -> None:
        super().__init__(chip_line(kind, text), classes=f"chip chip-{kind}", markup=False)
        self.kind = kind
        self.chip_id = chip_id
        """The call id this chip belongs to, so a later event can update it."""
        self.pending = ""
        """For trap chips: the ids being waited for."""

    def set_text(self, kind: str, text: str) -> None:
        """Change the chip's kind and label (e.g. a trap that has resumed)."""
        self.remove_class(f"chip-{self.kind}")
        self.kind = kind
        self.add_class(f"chip-{kind}")
        self.update(Text(chip_line(kind, text)))


class UserEntry(Static):
    """A message the user sent to start a turn."""

    def __init__(self, text: str) -> None:
        super().__init__(Text(text), classes="user-entry")
        self.border_title = "you"


class ResultTurnEntry(Static):
    """Where a turn was started by results rather than a message of the
    user's: one line naming the calls and how long they took."""

    def __init__(self, text: str) -> None:
        super().__init__(Text(text), classes="result-turn")


class NoticeEntry(Static):
    """A line from the app itself (errors, model ready, new chat)."""

    def __init__(self, text: str, kind: str = "info") -> None:
        super().__init__(Text(text), classes=f"notice notice-{kind}")


class WelcomeEntry(Vertical):
    """The model-ready notice, with a one-line form for short terminals."""

    def __init__(self, text: str, short: str) -> None:
        super().__init__(
            Static(Text(text), classes="long"),
            Static(Text(short), classes="short"),
            classes="notice notice-ready",
        )


class LoadingEntry(Vertical):
    """Model load progress, replaced once the model is ready."""

    def __init__(self, label: str) -> None:
        super().__init__(classes="loading-entry")
        self._label = label

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(Text(f"Loading {self._label} …"), classes="loading-label")
        yield ProgressBar(total=100, show_eta=False, id="load-progress")

    def set_progress(self, fraction: float) -> None:
        """Show ``fraction`` (0..1) of the model loaded."""
        self.query_one(ProgressBar).update(progress=round(fraction * 100, 1))


class AssistantEntry(Vertical, LayoutOnce):
    """One assistant turn: Markdown segments and chips, plus its raw CML.

    Segments and chips are the entry's own children (no container between):
    every widget that covers the growing answer is drawn again each time the
    transcript scrolls by a line.
    """

    def __init__(self, turn: int, *, raw: bool = False) -> None:
        super().__init__(classes="assistant-entry")
        self.turn = turn
        self.border_title = f"assistant · turn {turn}"
        self._raw_parts: list[str] = []
        self._raw_dirty = False
        self._buffer: list[str] = []
        self._text: list[str] = []
        """Every piece of visible text, as streamed: segments drop the blank
        space around chips, a copy of the answer must not."""
        self.shown = 0
        """Characters of visible answer text handed to the Markdown so far."""
        self._lock = asyncio.Lock()
        # The first segment is mounted with the entry, while the prompt is
        # read: mounting it at the first token costs a render's worth of CSS
        # and layout, taken from decoding.
        self._segment: StreamingMarkdown | None = self._new_segment()
        self._parts: list[Widget] = [self._segment]
        """Segments and chips added before the entry is mounted (a saved turn
        built off screen): mounted with it, in one go."""
        self._raw_mode = raw
        self._chips: dict[str, Chip] = {}
        self._held: list[Chip] = []
        """Chips waiting for the word or sentence they landed in to end."""
        self._held_chars = 0
        """Answer text written since the first held chip."""
        self._tail = " "
        """The last characters of answer text handed to the Markdown."""
        self._done = False
        """The answer ended: no word is left to wait for."""
        self._raw = Static("", classes="raw", markup=False)

    def compose(self):  # type: ignore[no-untyped-def]
        yield from self._parts
        yield self._raw

    def on_mount(self) -> None:
        """Apply the initial raw/rendered choice."""
        self.set_raw(self._raw_mode)

    @property
    def done(self) -> bool:
        """The answer ended (:meth:`finish` was called)."""
        return self._done

    @property
    def raw_text(self) -> str:
        """Everything the model's context received this turn, CML included."""
        return "".join(self._raw_parts)

    @property
    def markdown(self) -> str:
        """The answer as Markdown: the text around the chips, without them."""
        return "".join(self._text).strip()

    def set_raw(self, raw: bool) -> None:
        """Show the raw CML (True) or the rendered Markdown and chips."""
        self._raw_mode = raw
        self.border_title = f"assistant · turn {self.turn}" + (" · raw CML" if raw else "")
        for part in self.children:
            part.display = (part is self._raw) == raw
        if raw:
            self._raw.update(highlight_cml(self.raw_text))
            self._raw_dirty = False

    def add_raw(self, text: str) -> None:
        """Record raw context text (tokens and interrupt blocks); shown on flush."""
        if text:
            self._raw_parts.append(text)
            self._raw_dirty = True

    def add_text(self, visible: str) -> None:
        """Buffer visible text; :meth:`flush` streams it into the Markdown."""
        if visible:
            self._buffer.append(visible)

    async def flush(self) -> None:
        """Write buffered text to the current Markdown segment (and raw view).

        Called a few times a second rather than per token: rendering per token
        would steal CPU from decoding.
        """
        # The screen's flush timer and the app's event handler run as
        # different tasks; the lock keeps segments and chips in order.
        async with self._lock:
            await self._flush_unlocked()

    async def _flush_unlocked(self) -> None:
        if self._raw_mode and self._raw_dirty:
            self._raw.update(highlight_cml(self.raw_text))
        self._raw_dirty = False
        if not self._buffer:
            return
        visible = "".join(self._buffer)
        self._buffer.clear()
        self._text.append(visible)
        if self._held:
            end = self._boundary(visible)
            if end == -1:
                await self._write(visible)  # the word or sentence goes on
                self._held_chars += len(visible)
                return
            await self._write(visible[:end])
            await self._mount_held()
            visible = visible[end:]
        await self._write(visible)

    def _boundary(self, text: str) -> int:
        """Where in ``text`` the held chips go (-1: not in it)."""
        return boundary(self._tail, text, (c.kind for c in self._held), self._held_chars)

    async def _write(self, visible: str) -> None:
        if not visible:
            return
        if self._segment is None:
            if not visible.strip():
                return  # no empty paragraph between two chips
            self._segment = self._new_segment()
            await self._mount_part(self._segment)
        if not self._segment.source:
            visible = visible.lstrip("\n")
        self._segment.append(visible)
        self.shown += len(visible)
        self._tail = (self._tail + visible)[-8:]

    async def _mount_held(self) -> None:
        """End the current segment and mount the chips waiting for a word's end."""
        self._segment = None
        self._tail = "\n"  # a chip ends a line: the next chip goes right after it
        self._held_chars = 0
        held, self._held = self._held, []
        for chip in held:
            await self._mount_part(chip)

    async def _mount_part(self, part: Widget) -> None:
        """Add a segment or chip after the others (hidden in raw mode)."""
        part.display = not self._raw_mode
        if self.is_attached:
            await self.mount(part, before=self._raw)
        else:
            self._parts.append(part)

    def _new_segment(self) -> StreamingMarkdown:
        return StreamingMarkdown(classes="segment")

    async def add_chip(
        self, kind: str, text: str, chip_id: str | None = None, *, now: bool = False
    ) -> Chip:
        """Add a chip after the text so far, ending the current Markdown segment.

        Results (and errors, and your messages) land between tokens, often in
        the middle of a sentence: such a chip is held until the sentence or
        the line ends, so ``Let`` / ``↩ clock1 → …`` / ``me look that up.``
        reads ``Let me look that up.`` and then the chip.  Other chips wait at
        most for the word's end (never ``Wait`` / ``ing.``).  ``now`` places
        it at once, for a chip the reader must see while no text follows (a
        trap).
        """
        chip = Chip(kind, text, chip_id=chip_id)
        if chip_id is not None:
            self._chips[f"{kind}:{chip_id}"] = chip
        async with self._lock:
            await self._flush_unlocked()
            self._held.append(chip)
            sentence = waits_for_sentence((c.kind for c in self._held), self._held_chars)
            # Before the answer's first word there is no sentence to keep whole
            # (a result that started the turn, one kept from a stopped answer).
            if now or self._done or not self.shown or ends_here(self._tail, "", sentence):
                await self._mount_held()
        return chip

    def chip(self, kind: str, chip_id: str) -> Chip | None:
        """A chip added earlier with ``chip_id`` (e.g. the open trap)."""
        return self._chips.get(f"{kind}:{chip_id}")

    def resume_trap(self, label: str, still_running: Callable[[str], list[str]]) -> None:
        """Turn the open trap chip ("waiting for ...") into "waited ... for ...",
        or, when something else ended the wait (a message you sent), say which
        calls are still running."""
        chip = self._chips.pop("trap:open", None)
        if chip is not None:
            running = still_running(chip.pending)
            if running:
                chip.set_text("trap", f"{label}; {', '.join(running)} still running")
            else:
                chip.set_text("trap", f"{label} for {chip.pending}")

    async def finish(self) -> None:
        """Stop streaming; the text stays, held chips are placed at its end."""
        async with self._lock:
            await self._flush_unlocked()
            await self._mount_held()
            self._done = True


class Staging:
    """Entries of older saved turns, built off screen and then mounted above
    the turns already shown (see :mod:`asynclm_tui.ui.replay`).  It takes what
    the chat screen draws, as the transcript does."""

    def __init__(self) -> None:
        self.widgets: list[Widget] = []
        self.current: AssistantEntry | None = None

    async def mount(self, widget: Widget) -> None:
        """Add ``widget`` after the others."""
        self.widgets.append(widget)

    async def add_turn(self, entry: AssistantEntry) -> None:
        """Add an assistant turn and make it current."""
        self.widgets.append(entry)
        self.current = entry


class Transcript(StableGutterScroll, KeepsPlace):
    """The scrolling conversation, pinned to the bottom while streaming.

    It keeps its scrollbar's column (``scrollbar-gutter: stable`` in
    chat.tcss), so a growing answer costs one layout pass.
    """

    def __init__(self, **kwargs: str) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.current: AssistantEntry | None = None
        """The latest assistant turn (cached: a DOM query per token is costly)."""

    def on_mount(self) -> None:
        """Follow new output until the user scrolls up."""
        self.anchor()

    async def add_turn(self, entry: AssistantEntry) -> None:
        """Append a new assistant turn and make it current."""
        await self.mount(entry)
        self.current = entry

    async def clear(self) -> None:
        """Remove everything (new chat)."""
        self.current = None
        await self.remove_children()

    def set_raw(self, raw: bool) -> None:
        """Switch every turn between raw CML and rendered chips."""
        for entry in self.query(AssistantEntry):
            entry.set_raw(raw)
