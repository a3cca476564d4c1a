"""The help screen: every key binding with its id (for ``ui.keymap``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_INTRO = """\
asynclm: the model keeps writing while its tools run. Results land in its
context as [INTR] id [HEAD] value [END]; so do messages you send while it talks.

While it answers: Enter steers (your message lands in this answer), Tab queues
it for after the answer (Shift+Tab or Up from an empty box: edit, remove).
Esc stops writing; the calls keep running. Esc again cancels them. Results of a
stopped answer show in it but stay out of the next one unless you keep them
(Ctrl+G, before you send). After a stop, queued messages return to the box.
Long results are cut to tools.max_result_tokens for the model; Ctrl+L, then
Enter on a call shows the whole result.

Calls that outlive the answer: at its end an answer waits at most
tools.wait_at_end_s for its calls (a tool marked background: true, not at all),
then ends; they run on in the background (the calls panel groups them, the
status bar counts them) and you can chat meanwhile. A result that comes in
while nothing is written is delivered as its tool's deliver_idle says:
  answer  a new answer starts with it (the transcript says which call finished)
  notify  a toast and a mark in the panel; it goes in with your next message
  silent  it goes in with your next message, without a word
A turn a result starts is like any other: Esc stops it, Enter steers it.
A tool with deliver: when_idle holds a result that lands mid-answer until the
answer ends. In the calls panel, r steps the selected call through the three.
A new chat (or another saved one) leaves them running: a toast says when one
ends, and its result waits in its own chat until you open it again (Ctrl+S).

Remap any key in the config file, e.g.
  ui:
    keymap:
      stop: ctrl+c
      timeline: f6
"""


def binding_rows(
    groups: Sequence[tuple[str, Sequence[BindingType]]], keymap: Mapping[str, str]
) -> list[tuple[str, str, str, str]]:
    """(where, keys, action, id) per binding, with ``keymap`` applied."""
    rows = []
    for where, bindings in groups:
        for binding in bindings:
            if not isinstance(binding, Binding):
                continue
            keys = keymap.get(binding.id or "", binding.key) if binding.id else binding.key
            label = binding.description or binding.action
            rows.append((where, keys.replace(",", " / "), label, binding.id or ""))
    return rows


class HelpScreen(ModalScreen[None]):
    """Keys, what they do and their ids."""

    CSS_PATH = Path(__file__).with_name("help.tcss")  # absolute: subclasses elsewhere keep it
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close", id="help.close")]

    def __init__(
        self,
        groups: Sequence[tuple[str, Sequence[BindingType]]],
        keymap: Mapping[str, str],
    ) -> None:
        super().__init__()
        self._groups = groups
        self._keymap = keymap

    def compose(self) -> ComposeResult:
        table = Table(expand=True, box=None, pad_edge=False, header_style="bold")
        table.add_column("where")
        table.add_column("keys", style="bold")
        table.add_column("does")
        table.add_column("id (ui.keymap)", style="dim")
        for row in binding_rows(self._groups, self._keymap):
            table.add_row(*row)
        table.add_row("anywhere", "ctrl+p", "Command palette: themes, modes, raw, timeline", "")
        with VerticalScroll(id="help-box") as box:
            box.border_title = "Keys · Esc closes"
            yield Static(Text(HELP_INTRO), id="help-intro")
            yield Static(table, id="help-table")
