"""How the chat words calls that outlive their answer and their delivery.

One place for the sentences the calls panel, the transcript, the toasts and
the call's screen use, so a mode reads the same everywhere.  Pure text from
:class:`~asynclm_tui.ui.state.CallRecord` objects (no widgets).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from asynclm_tui.core.api.chips import ENDED_VERBS
from asynclm_tui.core.api.enums import Deliver, DeliverIdle
from asynclm_tui.core.api.events import HeldState
from asynclm_tui.ui.state import CallRecord, fmt_seconds

DELIVERY_CYCLE = (DeliverIdle.ANSWER, DeliverIdle.NOTIFY, DeliverIdle.SILENT)
"""The order the calls panel's key steps a call's delivery through."""

WHEN_DONE = {
    DeliverIdle.ANSWER: "its result starts a new answer",
    DeliverIdle.NOTIFY: "you are told, and it goes in with your next message",
    DeliverIdle.SILENT: "it goes in with your next message, unannounced",
}
"""What happens when a call in the background finishes, by its delivery."""


def next_delivery(current: DeliverIdle) -> DeliverIdle:
    """answer -> notify -> silent -> answer."""
    return DELIVERY_CYCLE[(DELIVERY_CYCLE.index(current) + 1) % len(DELIVERY_CYCLE)]


def delivery_label(call: CallRecord) -> str:
    """``answer``, ``notify · when idle``: the call's delivery in a few words
    (empty while the engine has not said)."""
    if call.deliver_idle is None:
        return ""
    idle = " · when idle" if call.deliver is Deliver.WHEN_IDLE else ""
    return f"{call.deliver_idle.value}{idle}"


def call_name(call: CallRecord) -> str:
    """``build b1``, or ``sleep1`` for an id that already names its tool."""
    return call.id if call.id.startswith(call.fn) else f"{call.fn} {call.id}"


def ended_verb(call: CallRecord) -> str:
    """``finished``, ``failed``, ``timed out`` ... (``finished`` while unknown)."""
    return ENDED_VERBS.get(call.status, "finished")


def held_line(call: CallRecord) -> str:
    """What becomes of a finished result held for a later turn ('' if none)."""
    match call.result_held:
        case DeliverIdle.NOTIFY:
            return "● result waiting: it goes in with your next message"
        case DeliverIdle.SILENT:
            return "result held (silent): it goes in with your next message"
        case DeliverIdle.ANSWER:
            return "result in: it starts a new answer"
    return ""


def notify_text(call: CallRecord) -> str:
    """The toast for a result held with ``notify``."""
    return f"{call_name(call)} {ended_verb(call)}: its result goes in with your next message"


def away_text(name: str, title: str, width: int = 40) -> str:
    """The toast for a call of a chat no longer on screen that just ended."""
    title = " ".join(title.split())
    if len(title) > width:
        title = title[: width - 1] + "…"
    return f"{name} ended: its result waits in the chat “{title}” (Ctrl+S opens it)"


def background_chip(call_id: str, call: CallRecord | None) -> str:
    """The transcript's line where an answer ended without ``call_id``."""
    idle = call.deliver_idle if call is not None else None
    then = WHEN_DONE[idle] if idle is not None else "its result comes in a later turn"
    return f"{call_id} runs on in the background · when it is done, {then}"


def result_turn_text(calls: Mapping[str, CallRecord], ids: Sequence[str], t: float) -> str:
    """``⚙ sleep s1 finished after 15.0 s``: the line that stands for the
    user's message in a turn started by results (``t``: the turn's start,
    for a call whose end was not seen)."""
    parts = []
    for call_id in ids:
        call = calls.get(call_id)
        if call is None:
            parts.append(f"{call_id} finished")
            continue
        end = call.finished_t if call.finished_t is not None else t
        took = fmt_seconds(max(0.0, end - call.issued_t) * 1000)
        parts.append(f"{call_name(call)} {ended_verb(call)} after {took}")
    return "⚙ " + " · ".join(parts)


def detail_sentence(call: CallRecord) -> str | None:
    """The call screen's sentence for a call in the background (None: not one)."""
    if not call.in_background:
        return None
    if call.result_held is not None:
        return f"It {ended_verb(call)} after its answer ended: {held_line(call).lstrip('● ')}."
    idle = call.deliver_idle
    then = WHEN_DONE[idle] if idle is not None else "its result comes in a later turn"
    return f"Running in the background since its answer ended; when it is done, {then}."


def refusal(call: CallRecord) -> str | None:
    """Why the delivery of ``call`` cannot change now (None: it can)."""
    name = f"{call.id} {call.fn}()"
    if not call.wants_result:
        return f"{name} asked for no result: there is nothing to deliver."
    if call.landed_t is not None:
        return f"{name}: its result is already in the model's context."
    if call.held is HeldState.HELD:
        return f"{name}: its answer was stopped, so its result is held back (Ctrl+G keeps it)."
    if call.held is not None:
        return f"{name}: its answer was stopped; its result no longer waits for delivery."
    if call.status.finished and call.result_held is None:
        return f"{name} already ended: its result is on its way to the model."
    return None
