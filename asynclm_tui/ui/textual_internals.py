"""Every private Textual name the UI relies on, in one place.

Textual is pinned exactly (pyproject.toml) because a few costs of streaming
could only be removed below its public API.  Everything that overrides,
calls or reads a private Textual name lives in this module, and
:data:`INTERNALS` lists each one with its signature in the pinned release
(the source of the method :class:`LayoutOnce` re-implements is recorded in
``tests/ui/textual_sources/``).
``tests/ui/test_textual_internals.py`` fails, saying what changed, when
another Textual changes any of them, and fails when code elsewhere in
``asynclm_tui`` overrides or uses a private Textual name.

Why each override exists:

- :class:`LayoutOnce`: two costs of Textual's handling of a widget whose size
  a layout pass changed, both paid on every streamed update that adds lines.
  It sets the widget's ``virtual_size``, a reactive that requests a second
  full layout pass; for widgets sized by their parent's layout (not scroll
  views that size their own content) that pass changes nothing, and anchored
  scrolling does not need it (the compositor moves an anchored container to
  its end during the first pass).  And it marks the whole widget dirty, so
  every visible line of the answer and of its bordered container is rendered
  again, although growing at the bottom at the same width changes only the
  bottom lines.  Together that was about half of a render's CPU time, taken
  from decoding when every core decodes.
- :class:`StableGutterScroll`: the same second layout pass for a scroll view
  whose virtual size grows with every render.
- :class:`KeysBeforeBindings`: keys a text area acts on before the app's
  bindings see them (see its docstring).
- :func:`follows_end`: whether an anchored scroll view still keeps to its end
  (the reader has not scrolled away).  Textual keeps no public flag for it,
  and the scroll position alone says "not at the end" for a moment after
  every growth, until the compositor moves the view.
- :func:`is_batching`: whether the app is inside a batch update, where
  frames are not sent to the terminal; the app's mount runs in one, so a
  refresh during it is not the first frame the user sees.
- :func:`is_exiting`: whether :meth:`App.exit` has been called (the app keeps
  no public flag for it).
- :class:`StdinEOFDriver`: Textual's Linux input thread selects on stdin with
  a 0.1 s timeout and reads what is ready.  At end of file (``asynclm chat <
  /dev/null``, a closed pipe) stdin is always ready and every read returns
  nothing, so the thread spins, holding the GIL the decode thread needs
  between llama.cpp calls: decoding ran at a quarter of its speed.  This
  driver's thread stops reading at end of file and waits for the app to
  exit.  It reads terminals too, through :class:`AltEnterParser`.  And it
  resumes application mode on SIGCONT only after its own suspension (Ctrl+Z):
  a terminal's hangup sends SIGHUP then SIGCONT, and Textual's handler, run
  inside the signal, started application mode again in the middle of the
  exit's writes to its output queue; the chat then never exited.
- :class:`AltEnterParser`: tmux (and terminals without the kitty keyboard
  protocol) send Alt+Enter as ESC, CR.  Textual's parser reports that as a
  plain Enter (it drops the Alt of a key it finds in its sequence table),
  so Alt+Enter sent the message instead of adding a line.
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from textual import events
from textual._xterm_parser import XTermParser
from textual.app import App
from textual.containers import VerticalScroll
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import TextArea

from asynclm_tui.ui.paste_guard import PasteGuard

TEXTUAL_VERSION = "8.2.8"
"""The release the entries of :data:`INTERNALS` were recorded from."""


@dataclass(frozen=True)
class Internal:
    """One private Textual name and how we depend on it."""

    owner: type
    name: str
    use: str
    """What our code does with it (and where)."""
    signature: str | None = None
    """``str(inspect.signature(...))`` of a method; None for an attribute."""

    @property
    def qualname(self) -> str:
        """``Owner._name``."""
        return f"{self.owner.__name__}.{self.name}"


INTERNALS: tuple[Internal, ...] = (
    Internal(
        Widget,
        "_size_updated",
        "LayoutOnce re-implements it; StableGutterScroll passes layout=False",
        "(self, size: 'Size', virtual_size: 'Size', container_size: 'Size', "
        "layout: 'bool' = True) -> 'bool'",
    ),
    Internal(
        Widget,
        "_set_dirty",
        "LayoutOnce marks only the lines that moved",
        "(self, *regions: 'Region') -> 'None'",
    ),
    Internal(
        Widget,
        "_scroll_update",
        "LayoutOnce, as Widget._size_updated does",
        "(self, virtual_size: 'Size') -> 'None'",
    ),
    Internal(Widget, "_layout_cache", "LayoutOnce clears it, as Widget._size_updated does"),
    Internal(Widget, "_size", "LayoutOnce reads and sets it, as Widget._size_updated does"),
    Internal(Widget, "_container_size", "LayoutOnce sets it, as Widget._size_updated does"),
    Internal(
        TextArea,
        "_on_key",
        "KeysBeforeBindings overrides it and calls it",
        "(self, event: 'events.Key') -> 'None'",
    ),
    Internal(App, "_exit", "is_exiting reads it"),
    Internal(App, "_batch_count", "is_batching reads it"),
    Internal(Widget, "_anchor_released", "follows_end reads it"),
    Internal(App, "_notifications", "tests read the notifications shown"),
    Internal(
        Screen,
        "_refresh_layout",
        "tests count layout passes by wrapping it",
        "(self, size: 'Size | None' = None, scroll: 'bool' = False) -> 'None'",
    ),
    Internal(
        LinuxDriver,
        "run_input_thread",
        "StdinEOFDriver replaces it (AltEnterParser, end of file)",
        "(self) -> 'None'",
    ),
    Internal(
        XTermParser,
        "__init__",
        "StdinEOFDriver parses stdin with it (textual._xterm_parser)",
        "(self, debug: 'bool' = False) -> 'None'",
    ),
    Internal(Driver, "_debug", "StdinEOFDriver passes it to the parser, as LinuxDriver does"),
    Internal(
        LinuxDriver,
        "_sigtstp_application",
        "StdinEOFDriver overrides it to note a suspension, and calls it",
        "(self, *_) -> 'None'",
    ),
    Internal(
        LinuxDriver,
        "_sigcont_application",
        "StdinEOFDriver overrides it: resume only after its own suspension",
        "(self, *_) -> 'None'",
    ),
    Internal(
        XTermParser,
        "_sequence_to_key_events",
        "AltEnterParser overrides it and calls it",
        "(self, sequence: 'str', alt: 'bool' = False) -> 'Iterable[events.Key]'",
    ),
)


class LayoutOnce(Widget):
    """Mixin for top-aligned widgets that grow or shrink at the bottom: one
    layout pass per change, and a repaint of only the lines that moved.

    List it after a container base (``class Entry(Vertical, LayoutOnce)``):
    Textual takes a widget's CSS type names from its first base only, and
    ``Vertical``'s default CSS must still apply.
    """

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # Widget._size_updated with the two changes the module docstring explains.
        old = self._size
        if old.width != size.width or not old.height or not size.height:
            return super()._size_updated(size, virtual_size, container_size, layout=False)
        self._layout_cache.clear()
        if (
            old == size
            and self.virtual_size == virtual_size
            and self._container_size == container_size
        ):
            return False
        if old.height != size.height:
            # Lines above the old bottom gutter (border, padding) are unchanged.
            # (_set_dirty takes content coordinates.)
            top = max(0, min(old.height, size.height) - self.styles.gutter.bottom)
            lines = Region(0, top, size.width, size.height - top)
            self._set_dirty(lines.translate(-self.content_offset))
        self._size = size
        self.set_reactive(Widget.virtual_size, virtual_size)
        self._container_size = container_size
        if self.is_scrollable:
            self._scroll_update(virtual_size)
        return True


class StableGutterScroll(VerticalScroll):
    """A vertical scroll view whose growing content costs one layout pass.

    Textual answers a change of virtual size with a second full layout pass.
    A scroll view needs it only when a scrollbar appears or goes, changing
    its children's width; give subclasses ``scrollbar-gutter: stable``.
    """

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        return super()._size_updated(size, virtual_size, container_size, layout=False)


class KeysBeforeBindings(TextArea):
    """A text area that acts on some keys in its own message queue.

    The app checks (priority) bindings as soon as a key arrives, before this
    widget has inserted the characters typed just before it, so a fast burst
    ("hi" + Enter in one read) bound to an action would act on an empty box.
    Keys for which :meth:`claim_key` returns True are stopped here instead.
    """

    def claim_key(self, key: str) -> bool:
        """Act on ``key`` and return True, or return False to let the text
        area handle it."""
        return False

    async def _on_key(self, event: events.Key) -> None:
        if self.claim_key(event.key):
            event.stop()
            event.prevent_default()
        else:
            await super()._on_key(event)


def follows_end(view: Widget) -> bool:
    """``view`` is anchored (:meth:`Widget.anchor`) and the reader has not
    scrolled away from its end."""
    return view.is_anchored and not view._anchor_released


def is_batching(app: App[Any]) -> bool:
    """Inside :meth:`App.batch_update` (the app's mount runs in one): frames
    are computed but not sent to the terminal."""
    return app._batch_count > 0


def is_exiting(app: App[Any]) -> bool:
    """:meth:`App.exit` has been called: the screens may already be gone."""
    return app._exit


READ_BYTES = 4096
"""Bytes read from stdin at a time (as Textual reads)."""
SELECT_S = 0.1
"""Select timeout: how often the parser's timers (a lone Esc) are ticked."""


ALT_ENTER = "\x1b\r"
"""What tmux and most terminals send for Alt+Enter."""


class AltEnterParser(XTermParser):
    """Textual's input parser, with ESC CR read as Alt+Enter."""

    def _sequence_to_key_events(self, sequence: str, alt: bool = False) -> Iterable[events.Key]:
        # ESC CR in one read is the whole sequence; ESC, then CR after the
        # escape delay, is reissued as CR with ``alt`` set.
        if sequence == ALT_ENTER or (alt and sequence == "\r"):
            return [events.Key("alt+enter", None)]
        return super()._sequence_to_key_events(sequence, alt)


class StdinEOFDriver(LinuxDriver):
    """The Linux driver with an input thread that stops at end of file, reads
    Alt+Enter (:class:`AltEnterParser`) and keeps a paste one paste
    (:class:`~asynclm_tui.ui.paste_guard.PasteGuard`)."""

    input_ended = False
    """Set once stdin reached end of file (nothing more will be read)."""
    suspended = False
    """Set by a suspension (SIGTSTP), cleared by the resume that follows it."""

    def _sigtstp_application(self, *args: Any) -> None:
        self.suspended = True
        super()._sigtstp_application(*args)

    def _sigcont_application(self, *args: Any) -> None:
        if self.suspended:
            self.suspended = False
            super()._sigcont_application(*args)

    def run_input_thread(self) -> None:
        """Read stdin until end of file, then wait for the app to exit."""
        parser = AltEnterParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        guard = PasteGuard()
        with selectors.DefaultSelector() as selector:
            selector.register(self.fileno, selectors.EVENT_READ)
            while not self.exit_event.is_set():
                if selector.select(SELECT_S):
                    data = os.read(self.fileno, READ_BYTES)
                    if not data:
                        break
                    for event in parser.feed(guard.feed(decode(data))):
                        self.process_message(event)
                for event in parser.tick():
                    self.process_message(event)
        self.input_ended = True
        self.exit_event.wait()
