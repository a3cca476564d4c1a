"""The status bar: state, calls in the background, mode, context, tokens/s
(and whether a busy CPU slowed them), MCP servers, where the model runs and
its name.

A narrow terminal drops parts by priority (the order of :data:`PRIORITY`)
rather than cutting the line at its right edge: what the user acts on (state,
mode, context, speed) stays; the model's name goes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Click, Resize
from textual.message import Message
from textual.widgets import Static

PRIORITY = ("state", "bg", "mode", "ctx", "speed", "cpu", "mcp", "device", "model")
"""Parts in the order they survive a narrow terminal."""
ORDER = ("state", "bg", "model", "device", "speed", "cpu", "ctx", "mcp", "mode")
"""Parts left to right."""
FIXED_WIDTH = {"speed": 13, "ctx": 26}
"""Cells (padding included) of the parts whose text changes while decoding,
as chat.tcss sets them: they never trigger a layout pass."""
PADDING = 2
"""Cells of padding around each part (chat.tcss: ``padding: 0 1``)."""
MIN_MODEL = 8
"""The model's name is shown cut with an ellipsis down to this many cells."""


class ModeChip(Static):
    """The scheduling mode; clicking it cycles async -> sync -> parallel."""

    @dataclass
    class Clicked(Message):
        """The user clicked the mode."""

    def on_click(self, event: Click) -> None:
        """Ask the app to switch mode."""
        event.stop()
        self.post_message(self.Clicked())


def parts_that_fit(texts: dict[str, str], width: int) -> tuple[set[str], int]:
    """The non-empty parts to show in ``width`` cells, highest priority first,
    and the cells left for the model's name (cut with an ellipsis to fit,
    shown only when at least :data:`MIN_MODEL` cells or all of it fit)."""
    shown: set[str] = set()
    used = 0
    for part in PRIORITY:
        text = texts.get(part, "")
        if not text or part == "model":
            continue
        cells = FIXED_WIDTH.get(part, cell_len(text) + PADDING)
        if used + cells <= width:
            shown.add(part)
            used += cells
    model = texts.get("model", "")
    room = width - used - PADDING
    if model and room >= min(MIN_MODEL, cell_len(model)):
        shown.add("model")
        return shown, room
    return shown, 0


class StatusBar(Horizontal):
    """One line of run state at the bottom of the chat screen (above the footer).

    Its parts are held, not queried: the engine's first events (a model that
    fails to load at once) may arrive before the bar is composed, and what
    they set is shown once it is.
    """

    DEFAULT_CSS = """
    StatusBar #sb-cpu {
        color: $warning;
    }
    StatusBar #sb-mcp.-trouble {
        color: $warning;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._parts: dict[str, Static] = {
            part: (
                ModeChip("", id="sb-mode")
                if part == "mode"
                else Static("starting" if part == "state" else "", id=f"sb-{part}")
            )
            for part in ORDER
        }
        self._texts: dict[str, str] = {"state": "starting"}
        self._shown: set[str] = {"state"}
        self._model_cells = 0
        for part in ORDER:
            self._parts[part].display = part in self._shown

    def compose(self) -> ComposeResult:
        yield from self._parts.values()

    def text(self, part: str) -> str:
        """Plain text of a part (``state``, ``bg``, ``model``, ``device``,
        ``speed``, ``cpu``, ``ctx``, ``mcp``, ``mode``), shown or not."""
        return self._texts.get(part, "")

    def shown(self, part: str) -> bool:
        """Whether ``part`` is on screen now (set and room for it)."""
        return part in self._shown

    def on_resize(self, event: Resize) -> None:
        """Choose again which parts fit."""
        self._fit()

    def _fit(self) -> None:
        width = self.size.width
        if width <= 0:
            return
        shown, model_cells = parts_that_fit(self._texts, width)
        if model_cells and model_cells != self._model_cells:
            self._model_cells = model_cells
            self._parts["model"].styles.max_width = model_cells + PADDING
        if shown == self._shown:
            return
        self._shown = shown
        for part in ORDER:
            self._parts[part].display = part in shown

    def _set(self, part: str, text: str, fixed: bool = False) -> None:
        if self._texts.get(part, "") == text:
            return  # unchanged (the speed is set at every frame)
        was_empty = not self._texts.get(part)
        self._texts[part] = text
        widget = self._parts[part]
        if fixed and not was_empty and text:
            # Fixed-width parts (tok/s, context) change several times a second:
            # no screen-wide layout pass, and no new choice of what fits.
            widget.update(text, layout=False)
            return
        widget.update(text)
        self._fit()

    def set_state(self, text: str, kind: str) -> None:
        """Run state, e.g. ``generating`` (``kind`` picks its colour)."""
        self._set("state", text)
        state = self._parts["state"]
        for name in ("idle", "busy", "wait", "error", "loading"):
            state.set_class(kind == name, f"-{name}")

    def set_background(self, count: int) -> None:
        """Calls that outlived their answer, running or with a result waiting
        (none: the part is hidden)."""
        self._set("bg", f"{count} in background" if count else "")

    def set_model(self, name: str, device: str) -> None:
        """Model file name and where it runs (``CPU``, ``GPU 31 layers``, or a
        server's address)."""
        self._set("model", name)
        self._set("device", device)

    def set_speed(self, tok_s: float | None, cpu_busy: bool = False) -> None:
        """Decoding speed of the current or last turn; ``cpu_busy``: other work
        kept the CPU busy and slowed it (said next to the speed, so a slow
        answer is not taken for a slow model)."""
        self._set("speed", "— tok/s" if tok_s is None else f"{tok_s:.1f} tok/s", fixed=True)
        self._set("cpu", "the CPU is busy" if cpu_busy and tok_s is not None else "")

    def set_context(self, used: int, total: int) -> None:
        """Context tokens used of the window."""
        pct = used / total * 100 if total else 0.0
        self._set("ctx", f"ctx {used:,}/{total:,} ({pct:.0f}%)", fixed=True)

    def set_mode(self, mode: str, pending: bool = False) -> None:
        """Scheduling mode; ``pending`` when it applies from the next turn."""
        self._set("mode", f"mode: {mode}{' (next turn)' if pending else ''}")

    def set_mcp(self, ready: int, total: int, trouble: bool) -> None:
        """MCP servers ready of those declared (none: the part is hidden);
        ``trouble``: one failed or is restarting."""
        self._set("mcp", f"MCP {ready}/{total}" if total else "")
        self._parts["mcp"].set_class(trouble, "-trouble")

    def summary(self, parts: Sequence[str] = ORDER) -> str:
        """The shown parts' text, left to right (tests, the bench)."""
        return " ".join(self._texts[p] for p in parts if p in self._shown and self._texts.get(p))
