"""Steer, queue and stop: what the chat does with messages and Esc mid-answer.

- Enter while the model writes *steers*: the message lands in the running
  answer as ``[INTR] user`` at the next safe point.
- Tab *queues* it for when the answer ends; queued messages are sent one per
  turn, in order, after an answer that ended by itself.
- Esc stops writing; Esc again (the footer then shows "Cancel calls") cancels
  the calls still running. Results of a stopped answer are shown in it but
  held back from the next one unless the user keeps them (Ctrl+G).
- After a stop or an error, queued messages go back into the message box
  rather than being sent: nothing typed is ever dropped or sent unasked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from asynclm_tui.core.api.events import (
    CallFinished,
    CallUpdated,
    CancelCall,
    Event,
    HeldResults,
    HeldState,
    KeepResults,
    ModelLoaded,
    SendMessage,
    StopGeneration,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.ui.message_queue import MessageQueue
from asynclm_tui.ui.widgets.prompt_input import PromptInput
from asynclm_tui.ui.widgets.queue_view import QueueView
from asynclm_tui.ui.widgets.transcript import AssistantEntry

if TYPE_CHECKING:
    from asynclm_tui.ui.screens.chat import ChatScreen

CLEAN_ENDS = {"eos", "max_tokens"}
"""Turn endings after which the next queued message is sent."""


class TurnControl:
    """The chat screen's steer / queue / stop logic (the screen delegates)."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self.queue = MessageQueue()
        """Messages waiting for the answer to end (save it to keep it)."""
        self.view = QueueView(self.queue, id="queue")
        self.stop_requested = False
        self._starting = 0
        """Messages sent to start a turn whose TurnStarted has not arrived."""
        self._restored = False
        """The queue holds a saved chat's messages: they wait for the next
        answer instead of going out as soon as the model loads."""

    # ------------------------------------------------------------ state

    @property
    def answering(self) -> bool:
        """A turn runs or is about to (a new message would steer it)."""
        return self.screen.generating or self._starting > 0

    def _key(self, binding_id: str, default: str) -> str:
        """The key the user presses for ``binding_id`` (after ``ui.keymap``)."""
        settings = getattr(self.screen.app, "settings", None)
        keymap = settings.ui.keymap if settings is not None else {}
        return str(keymap.get(binding_id, default)).split(",")[0]

    def check_action(self, action: str) -> bool | None:
        """Which of Esc's two meanings applies now, and whether keep does."""
        screen = self.screen
        calls_running = bool(screen.state.active_calls())
        if action == "stop":
            writing = screen.generating and not self.stop_requested
            return writing or not calls_running
        if action == "cancel_calls":
            return calls_running and (not screen.generating or self.stop_requested)
        if action == "keep_results":
            return bool(screen.state.held_calls())
        return True

    # ------------------------------------------------------------ inputs

    def send(self, text: str) -> None:
        """Enter: start a turn, or steer the running one."""
        screen = self.screen
        if screen.load_failed:
            if not screen.prompt.text:
                screen.prompt.load_text(text)  # kept, not thrown away
            screen.notify("The model did not load; nothing can answer.", severity="error")
            return
        steering = self.answering
        screen.engine.post(SendMessage(text))
        if steering:
            screen.notify(
                "Steering: your message lands in this answer at the next safe "
                "point. (Tab queues it for after the answer instead.)",
                timeout=3,
            )
            return
        self._starting += 1
        if not screen.loaded:
            screen.notify("Queued: the model is still loading.", timeout=3)
        elif screen.warming:  # a first launch evaluates the system prompt once
            screen.status.set_state("reading the system prompt", "wait")

    def enqueue(self, text: str) -> None:
        """Tab: queue for after the answer (sent at once when nothing runs)."""
        if not self.answering and not len(self.queue) and not self.screen.load_failed:
            self.send(text)
            return
        self.queue.add(text)  # the queue view above the box shows it

    def restore_queue(self, texts: list[str]) -> None:
        """A saved chat's queued messages, back in the queue.  Its answer was
        cut off, so they wait for the next one rather than going out unasked."""
        if not texts:
            return
        self._restored = True
        self.queue.restore(texts)
        self.screen.notify(
            f"{len(texts)} message(s) you had queued are back in the queue: they go after "
            "the next answer (Up from the empty message box edits or removes them).",
            timeout=8,
        )

    def stop(self) -> None:
        """Esc: stop writing (calls keep running), or back to the message box."""
        screen = self.screen
        if screen.generating and not self.stop_requested:
            self.stop_requested = True
            screen.engine.post(StopGeneration())
            screen.status.set_state("stopping", "wait")
            screen.refresh_bindings()
        else:
            screen.prompt.focus()

    def cancel_calls(self) -> None:
        """Esc after a stop: cancel every call still running."""
        running = self.screen.state.active_calls()
        self.screen.engine.post(CancelCall(None))
        names = ", ".join(c.id for c in running) or "nothing"
        self.screen.notify(f"Cancelling {names}.", timeout=3)

    def keep_results(self) -> None:
        """Ctrl+G: the held results go to the next answer."""
        held = self.screen.state.held_calls()
        if not held:
            self.screen.notify("No results are held back.", timeout=2)
            return
        self.screen.engine.post(KeepResults())

    # ------------------------------------------------------------ events

    async def observe(self, event: Event) -> None:
        """Follow engine events (after the screen rendered them)."""
        screen = self.screen
        match event:
            case TurnStarted():
                self._starting = max(0, self._starting - 1)
                self.stop_requested = False
                self._restored = False
                self._show_held()
            case TurnDone():
                self._starting = 0
                await self._after_turn(event)
            case HeldResults():
                await self._on_held(event)
            case CallFinished():
                await self._held_result_chip(event)
                self._show_held()
            case CallUpdated():
                pass
            case ModelLoaded():
                if not self._restored:
                    self._dispatch()
            case _:
                return
        screen.refresh_bindings()

    async def _after_turn(self, event: TurnDone) -> None:
        if event.reason in CLEAN_ENDS:
            self._dispatch()
            return
        items = self.queue.take_all()
        if not items:
            return
        prompt = self.screen.prompt
        draft = prompt.text.strip()
        prompt.load_text("\n\n".join([*(i.text for i in items), *([draft] if draft else [])]))
        prompt.move_cursor(prompt.document.end)
        prompt.focus()
        why = "you stopped the answer" if event.reason == "stopped" else "the answer failed"
        self.screen.notify(
            f"{len(items)} queued message(s) moved back to the message box ({why}): "
            "Enter sends, or edit first.",
            timeout=6,
        )

    def handle(self, message: Message) -> None:
        """Messages from the message box and the queue view."""
        match message:
            case PromptInput.Queued():
                self.enqueue(message.text)
            case PromptInput.UpFromEmpty() if len(self.queue):
                self.view.focus()
            case QueueView.EditDone():
                self._restored = False  # the user has seen the queue
                self._dispatch()  # the edited message may be due already

    def _dispatch(self) -> None:
        screen = self.screen
        if self.answering or self.view.editing is not None or not screen.loaded:
            return
        item = self.queue.pop()
        if item is not None:
            self.send(item.text)

    async def _on_held(self, event: HeldResults) -> None:
        screen = self.screen
        self._show_held()
        if event.state is HeldState.HELD:
            entry = screen.transcript.current
            if entry is not None:
                await entry.add_chip(
                    "info",
                    f"{', '.join(event.ids)} still due: their results stay out of the next "
                    f"answer unless you keep them ({self._key('keep_results', 'ctrl+g')})",
                )
        elif event.state is HeldState.KEPT:
            screen.notify(f"Kept for the next answer: {', '.join(event.ids)}.", timeout=3)

    async def _held_result_chip(self, event: CallFinished) -> None:
        """A held call finished: show its result in its own (stopped) turn."""
        screen = self.screen
        call = screen.state.calls.get(event.id)
        if call is None or call.held not in (HeldState.HELD, HeldState.DROPPED):
            return
        entry = next(
            (e for e in screen.transcript.query(AssistantEntry) if e.turn == call.turn), None
        )
        if entry is None:
            return
        value = " ".join(event.value[:160].split())
        value = value if len(value) <= 80 else value[:79] + "…"
        fate = "held back" if call.held is HeldState.HELD else "not given to the model"
        kind = "result" if event.ok else "error"
        await entry.add_chip(kind, f"{event.id} → {value} · {fate}")

    def chat_cleared(self) -> None:
        """A new chat: nothing is held any more; the queue is kept (it is the
        user's typing, and is sent in the new chat)."""
        self._show_held()
        self.screen.refresh_bindings()

    def _show_held(self) -> None:
        held = self.screen.state.held_calls()
        self.view.set_held(
            held, self._key("keep_results", "ctrl+g"), self._key("cancel_calls", "esc")
        )
