"""Steer, queue and stop: what the chat does with messages and Esc mid-answer.

- Enter while the model writes *steers*: the message lands in the running
  answer as ``[INTR] user`` at the next safe point.
- Tab *queues* it for when the answer ends; queued messages are sent one per
  turn, in order, after an answer that ended by itself.
- Esc stops writing; Esc again (the footer then shows "Cancel calls") cancels
  the calls still running. Results of a stopped answer are shown in it but
  held back from the next one unless the user keeps them (Ctrl+G).  Calls
  that outlived an answer that ended by itself run on in the background:
  Esc leaves them alone (the calls panel cancels one), and a message is
  sent as a new turn while they run.
- After a stop or an error, queued messages go back into the message box
  rather than being sent: nothing typed is ever dropped or sent unasked.
  A message the engine could not take (``MessageReturned``) goes back too.

:class:`Steering` holds these rules as a state object: each input (a key, an
engine event, an edit of the queue) returns the :mod:`effects
<asynclm_tui.ui.chat.effects>` to apply, and the chat screen applies them.
"""

from __future__ import annotations

from collections.abc import Mapping

from asynclm_tui.core.api.enums import StopReason
from asynclm_tui.core.api.events import (
    CallFinished,
    CallUpdated,
    CancelCall,
    Event,
    HeldResults,
    HeldState,
    KeepResults,
    MessageReturned,
    ModelLoaded,
    ModelLoadFailed,
    PromptWarmed,
    SendMessage,
    StopGeneration,
    TurnDone,
    TurnStarted,
)
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
    Severity,
    ShowHeld,
)
from asynclm_tui.ui.message_queue import MessageQueue
from asynclm_tui.ui.state import ChatState

CLEAN_ENDS = {StopReason.EOS, StopReason.MAX_TOKENS}
"""Turn endings after which the next queued message is sent."""


class Steering:
    """The chat's steer / queue / stop state, fed inputs, returning effects.

    ``state`` is the chat's record of turns and calls (read only here);
    ``keymap`` is ``ui.keymap``, for the keys named in the held-results notice.
    """

    def __init__(self, state: ChatState, keymap: Mapping[str, str] | None = None) -> None:
        self.state = state
        self.queue = MessageQueue()
        """Messages waiting for the answer to end (save it to keep it)."""
        self._keymap = dict(keymap or {})
        self._loaded = False
        self._warming = False
        self._load_failed = False
        self._generating = False
        self._stop_requested = False
        self._editing: int | None = None
        self._starting = 0
        """Messages sent to start a turn whose TurnStarted has not arrived."""
        self._restored = False
        """The queue holds a saved chat's messages: they wait for the next
        answer instead of going out as soon as the model loads."""

    # ------------------------------------------------------------ state

    @property
    def loaded(self) -> bool:
        """The model is ready (a ``ModelLoaded`` arrived)."""
        return self._loaded

    @property
    def warming(self) -> bool:
        """Loaded, but the system prompt is still being read (until
        ``PromptWarmed``): a message sent now waits for it."""
        return self._warming

    @property
    def load_failed(self) -> bool:
        """The model did not load: nothing can answer."""
        return self._load_failed

    @property
    def generating(self) -> bool:
        """True from TurnStarted to TurnDone."""
        return self._generating

    @property
    def stop_requested(self) -> bool:
        """Esc stopped the running answer; it has not ended yet."""
        return self._stop_requested

    @property
    def editing(self) -> int | None:
        """Id of the queued message open in the editor (it is not sent meanwhile)."""
        return self._editing

    @property
    def answering(self) -> bool:
        """A turn runs or is about to (a new message would steer it)."""
        return self._generating or self._starting > 0

    def _key(self, binding_id: str, default: str) -> str:
        """The key the user presses for ``binding_id`` (after ``ui.keymap``)."""
        return str(self._keymap.get(binding_id, default)).split(",")[0]

    def check_action(self, action: str) -> bool:
        """Which of Esc's two meanings applies now, and whether keep does."""
        calls_running = bool(self.state.foreground_calls())
        if action == "stop":
            writing = self._generating and not self._stop_requested
            return writing or not calls_running
        if action == "cancel_calls":
            return calls_running and (not self._generating or self._stop_requested)
        if action == "keep_results":
            return bool(self.state.held_calls())
        return True

    # ------------------------------------------------------------ keys

    def send(self, text: str) -> list[Effect]:
        """Enter: start a turn, or steer the running one."""
        if self._load_failed:
            return [
                KeepInBox(text),  # kept, not thrown away
                Notify("The model did not load; nothing can answer.", severity="error"),
            ]
        steering = self.answering
        out: list[Effect] = [PostInput(SendMessage(text))]
        if steering:
            out.append(
                Notify(
                    "Steering: your message lands in this answer at the next safe "
                    "point. (Tab queues it for after the answer instead.)",
                    timeout=3,
                )
            )
            return out
        self._starting += 1
        if not self._loaded:
            out.append(Notify("Queued: the model is still loading.", timeout=3))
        elif self._warming:  # a first launch evaluates the system prompt once
            out.append(SetStatus("reading the system prompt", "wait"))
        return out

    def enqueue(self, text: str) -> list[Effect]:
        """Tab: queue for after the answer (sent at once when nothing runs)."""
        if not self.answering and not len(self.queue) and not self._load_failed:
            return self.send(text)
        self.queue.add(text)  # the queue view above the box shows it
        return []

    def stop(self) -> list[Effect]:
        """Esc: stop writing (calls keep running), or back to the message box."""
        if self._generating and not self._stop_requested:
            self._stop_requested = True
            return [PostInput(StopGeneration()), SetStatus("stopping", "wait"), RefreshBindings()]
        return [Focus("prompt")]

    def cancel_calls(self) -> list[Effect]:
        """Esc after a stop: cancel every call still running but those in the
        background (the user let them run on; the calls panel cancels one)."""
        calls = self.state.foreground_calls()
        names = ", ".join(c.id for c in calls) or "nothing"
        note = Notify(f"Cancelling {names}.", timeout=3)
        if not self.state.background_calls():
            return [PostInput(CancelCall(None)), note]
        return [*(PostInput(CancelCall(c.id)) for c in calls), note]

    def keep_results(self) -> list[Effect]:
        """Ctrl+G: the held results go to the next answer."""
        if not self.state.held_calls():
            return [Notify("No results are held back.", timeout=2)]
        return [PostInput(KeepResults())]

    def up_from_empty(self) -> list[Effect]:
        """Up in the empty message box: to the queued messages, if any."""
        return [Focus("queue")] if len(self.queue) else []

    # ------------------------------------------------------------ the queue

    def restore_queue(self, texts: list[str]) -> list[Effect]:
        """A saved chat's queued messages, back in the queue.  Its answer was
        cut off, so they wait for the next one rather than going out unasked."""
        if not texts:
            return []
        self._restored = True
        self.queue.restore(texts)
        return [
            Notify(
                f"{len(texts)} message(s) you had queued are back in the queue: they go after "
                "the next answer (Up from the empty message box edits or removes them).",
                timeout=8,
            )
        ]

    def edit(self, item_id: int) -> list[Effect]:
        """Open queued message ``item_id`` in the editor (it waits meanwhile)."""
        item = next((i for i in self.queue.items if i.id == item_id), None)
        if item is None:
            return []  # sent since it was chosen
        self._editing = item_id
        return [OpenEditor(item)]

    def edit_finished(self, item_id: int, text: str | None) -> list[Effect]:
        """The editor closed with ``text`` (empty: remove the message; None: unchanged)."""
        self._editing = None
        if text is not None:
            if text.strip():
                self.queue.edit(item_id, text)
            else:
                self.queue.remove(item_id)
        self._restored = False  # the user has seen the queue
        return self._dispatch()  # the edited message may be due already

    def remove(self, item_id: int) -> list[Effect]:
        """Take queued message ``item_id`` out (back to the box when none is left)."""
        item = self.queue.remove(item_id)
        if item is None:
            return []
        out: list[Effect] = [Notify(f"Removed from the queue: {item.text[:60]}", timeout=3)]
        if not len(self.queue):
            out.append(Focus("prompt"))
        return out

    # ------------------------------------------------------------ events

    def observe(self, event: Event) -> list[Effect]:
        """Follow an engine event (after the screen has drawn it)."""
        out: list[Effect]
        match event:
            case ModelLoaded():
                self._loaded = True
                self._warming = True
                out = [] if self._restored else self._dispatch()
            case PromptWarmed():
                self._warming = False
                return [] if self.answering else [SetStatus("ready", "idle")]
            case ModelLoadFailed():
                self._load_failed = True
                return []
            case TurnStarted():
                self._generating = True
                if not event.started_by:  # a result turn answers no message sent
                    self._starting = max(0, self._starting - 1)
                self._stop_requested = False
                self._restored = False
                out = [self._held_view()]
            case TurnDone():
                self._generating = False
                self._starting = 0
                out = self._after_turn(event)
            case HeldResults():
                out = self._on_held(event)
            case CallFinished():
                out = [*self._held_result_chip(event), self._held_view()]
            case CallUpdated():
                out = []
            case MessageReturned():
                out = self._on_returned(event)
            case _:
                return []
        return [*out, RefreshBindings()]

    def chat_cleared(self) -> list[Effect]:
        """A new chat: nothing is held any more; the queue is kept (it is the
        user's typing, and is sent in the new chat)."""
        return [self._held_view(), RefreshBindings()]

    def _after_turn(self, event: TurnDone) -> list[Effect]:
        if event.reason in CLEAN_ENDS:
            return self._dispatch()
        items = self.queue.take_all()
        if not items:
            return []
        why = (
            "you stopped the answer" if event.reason == StopReason.STOPPED else "the answer failed"
        )
        return [
            ReturnToBox(tuple(i.text for i in items)),
            Notify(
                f"{len(items)} queued message(s) moved back to the message box ({why}): "
                "Enter sends, or edit first.",
                timeout=6,
            ),
        ]

    def _on_returned(self, event: MessageReturned) -> list[Effect]:
        """A message the chat could not take comes back to the box to edit."""
        severity: Severity
        match event.reason:
            case StopReason.CONTEXT_FULL:
                why, severity = "too long for the context window", "warning"
            case StopReason.STOPPED:
                why, severity = "stopped before the model read it", "information"
            case _:
                why, severity = "the answer failed before the model read it", "warning"
        return [
            ReturnToBox((event.text,)),
            Notify(
                f"Your message is back in the message box ({why}): edit it, or Enter resends.",
                severity=severity,
                timeout=8,
            ),
        ]

    def _dispatch(self) -> list[Effect]:
        if self.answering or self._editing is not None or not self._loaded:
            return []
        item = self.queue.pop()
        return self.send(item.text) if item is not None else []

    def _on_held(self, event: HeldResults) -> list[Effect]:
        out: list[Effect] = [self._held_view()]
        if event.state is HeldState.HELD:
            out.append(
                AddChip(
                    "info",
                    f"{', '.join(event.ids)} still due: their results stay out of the next "
                    f"answer unless you keep them ({self._key('keep_results', 'ctrl+g')})",
                )
            )
        elif event.state is HeldState.KEPT:
            out.append(Notify(f"Kept for the next answer: {', '.join(event.ids)}.", timeout=3))
        return out

    def _held_result_chip(self, event: CallFinished) -> list[Effect]:
        """A held call finished: show its result in its own (stopped) turn."""
        call = self.state.calls.get(event.id)
        if call is None or call.held not in (HeldState.HELD, HeldState.DROPPED):
            return []
        value = " ".join(event.value[:160].split())
        value = value if len(value) <= 80 else value[:79] + "…"
        fate = "held back" if call.held is HeldState.HELD else "not given to the model"
        kind = "result" if event.ok else "error"
        return [AddChip(kind, f"{event.id} → {value} · {fate}", turn=call.turn)]

    def _held_view(self) -> ShowHeld:
        return ShowHeld(
            tuple(self.state.held_calls()),
            self._key("keep_results", "ctrl+g"),
            self._key("cancel_calls", "esc"),
        )
