"""Drawing a saved chat: its stored events go through the same
:class:`~asynclm_tui.ui.chat.painter.ChatPainter` that drew them live, so
chips, the calls panel and the timeline come back as they were.

A long chat opens at once: every turn goes into the chat's state first (plain
data, the timeline has it all), the newest turns that fill the screen are
drawn and painted, and older turns are then built off screen a few at a time
and mounted above them.
Each batch holds the app's event lock, so a live turn never interleaves with
it, and keys are handled between batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from asynclm_tui.core.api.display import visible_event
from asynclm_tui.core.api.enums import CallStatus, InterruptKind, StopReason
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    Event,
    Interrupt,
    Prefilled,
    Token,
    Trapped,
    TurnDone,
    TurnStarted,
    UserMessage,
)
from asynclm_tui.core.sessions.records import from_record
from asynclm_tui.core.sessions.store import StoredSession, StoredTurn
from asynclm_tui.core.tools.executor import AT_EXIT
from asynclm_tui.ui.widgets.transcript import NoticeEntry, Staging, Transcript

if TYPE_CHECKING:
    from textual.widget import Widget

    from asynclm_tui.ui.chat.screen import ChatScreen

CUT_OFF = AT_EXIT
BATCH_TURNS = 4
"""Older turns built and mounted per step (each step holds the UI briefly)."""


def turn_events(turn: StoredTurn, running: frozenset[str] = frozenset()) -> list[Event]:
    """A stored turn's events; a turn cut off by a crash or quit gets an end,
    and unfinished calls end as cancelled, interrupted at exit, so nothing
    looks still alive (but those in ``running``: calls of a chat opened again
    in the run that left them in the background)."""
    out: list[Event] = []
    for kind, data in turn.events:
        event = from_record(kind, data)
        if event is None:
            continue
        event = visible_event(event)  # as the app shows live events
        if isinstance(event, Prefilled) or (
            isinstance(event, CallUpdated) and event.status is not CallStatus.RUNNING
        ):
            # Steps on the way (queued, approval asked): each restyles a
            # calls-panel row, and the final state comes with CallFinished.
            # The start is kept: it says the call ran, and from when.
            continue
        out.append(event)
    t = out[-1].t if out else 0.0
    # A call with no end was running when asynclm ended (killed, or ended
    # before the end was saved), whether or not its turn had ended.  Its end
    # carries the session of its own events: the chat state matches on it.
    sessions = {e.id: e.session for e in out if isinstance(e, CallIssued)}
    for call in turn.calls:
        if not CallStatus(call.status).finished and call.call_id not in running:
            # One that had started ran at least until the last thing saved.
            ran_s = 0.0 if call.started_t is None else max(0.0, t - call.started_t)
            out.append(
                CallFinished(
                    t,
                    call.call_id,
                    False,
                    ran_s * 1000,
                    CallStatus.CANCELLED,
                    f"error: {CUT_OFF}",
                    sessions.get(call.call_id, 0),
                )
            )
    if turn.complete:
        return out
    out.append(
        TurnDone(
            t,
            StopReason.CLOSED,
            turn.n_prompt,
            turn.n_generated,
            turn.n_injected,
            0,
            0,
            0.0,
            0.0,
            0.0,
            turn.raw_text,
        )
    )
    return out


def screenful(turns: Sequence[Sequence[Event]], width: int, height: int) -> int:
    """How many of the newest ``turns`` are sure to fill ``height`` rows: the
    ones drawn before the first paint.  Each turn is counted at the fewest
    rows it can take (see :func:`least_rows`), so the screen is full when it
    first shows; drawing more would only delay it."""
    rows = 0
    for count, events in enumerate(reversed(turns), 1):
        rows += least_rows(events, max(1, width))
        if rows >= height:
            return count
    return len(turns)


def least_rows(events: Sequence[Event], width: int) -> int:
    """The fewest rows a turn's entries take at ``width`` columns or fewer:
    the two headers, a row per chip, and its prompt and each run of text
    between chips as if it filled every column of every row."""
    rows = 0
    text: list[str] = []

    def text_rows(chars: int) -> int:
        return -(-chars // width)

    def close_text() -> None:
        nonlocal rows
        rows += text_rows(len("".join(text).strip()))
        text.clear()

    for event in events:
        match event:
            case TurnStarted():
                rows += 2 + max(1, text_rows(len(event.text.strip())))
            case Token():
                text.append(event.visible)
            case Interrupt() if event.kind == InterruptKind.USER:
                pass  # its chip comes with the UserMessage
            case CallIssued() | Interrupt() | UserMessage() | Trapped():
                close_text()
                rows += 1
    close_text()
    return rows


async def replay(
    chat: ChatScreen,
    stored: StoredSession,
    lock: asyncio.Lock,
    shown: asyncio.Event,
    running: frozenset[str] = frozenset(),
) -> None:
    """Draw ``stored`` into ``chat`` (before the engine starts): the recent
    turns now, older ones in the background once ``shown`` (a frame has
    reached the terminal) is set (``lock``: the app's event lock;
    ``running``: its calls that still run)."""
    turns = [turn_events(turn, running) for turn in stored.turns]
    # Until the oldest turn is drawn; the name is this replay's own, since the
    # drawing of a chat opened before it may still be ending.
    holder = f"replay {id(turns)}"
    chat.quiet_gc.hold(holder)
    for events in turns:
        for event in events:
            chat.state.apply(event)
    size = chat.app.size
    split = len(turns) - screenful(turns, size.width, size.height)
    first = len(chat.transcript.children)
    with chat.app.batch_update(), chat.bindings_held():
        for events in turns[split:]:
            await _draw_turn(chat, events, chat.transcript)
    info = stored.info
    await chat.transcript.mount(
        NoticeEntry(
            f"Continuing chat {info.id}: {info.title or 'untitled'} "
            f"({len(turns)} turn{'' if len(turns) == 1 else 's'}). "
            "The model gets the same context back.",
            "ready",
        )
    )
    chat.transcript.scroll_end(animate=False)
    chat.background.refresh()  # calls it left in the background, counted
    if split:
        chat.draw_history(
            _draw_older(chat, turns[:split], chat.transcript.children[first], lock, shown, holder)
        )
    else:
        chat.quiet_gc.release(holder)


async def _draw_turn(chat: ChatScreen, events: list[Event], into: Transcript | Staging) -> None:
    for event in events:
        await chat.painter.draw(event, into)
    if into.current is not None:
        await into.current.finish()


async def _draw_older(
    chat: ChatScreen,
    turns: list[list[Event]],
    top: Widget,
    lock: asyncio.Lock,
    shown: asyncio.Event,
    holder: str,
) -> None:
    """Build ``turns`` newest batch first and mount each above the last,
    once the recent turns are on the terminal (a refresh inside the app's
    mount is not: its frames are held back); then let ``holder``'s hold on
    full collections go."""
    try:
        await shown.wait()
        end = len(turns)
        while end > 0:
            # A paint between batches: keys typed meanwhile are handled first.
            await _next_refresh(chat)
            start = max(0, end - BATCH_TURNS)
            async with lock:
                staging = Staging()
                for events in turns[start:end]:
                    await _draw_turn(chat, events, staging)
                with chat.app.batch_update():
                    await chat.transcript.mount_all(staging.widgets, before=top)
                    await chat.calls.add_earlier(
                        [
                            chat.state.calls[e.id]
                            for events in turns[start:end]
                            for e in events
                            if isinstance(e, CallIssued) and e.id in chat.state.calls
                        ]
                    )
            top = staging.widgets[0] if staging.widgets else top
            end = start
    finally:
        chat.quiet_gc.release(holder)


async def _next_refresh(chat: ChatScreen) -> None:
    """Return after the screen has next refreshed."""
    done = asyncio.Event()
    chat.call_after_refresh(done.set)
    await done.wait()
