"""No message typed mid-answer goes unanswered: the engine's follow-up rule.

A message the user types while an answer is being written reaches the model
as ``[INTR] user [HEAD] text [END]`` and the answer is meant to take it up.
A model may instead end the answer right after it.  The rule:

- A message is *taken up* when, after it reached the model, the model issued a
  call or wrote at least :data:`TAKE_UP_TOKENS` tokens of visible text (text
  outside CML blocks that is not only white space).  A brief "Okay, Bob it
  is." is enough; an end-of-turn token, a lone full stop or a trap is not.
- When the answer ends (end of turn or the token limit) before the last
  message was taken up, that message (with any sent just before it and also
  not taken up) is answered as a turn of its own, right after this one and
  before anything typed later; its ``TurnStarted`` says ``follow_up``.
- An answer the user stopped, or one that failed, starts no follow-up: the
  user stopped it on purpose, and a failed turn gives back the messages that
  never reached the model on its own (see ``Engine._recover``).

Whether the text after the message really answers it is for the model (and
``asynclm bench tools``' steering measures); the rule only guarantees that the
user never waits on a message nobody will answer.
"""

from __future__ import annotations

from asynclm_tui.core.api.enums import StopReason
from asynclm_tui.core.api.events import CallIssued, Event, Token, UserMessage

TAKE_UP_TOKENS = 4
"""Visible tokens after a message that count as taking it up."""
FOLLOW_UP_ENDS = frozenset({StopReason.EOS, StopReason.MAX_TOKENS})
"""Turn endings after which an unanswered message gets a turn of its own."""


class FollowUpWatch:
    """Watches one turn's events (an event-bus sink) for messages typed
    mid-answer and whether the answer took them up.

    All the events it reads are emitted on the decode thread, which also
    calls :meth:`start` and :meth:`unanswered`, so it needs no lock."""

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._after = 0

    def start(self) -> None:
        """A new turn begins: forget the last one."""
        self._pending = []
        self._after = 0

    def __call__(self, event: Event) -> None:
        match event:
            case UserMessage(text=text):
                self._pending.append(text)
                self._after = 0  # counted from the latest message
            case Token(visible=visible) if self._pending and visible.strip():
                self._after += 1
                if self._after >= TAKE_UP_TOKENS:
                    self._pending = []
            case CallIssued() if self._pending:
                self._pending = []
            case _:
                pass

    def unanswered(self, reason: StopReason) -> list[str]:
        """The messages the turn that just ended (for ``reason``) left
        unanswered, oldest first; empty when it took them up or was stopped."""
        return list(self._pending) if reason in FOLLOW_UP_ENDS else []


def follow_up_text(messages: list[str]) -> str:
    """The follow-up turn's message: the unanswered messages, one per paragraph."""
    return "\n\n".join(messages)
