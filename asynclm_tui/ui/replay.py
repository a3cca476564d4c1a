"""Drawing a saved chat: its stored events go through the same
:meth:`ChatScreen.apply` that drew them live, so chips, the calls panel and
the timeline come back as they were."""

from __future__ import annotations

from typing import TYPE_CHECKING

from asynclm_tui.core.events import (
    CallFinished,
    CallStatus,
    CallUpdated,
    Event,
    Prefilled,
    TurnDone,
)
from asynclm_tui.core.kinds import StopReason
from asynclm_tui.core.sessions.records import from_record
from asynclm_tui.core.sessions.store import StoredSession, StoredTurn
from asynclm_tui.ui.widgets.transcript import NoticeEntry

if TYPE_CHECKING:
    from asynclm_tui.ui.screens.chat import ChatScreen

CUT_OFF = "asynclm closed before it finished"


def turn_events(turn: StoredTurn) -> list[Event]:
    """A stored turn's events; a turn cut off by a crash or quit gets an end,
    and its unfinished calls a cancelled status, so nothing looks still alive."""
    out: list[Event] = []
    for kind, data in turn.events:
        event = from_record(kind, data)
        if event is None:
            continue
        if isinstance(event, CallUpdated | Prefilled):
            # Steps on the way (queued, running, approval asked): each restyles
            # a calls-panel row, and the final state comes with CallFinished.
            continue
        out.append(event)
    if turn.complete:
        return out
    t = out[-1].t if out else 0.0
    for call in turn.calls:
        if not CallStatus(call.status).finished:
            out.append(CallFinished(t, call.call_id, False, 0.0, CallStatus.CANCELLED,
                                    f"error: {CUT_OFF}"))
    out.append(
        TurnDone(t, StopReason.CLOSED, turn.n_prompt, turn.n_generated, turn.n_injected, 0, 0,
                 0.0, 0.0, 0.0, turn.raw_text)
    )
    return out


async def replay(chat: ChatScreen, stored: StoredSession) -> None:
    """Draw ``stored`` into ``chat`` (before the engine starts)."""
    with chat.app.batch_update():
        for turn in stored.turns:
            for event in turn_events(turn):
                await chat.apply(event)
            entry = chat.transcript.current
            if entry is not None:
                await entry.finish()
    info = stored.info
    await chat.transcript.mount(
        NoticeEntry(
            f"Continuing chat {info.id}: {info.title or 'untitled'} "
            f"({len(stored.turns)} turn{'' if len(stored.turns) == 1 else 's'}). "
            "The model gets the same context back.",
            "ready",
        )
    )
    chat.transcript.scroll_end(animate=False)
