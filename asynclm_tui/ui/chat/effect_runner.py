"""Applies the steering's :mod:`effects <asynclm_tui.ui.chat.effects>` to the
engine and the chat's widgets, in order."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from asynclm_tui.ui.chat.effects import (
    AddChip,
    Effect,
    Focus,
    KeepInBox,
    Notify,
    OpenEditor,
    PostInput,
    RefreshBindings,
    ReturnToBox,
    SetStatus,
    ShowHeld,
)
from asynclm_tui.ui.message_queue import QueuedMessage
from asynclm_tui.ui.widgets.prompt_input import PromptInput
from asynclm_tui.ui.widgets.queue_view import QueueView
from asynclm_tui.ui.widgets.status_bar import StatusBar
from asynclm_tui.ui.widgets.transcript import AssistantEntry, Transcript

if TYPE_CHECKING:
    from asynclm_tui.core.api.handle import EngineHandle


class EffectRunner:
    """Does what the steering asks.

    ``notify`` shows a notification, ``refresh_bindings`` updates the footer
    and ``open_editor`` opens the editor of a queued message (the screen's).
    """

    def __init__(
        self,
        engine: EngineHandle,
        *,
        prompt: PromptInput,
        queue_view: QueueView,
        transcript: Transcript,
        status: StatusBar,
        notify: Callable[[Notify], None],
        refresh_bindings: Callable[[], None],
        open_editor: Callable[[QueuedMessage], None],
    ) -> None:
        self._engine = engine
        self._prompt = prompt
        self._queue_view = queue_view
        self._transcript = transcript
        self._status = status
        self._notify = notify
        self._refresh_bindings = refresh_bindings
        self._open_editor = open_editor

    async def run(self, effects: list[Effect]) -> None:
        """Apply ``effects`` in order."""
        for effect in effects:
            match effect:
                case PostInput():
                    self._engine.post(effect.input)
                case Notify():
                    self._notify(effect)
                case SetStatus():
                    self._status.set_state(effect.text, effect.style)
                case KeepInBox():
                    if not self._prompt.text:
                        self._prompt.load_text(effect.text)
                case ReturnToBox():
                    self._return_to_box(effect.texts)
                case Focus():
                    (self._prompt if effect.target == "prompt" else self._queue_view).focus()
                case ShowHeld():
                    self._queue_view.set_held(
                        list(effect.calls), effect.keep_key, effect.cancel_key
                    )
                case AddChip():
                    await self._add_chip(effect)
                case OpenEditor():
                    self._open_editor(effect.item)
                case RefreshBindings():
                    self._refresh_bindings()

    def _return_to_box(self, texts: tuple[str, ...]) -> None:
        prompt = self._prompt
        draft = prompt.text.strip()
        prompt.load_text("\n\n".join([*texts, *([draft] if draft else [])]))
        prompt.move_cursor(prompt.document.end)
        prompt.focus()

    async def _add_chip(self, chip: AddChip) -> None:
        if chip.turn is None:
            entry = self._transcript.current
        else:
            entry = next(
                (e for e in self._transcript.query(AssistantEntry) if e.turn == chip.turn), None
            )
        if entry is not None:
            await entry.add_chip(chip.kind, chip.text)
