"""A saved chat as read back from the sessions database: sessions, turns,
calls and interrupts as plain data (:class:`~.store.SessionStore` reads them)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from asynclm_tui.core.api.enums import CallStatus, DeliverIdle, InterruptKind
from asynclm_tui.core.api.events import WaitingResult
from asynclm_tui.core.cml.prompt import result_notice
from asynclm_tui.core.tools.executor import AT_EXIT


@dataclass(frozen=True)
class SessionInfo:
    """One row of ``asynclm sessions list``."""

    id: int
    title: str
    created: float
    updated: float
    turns: int
    model: str = ""
    source: str = "chat"

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "id": self.id,
            "title": self.title,
            "created": _iso(self.created),
            "updated": _iso(self.updated),
            "turns": self.turns,
            "model": self.model,
            "source": self.source,
        }


@dataclass
class StoredCall:
    """A call as recorded: tool, arguments, status, timings and result."""

    call_id: str
    fn: str
    args: dict[str, Any]
    wants_result: bool
    status: str
    issued_t: float
    started_t: float | None
    finished_t: float | None
    ms: float | None
    ok: bool | None
    result: str | None
    estimate_ms: float = 0.0
    background_t: float | None = None
    """When its answer ended without it and it ran on in the background
    (None: it never did)."""
    deliver: str | None = None
    """How its result was to reach an answer being written (``interrupt`` or
    ``when_idle``); None: the default, never announced."""
    deliver_idle: str | None = None
    """How its result was to be delivered while no answer was being written
    (``answer``, ``notify``, ``silent``)."""
    held_t: float | None = None
    """When its result was held for a later turn rather than injected."""

    @property
    def interrupted_at_exit(self) -> bool:
        """It never ended, or ended because asynclm quit while it ran."""
        if not CallStatus(self.status).finished:
            return True
        return self.status == CallStatus.CANCELLED and AT_EXIT in (self.result or "")

    def took_s(self) -> float | None:
        """Seconds from its issue to its end (None: it has no end)."""
        if self.finished_t is None:
            return None
        return max(0.0, self.finished_t - self.issued_t)


@dataclass
class StoredInterrupt:
    """Where an interrupt landed: its KV-cache token offset and its text."""

    call_id: str
    kind: str
    value: str
    n_tokens: int
    token_offset: int
    t: float

    @property
    def tells_result(self) -> bool:
        """It gave the model the call's outcome: its result, or the news that
        asynclm quit while it ran (what a continued chat says)."""
        if self.kind == InterruptKind.TOOL:
            return True
        return self.kind == InterruptKind.ERROR and AT_EXIT in self.value


@dataclass
class StoredTurn:
    """One turn with everything needed to show it and to continue after it."""

    number: int
    mode: str
    user_text: str
    raw_text: str
    visible_text: str
    started: float
    ended: float | None
    reason: str | None
    n_prompt: int
    n_generated: int
    n_injected: int
    tok_s: float | None
    calls: list[StoredCall] = field(default_factory=list)
    interrupts: list[StoredInterrupt] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """The replay log: (kind, fields) of the turn's events, text coalesced."""
    started_by: tuple[str, ...] = ()
    """Calls whose results started this turn, with no message of the user's
    (``user_text`` is then empty): they outlived an earlier answer."""

    @property
    def complete(self) -> bool:
        """False when the process ended before the turn did."""
        return self.ended is not None


@dataclass
class StoredSession:
    """A whole chat."""

    info: SessionInfo
    system: str
    turns: list[StoredTurn]
    queued: list[str] = field(default_factory=list)
    """Messages the user had queued for after the answer, not yet sent."""

    def messages(self) -> list[dict[str, str]]:
        """The chat history the model saw: system, then user/assistant pairs
        (the assistant's raw CML text, interrupts included).  A turn started
        by results answers their notice (``result_notice``) in the user's place."""
        out = [{"role": "system", "content": self.system}] if self.system else []
        for turn in self.turns:
            if turn.started_by and not turn.raw_text:
                continue  # its prompt never got in
            said = result_notice(turn.started_by) if turn.started_by else turn.user_text
            out.append({"role": "user", "content": said})
            out.append({"role": "assistant", "content": turn.raw_text})
        return out

    def calls(self) -> dict[str, StoredCall]:
        """Every call of the chat by id, in the order issued."""
        return {c.call_id: c for t in self.turns for c in t.calls}

    def _told(self) -> set[str]:
        """Calls whose outcome the model read (an interrupt that tells it)."""
        return {i.call_id for t in self.turns for i in t.interrupts if i.tells_result}

    def interrupted_at_exit(self) -> tuple[str, ...]:
        """Calls that asynclm quit (or was killed) while they ran and whose
        outcome the model never read: a continued chat tells it, once."""
        told = self._told()
        return tuple(
            c.call_id
            for c in self.calls().values()
            if c.wants_result and c.interrupted_at_exit and c.call_id not in told
        )

    def waiting_results(self) -> tuple[WaitingResult, ...]:
        """Results the model never read that were waiting for a turn: held
        when asynclm quit, or landed after the chat was left for another.
        A continued chat delivers them as their calls said, once."""
        told = self._told()
        return tuple(
            WaitingResult(c.call_id, c.result, DeliverIdle(c.deliver_idle or DeliverIdle.ANSWER))
            for c in self.calls().values()
            if c.wants_result
            and c.held_t is not None
            and c.result is not None
            and not c.interrupted_at_exit
            and c.call_id not in told
        )


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(ts))
