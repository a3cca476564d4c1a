"""Every message the user posts is delivered exactly once, whatever the turn's end.

A message reaches the model either as the user turn of a turn whose prompt
got into the context, or as ``[INTR] user`` appended mid-answer (a
``UserMessage`` event).  What happens to it otherwise:

- Taken from the inbox mid-answer but never appended (the turn failed or the
  context filled first): it goes back to the front of the inbox, in order, and
  is answered next, in a fresh window.  Each turn takes at least one message
  (its own), so giving back never loops.  Its text was not added to the
  answer, so the next prompt does not carry it twice.
- The message of a turn whose prompt never got in (too long for the context
  window even alone, the backend failed reading it, or Esc stopped a long
  prompt's reading): handed back to the user as a ``MessageReturned`` event,
  never retried on its own.  A follow-up
  turn is the engine's own re-ask of messages the model already read, so it
  hands nothing back.
- Stopping an answer once its prompt is in returns nothing: what was taken
  had already gone in.

A tool result taken but never appended (the context filled, or Esc) is held
for a later turn, like one that lands as a turn ends (core.decode.mailbox);
after a failure it is dropped, since it may be what failed.
"""

from __future__ import annotations

from asynclm_tui.core.api.enums import InterruptKind, StopReason
from asynclm_tui.core.api.events import MessageReturned, TurnFailed
from asynclm_tui.core.decode.follow_up import FollowUpWatch, follow_up_text
from asynclm_tui.core.decode.mailbox import Mailbox
from asynclm_tui.core.decode.session import Session
from asynclm_tui.core.decode.turn import Turn


def give_back(turn: Turn, session: Session, mailbox: Mailbox, reason: StopReason) -> None:
    """After a turn ends (for ``reason``): held calls end as cancelled,
    messages taken but never appended go back to the front of the inbox, and
    results that never got in wait for a later turn (the turn's end holds
    them), but after a failure: the result may be what failed."""
    turn.drop_held()
    texts = [p.value for p in turn.unsent if p.kind is InterruptKind.USER]
    results = [p for p in turn.unsent if p.kind is InterruptKind.TOOL]
    for item in results:
        session.outstanding.discard(item.id)
    turn.unsent.clear()
    mailbox.requeue_user(texts)
    if reason is not StopReason.ERROR:
        mailbox.requeue_results(results)


def hand_back(text: str, why: TurnFailed, *, follow_up: bool) -> MessageReturned | None:
    """The event that gives ``text`` back to the user when its turn failed, or
    was stopped, before the model read it (None for a follow-up: the model
    read those)."""
    if follow_up:
        return None
    return MessageReturned(why.t, text, why.reason, why.message)


def follow_up_next(watch: FollowUpWatch, mailbox: Mailbox, reason: StopReason) -> bool:
    """A message the answer ended without taking up goes back to the front of
    the inbox, to be answered as the next turn (before TurnDone, so the
    engine never looks idle in between); True when one did."""
    unanswered = watch.unanswered(reason)
    if unanswered:
        mailbox.requeue_user([follow_up_text(unanswered)])
    return bool(unanswered)
