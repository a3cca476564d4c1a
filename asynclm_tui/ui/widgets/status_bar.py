"""The status bar: state, model, CPU/GPU, tokens/s, context use and mode."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Click
from textual.message import Message
from textual.widgets import Static


class ModeChip(Static):
    """The scheduling mode; clicking it cycles async -> sync -> parallel."""

    @dataclass
    class Clicked(Message):
        """The user clicked the mode."""

    def on_click(self, event: Click) -> None:
        """Ask the app to switch mode."""
        event.stop()
        self.post_message(self.Clicked())


class StatusBar(Horizontal):
    """One line of run state at the bottom of the chat screen (above the footer).

    Its parts are held, not queried: the engine's first events (a model that
    fails to load at once) may arrive before the bar is composed, and what
    they set is shown once it is.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._parts: dict[str, Static] = {
            "state": Static("starting", id="sb-state"),
            **{part: Static("", id=f"sb-{part}") for part in ("model", "device", "speed", "ctx")},
            "mode": ModeChip("", id="sb-mode"),
        }

    def compose(self) -> ComposeResult:
        yield from self._parts.values()

    def text(self, part: str) -> str:
        """Plain text of a part (``state``, ``model``, ``device``, ``speed``,
        ``ctx``, ``mode``)."""
        return str(self._parts[part].content)

    def _set(self, part: str, text: str, fixed: bool = False) -> None:
        widget = self._parts[part]
        shown = bool(text)
        # Fixed-width parts (tok/s, context) change several times a second:
        # skip the screen-wide layout pass when only their text changes.
        widget.update(text, layout=not (fixed and widget.display == shown))
        widget.display = shown

    def set_state(self, text: str, kind: str) -> None:
        """Run state, e.g. ``generating`` (``kind`` picks its colour)."""
        state = self._parts["state"]
        state.update(text)
        for name in ("idle", "busy", "wait", "error", "loading"):
            state.set_class(kind == name, f"-{name}")

    def set_model(self, name: str, device: str) -> None:
        """Model file name and where it runs (``CPU`` or ``GPU 31 layers``)."""
        self._set("model", name)
        self._set("device", device)

    def set_speed(self, tok_s: float | None) -> None:
        """Decoding speed of the current or last turn."""
        self._set("speed", "— tok/s" if tok_s is None else f"{tok_s:.1f} tok/s", fixed=True)

    def set_context(self, used: int, total: int) -> None:
        """Context tokens used of the window."""
        pct = used / total * 100 if total else 0.0
        self._set("ctx", f"ctx {used:,}/{total:,} ({pct:.0f}%)", fixed=True)

    def set_mode(self, mode: str, pending: bool = False) -> None:
        """Scheduling mode; ``pending`` when it applies from the next turn."""
        self._set("mode", f"mode: {mode}{' (next turn)' if pending else ''}")
