"""What each engine event adds to the conversation: entries, text and chips.

The chat screen draws live events here, and a resumed chat's saved turns go
through the same code (:mod:`asynclm_tui.ui.replay`), so they look as they
did.  Nothing here touches the status bar or the keys.
"""

from __future__ import annotations

from asynclm_tui.core.api.chips import VALUE_CELLS, WAIT_WORDS, call_text, flat, result_text
from asynclm_tui.core.api.enums import InterruptKind, StopReason
from asynclm_tui.core.api.events import (
    CallIssued,
    ContextSlid,
    Event,
    Interrupt,
    Resumed,
    Token,
    Trapped,
    TurnDone,
    TurnFailed,
    TurnStarted,
    UserMessage,
)
from asynclm_tui.core.cml.syntax import format_interrupt
from asynclm_tui.core.decode.budget import PROMPT_TOO_LONG
from asynclm_tui.ui.delivery_words import background_chip, result_turn_text
from asynclm_tui.ui.state import ChatState, clip, fmt_seconds, slid_text
from asynclm_tui.ui.widgets.calls_panel import CallsPanel
from asynclm_tui.ui.widgets.transcript import (
    AssistantEntry,
    NoticeEntry,
    ResultTurnEntry,
    Staging,
    Transcript,
    UserEntry,
)

CONTEXT_FULL_HINTS = (
    "Raise model.n_ctx in the config, offer fewer tools, or set generation.prompt_style: compact.",
    "Ctrl+N starts a new chat.",
)
"""The way out of a full context: on a chat's first message, then later."""


def failure_text(event: TurnFailed, entry: AssistantEntry | None) -> str:
    """What the transcript and the notification say about a failed answer."""
    if event.reason == StopReason.CONTEXT_FULL:
        said = f"{event.message[:1].upper()}{event.message[1:]}."
        if event.message.startswith(PROMPT_TOO_LONG):
            return said  # it names the part that is too big and what to do
        first = entry is None or entry.turn == 1
        return f"{said} {CONTEXT_FULL_HINTS[0 if first else 1]}"
    return f"The answer failed: {event.message}. The chat goes on with your next message."


class ChatPainter:
    """Draws engine events into a transcript: the live one, or the staging
    of a saved chat's older turns.

    ``state`` is the chat's record of turns and calls (updated before each
    event is drawn); calls issued into ``transcript`` get a row in ``calls``.
    """

    def __init__(
        self, state: ChatState, transcript: Transcript, calls: CallsPanel, *, raw: bool = False
    ) -> None:
        self.state = state
        self._transcript = transcript
        self._calls = calls
        self.raw = raw
        """New answers show the raw CML the model saw instead of chips."""

    async def draw(self, event: Event, into: Transcript | Staging) -> None:
        """Draw what ``event`` adds to the conversation: entries, text, chips.

        ``into`` is the transcript, or the staging of older turns of a resumed
        chat; nothing here touches the status bar or what the keys do, so a
        saved turn is drawn exactly as it was while a live one runs.
        """
        entry = into.current
        match event:
            case Token():
                if entry is not None:
                    entry.add_raw(event.text)
                    entry.add_text(event.visible)
            case TurnStarted() if event.started_by:  # results started it, not a message
                text = result_turn_text(self.state.calls, event.started_by, event.t)
                await into.mount(ResultTurnEntry(text))
                await into.add_turn(AssistantEntry(event.turn, raw=self.raw))
            case TurnStarted():
                await into.mount(UserEntry(event.text))
                await into.add_turn(AssistantEntry(event.turn, raw=self.raw))
            case TurnFailed():
                await into.mount(NoticeEntry(failure_text(event, entry), "error"))
            case CallIssued():
                if entry is not None:
                    await entry.add_chip("call", call_text(event))
                if into is self._transcript:
                    await self._calls.add_call(self.state.calls[event.id])
            case Interrupt():
                if entry is not None:
                    await self._draw_interrupt(event, entry)
            case UserMessage():
                if entry is not None:
                    await entry.add_chip("user", f"you, mid-answer: {event.text}")
            case Trapped():
                if entry is not None:
                    label = WAIT_WORDS.get(event.reason, "waiting")
                    what = ", ".join(event.pending) or "results"
                    chip = await entry.add_chip(
                        "trap", f"{label} for {what} …", chip_id="open", now=True
                    )
                    chip.pending = what
            case Resumed():
                if entry is not None:
                    entry.resume_trap(
                        f"waited {fmt_seconds(event.waited_ms)}",
                        lambda ids: self._running_at(ids, event.t),
                    )
            case TurnDone():
                if entry is not None:
                    await self._draw_turn_end(event, entry)
            case ContextSlid():
                if entry is not None and not entry.done:
                    await entry.add_chip("info", slid_text(event))
                else:
                    await into.mount(NoticeEntry(slid_text(event), "info"))

    async def _draw_interrupt(self, event: Interrupt, entry: AssistantEntry) -> None:
        entry.add_raw(format_interrupt(event.id, event.value))
        if event.kind == InterruptKind.USER:
            return  # shown by the UserMessage event
        call = self.state.calls.get(event.id)
        if event.kind == InterruptKind.BACKGROUND:  # the answer ends without it
            await entry.add_chip("background", background_chip(event.id, call))
            self._calls.update_call(event.id)
            return
        value = clip(flat(event.value), VALUE_CELLS)
        # The time of this call's own result only: not for an error about a
        # later block reusing its id (an ERROR interrupt), nor for a call that
        # never ran.  The value may differ from the call's: results are cut to
        # their token budget before they reach the model.
        took = None
        if (
            call is not None
            and call.ms is not None
            and call.started_t is not None
            and event.kind == InterruptKind.TOOL
        ):
            took = call.ms
        ok = event.kind == InterruptKind.TOOL and (call is None or call.ok)
        text = result_text(
            event.id,
            value,
            took_ms=took,
            result_tokens=event.result_tokens,
            cut_tokens=event.cut_tokens,
        )
        await entry.add_chip("result" if ok else "error", text)
        self._calls.update_call(event.id)

    def _running_at(self, ids: str, t: float) -> list[str]:
        """Which of the comma-separated call ids were still going at engine time
        ``t`` (a saved turn is drawn after its calls ended)."""
        out = []
        for call_id in ids.split(", "):
            call = self.state.calls.get(call_id)
            if call is not None and (
                not call.status.finished or (call.finished_t is not None and call.finished_t > t)
            ):
                out.append(call_id)
        return out

    @staticmethod
    async def _draw_turn_end(event: TurnDone, entry: AssistantEntry) -> None:
        if event.reason == StopReason.STOPPED:
            await entry.add_chip("stop", "stopped by you; the partial answer is kept")
        elif event.reason == StopReason.MAX_TOKENS:
            await entry.add_chip("info", "reached generation.max_tokens")
        elif event.reason == StopReason.CLOSED:
            await entry.add_chip("stop", "cut off: asynclm closed before the answer ended")
        await entry.finish()
