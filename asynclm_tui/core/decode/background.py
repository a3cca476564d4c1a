"""Calls that outlive their answer: how their results find a turn.

The decode loop leaves calls in the background at an answer's end
(``Turn._at_end``); the mailbox holds their results, and those of
``deliver: when_idle`` calls, until a turn takes them (see core.decode.mailbox).
This module is the engine's side of it: each tool's delivery policy, a
change made to one call from the UI, a result held rather than injected, and
the calls a saved chat left running when the app quit.
"""

from __future__ import annotations

import dataclasses

from asynclm_tui.core.api.bus import EventBus
from asynclm_tui.core.api.delivery import CallBackgrounded, ResultHeld, SetDelivery
from asynclm_tui.core.api.enums import CallStatus, DeliverIdle
from asynclm_tui.core.decode.mailbox import Mailbox, Policy
from asynclm_tui.core.decode.session import Session
from asynclm_tui.core.tools.executor import CallResult
from asynclm_tui.core.tools.registry import ToolRegistry

AT_EXIT_NOTE = "error: interrupted at exit (asynclm quit while it ran); its result is lost"
"""What the model reads about a call of a resumed chat that never finished."""


def policy_for(registry: ToolRegistry, name: str) -> Policy:
    """How calls of tool ``name`` deliver their results (the default for a
    tool the registry does not know)."""
    spec = registry.get(name)
    if spec is None:
        return Policy()
    return Policy(spec.deliver, spec.deliver_idle, spec.background)


def change_delivery(change: SetDelivery, mailbox: Mailbox, bus: EventBus, session: int) -> None:
    """Apply the user's change to one call's delivery and announce it."""
    policy = mailbox.policy(change.call_id)
    policy = dataclasses.replace(
        policy,
        deliver=change.deliver or policy.deliver,
        deliver_idle=change.deliver_idle or policy.deliver_idle,
    )
    mailbox.set_policy(change.call_id, policy)
    bus.emit(
        CallBackgrounded(bus.now(), change.call_id, policy.deliver, policy.deliver_idle, session)
    )


def quiet_if_cancelled(result: CallResult, session: Session, mailbox: Mailbox) -> None:
    """A background call the user cancelled needs no turn of its own: the
    model learns it with the next message."""
    if result.status is CallStatus.CANCELLED and result.id in session.background:
        policy = dataclasses.replace(mailbox.policy(result.id), deliver_idle=DeliverIdle.SILENT)
        mailbox.set_policy(result.id, policy)


def announce_held(bus: EventBus, mailbox: Mailbox, result: CallResult, held: Policy | None) -> None:
    """Say that a result waits for a turn (None: it went into the answer),
    then let it start its turn."""
    if held is not None:
        bus.emit(ResultHeld(bus.now(), result.id, held.deliver_idle, result.session))
        mailbox.offer_turn()


def announce_held_again(
    bus: EventBus, mailbox: Mailbox, ids: tuple[str, ...], session: int
) -> None:
    """Results a turn ended without taking wait for a later one (see
    ``Mailbox.end_turn``)."""
    for call_id in ids:
        bus.emit(ResultHeld(bus.now(), call_id, mailbox.policy(call_id).deliver_idle, session))


def tell_interrupted(mailbox: Mailbox, ids: tuple[str, ...]) -> None:
    """A resumed chat's calls that never finished: the next turn starts by
    telling the model, one error interrupt each."""
    for call_id in ids:
        mailbox.post_error(call_id, AT_EXIT_NOTE)
