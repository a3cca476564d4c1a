"""Events and inputs about calls that outlive their answer.

An answer that reaches its end with calls still running waits for them at
most ``tools.wait_at_end_s`` (not at all for a ``background: true`` tool),
then ends and leaves them *in the background*: :class:`CallBackgrounded`.
Their results are delivered when they finish, as their tool's ``deliver`` and
``deliver_idle`` say; one that is not injected into an answer at once is
*held* (:class:`ResultHeld`) until a turn takes it: the turn it starts, or the
user's next message.  :class:`SetDelivery` changes one call's delivery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from asynclm_tui.core.api.enums import Deliver, DeliverIdle
from asynclm_tui.core.api.events import NOT_IN_JSON, Event, Input


@dataclass(frozen=True)
class CallBackgrounded(Event):
    """A call runs on after its answer ended, or its delivery changed."""

    name: ClassVar[str] = "background"
    id: str
    deliver: Deliver
    deliver_idle: DeliverIdle
    session: int = field(default=0, metadata=NOT_IN_JSON)


@dataclass(frozen=True)
class ResultHeld(Event):
    """A result that is not going into an answer now: it waits for the turn
    it starts (``answer``) or for the user's next message."""

    name: ClassVar[str] = "result_held"
    id: str
    deliver_idle: DeliverIdle
    session: int = field(default=0, metadata=NOT_IN_JSON)


@dataclass(frozen=True)
class SetDelivery(Input):
    """Change how one call's result is delivered (fields left None keep
    their value); a result already held and now asking for an answer starts
    its turn."""

    call_id: str
    deliver_idle: DeliverIdle | None = None
    deliver: Deliver | None = None
