"""What the UI remembers about turns and calls, built only from engine events.

Pure data (no widgets) so the timeline arithmetic can be tested on its own.
Times are engine seconds (the ``t`` of events).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len, chop_cells

from asynclm_tui.core.api.chips import fmt_seconds as fmt_seconds
from asynclm_tui.core.api.delivery import CallBackgrounded, ResultHeld
from asynclm_tui.core.api.enums import CallStatus, Deliver, DeliverIdle, InterruptKind, StopReason
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallProgress,
    CallUpdated,
    ContextSlid,
    Event,
    HeldResults,
    HeldState,
    Interrupt,
    Prefilled,
    Resumed,
    SessionStarted,
    Token,
    Trapped,
    TurnDone,
    TurnStarted,
    format_args,
)

_RAN = frozenset({CallStatus.DONE, CallStatus.TIMED_OUT})
"""End states only a call that ran reaches."""


def clip(text: str, cells: int) -> str:
    """``text`` cut to ``cells`` terminal cells, ending in ``…`` when cut.

    Widths come from Rich's ``cell_len`` (what Textual lays out with), and
    the cut never splits a character cluster: a skin-tone emoji cut from
    its modifier would be drawn wider than it was measured, breaking borders.
    """
    if cell_len(text) <= cells:
        return text
    return chop_cells(text, max(1, cells - 1))[0] + "…"


def slid_text(event: ContextSlid) -> str:
    """What the transcript says when the context window slid."""
    turns = "turn" if event.dropped_turns == 1 else f"{event.dropped_turns} turns"
    return (
        f"context window full: the oldest {turns} left the model's context "
        f"({event.n_before:,} → {event.n_after:,} tokens; they stay here and in the saved "
        f"chat); {event.n_evaluated:,} tokens re-read in {fmt_seconds(event.ms)}"
    )


@dataclass
class CallRecord:
    """One call as the calls panel and the timeline see it."""

    id: str
    fn: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    turn: int
    issued_t: float
    estimate_ms: float = 0.0
    wants_result: bool = True
    session: int = 0
    status: CallStatus = CallStatus.QUEUED
    started_t: float | None = None
    """When it first ran (after queueing or approval)."""
    finished_t: float | None = None
    ms: float | None = None
    """Run time reported by the executor."""
    ok: bool | None = None
    value: str = ""
    landed_t: float | None = None
    """When its result was appended to the model's context."""
    result_tokens: int = 0
    """Tokens of the whole result, once it landed (0: not counted)."""
    cut_tokens: int = 0
    """Tokens of the result its budget kept from the model."""
    held: HeldState | None = None
    """Set when its turn ended before the result: held back, kept or dropped."""
    progress: tuple[float, float | None, str] | None = None
    """The latest progress it reported: (done, total or None, message)."""
    deliver: Deliver | None = None
    """How its result reaches an answer being written (None: the engine has
    not said; its tool's setting applies)."""
    deliver_idle: DeliverIdle | None = None
    """How its result is delivered while nothing is written (None: not said)."""
    background_t: float | None = None
    """When its answer ended without it (None: it did not outlive its answer)."""
    result_held: DeliverIdle | None = None
    """Set while its finished result waits for a turn, to how it goes in."""
    landed_turn: int | None = None
    """The turn its result went into."""

    @property
    def in_background(self) -> bool:
        """It outlived its answer and the model has not had its result yet:
        still running, or finished and held for a later turn (not one that
        ended with the app, as a resumed chat's calls interrupted at exit)."""
        waiting = not self.status.finished or self.result_held is not None
        return (
            self.background_t is not None
            and self.landed_t is None
            and self.held is None
            and waiting
        )

    def signature(self, limit: int = 60) -> str:
        """The call's arguments as written, cut to ``limit`` characters."""
        return clip(format_args(self.args, self.kwargs, limit=1 << 30), limit)

    def elapsed_ms(self, now: float) -> float:
        """Time since issue (running calls) or the final run time."""
        if self.ms is not None and self.status.finished:
            return self.ms
        return max(0.0, (now - (self.started_t or self.issued_t)) * 1000)


@dataclass
class TurnRecord:
    """One assistant turn: when it decoded, paused and what it called."""

    number: int
    mode: str
    user_text: str
    start_t: float
    started_by: tuple[str, ...] = ()
    """Calls whose results started this turn (no message of the user's)."""
    prefill_t: float | None = None
    end_t: float | None = None
    pauses: list[tuple[float, float | None, str]] = field(default_factory=list)
    """(start, end or None while waiting, reason) for each trap/sync wait."""
    calls: list[str] = field(default_factory=list)
    interrupts: list[tuple[float, str, str]] = field(default_factory=list)
    """(t, id, kind) of each interrupt that landed."""
    appends: list[tuple[float, float]] = field(default_factory=list)
    """(start, end) of each decode call that appended interrupts."""
    n_tokens: int = 0
    n_prompt: int = 0
    n_injected: int = 0
    done: TurnDone | None = None

    def waited_ms(self, now: float) -> float:
        """Time decoding sat paused waiting for results."""
        total = 0.0
        for start, end, _ in self.pauses:
            total += ((end if end is not None else now) - start) * 1000
        return total


@dataclass(frozen=True)
class Savings:
    """The timeline's summary: actual time against a synchronous run."""

    actual_ms: float
    calls_ms: float
    waited_ms: float

    @property
    def saved_ms(self) -> float:
        """Call time that overlapped decoding or other calls."""
        return max(0.0, self.calls_ms - self.waited_ms)

    @property
    def sync_ms(self) -> float:
        """Estimated wall time had every call blocked decoding in turn."""
        return self.actual_ms + self.saved_ms

    @property
    def saved_fraction(self) -> float:
        """Saved time as a share of the synchronous estimate."""
        return self.saved_ms / self.sync_ms if self.sync_ms > 0 else 0.0


class ChatState:
    """Turns and calls of the session, updated event by event."""

    def __init__(self) -> None:
        self.turns: list[TurnRecord] = []
        self.calls: dict[str, CallRecord] = {}

    @property
    def current(self) -> TurnRecord | None:
        """The latest turn (running or finished)."""
        return self.turns[-1] if self.turns else None

    def apply(self, event: Event) -> None:
        """Fold one engine event into the state."""
        turn = self.current
        if isinstance(event, TurnStarted):
            record = TurnRecord(event.turn, event.mode, event.text, event.t, event.started_by)
            self.turns.append(record)
            return
        if isinstance(event, SessionStarted):
            self.rebind(event.session)
            return
        if turn is None:
            return
        match event:
            case Prefilled():
                turn.prefill_t = event.t
                turn.n_prompt = event.n_prompt
            case Token(text=text) if text:
                turn.n_tokens += 1
            case CallIssued():
                self.calls[event.id] = CallRecord(
                    event.id,
                    event.fn,
                    tuple(event.args),
                    dict(event.kwargs),
                    turn.number,
                    event.t,
                    event.estimate_ms,
                    event.wants_result,
                    event.session,
                )
                turn.calls.append(event.id)
            case CallUpdated() if (call := self._call(event.id, event.session)) is not None:
                if not call.status.finished:  # (a saved chat's cut-off end comes first)
                    call.status = event.status
                if event.status is CallStatus.RUNNING and call.started_t is None:
                    call.started_t = event.t
            case CallProgress() if (call := self._call(event.id, event.session)) is not None:
                call.progress = (event.progress, event.total, event.message)
            case CallFinished() if (call := self._call(event.id, event.session)) is not None:
                call.status = event.status
                call.finished_t = event.t
                if call.started_t is None and event.status in _RAN:
                    # Its start was not seen (a log without it), yet a call
                    # that ended this way ran, ``ms`` at most before it finished.
                    call.started_t = event.t - event.ms / 1000
                call.ms = event.ms
                call.ok = event.ok
                call.value = event.value
            case Interrupt():
                turn.interrupts.append((event.t, event.id, event.kind))
                turn.n_injected += event.n_tokens
                start = event.t - event.inject_ms / 1000
                if not turn.appends or turn.appends[-1][1] != event.t:  # one span per append
                    turn.appends.append((start, event.t))
                call = self.calls.get(event.id)
                if call is None or event.kind == InterruptKind.USER:
                    pass
                elif event.kind == InterruptKind.BACKGROUND:  # the news, not its result
                    if call.background_t is None:
                        call.background_t = event.t
                else:
                    call.landed_t = event.t
                    call.landed_turn = turn.number
                    call.result_held = None
                    call.result_tokens = event.result_tokens
                    call.cut_tokens = event.cut_tokens
            case CallBackgrounded() if (call := self._call(event.id, event.session)) is not None:
                call.deliver, call.deliver_idle = event.deliver, event.deliver_idle
                # Sent as its answer ends (the [INTR] notice follows) or when
                # the user changes its delivery: only the latter, once its
                # answer has ended, is news that it runs on.
                ended = not (turn.done is None and call.turn == turn.number)
                if ended and call.background_t is None and call.landed_t is None:
                    call.background_t = event.t
            case ResultHeld() if (call := self._call(event.id, event.session)) is not None:
                call.result_held = call.deliver_idle = event.deliver_idle
            case HeldResults():
                for call_id in event.ids:
                    if call_id in self.calls:
                        self.calls[call_id].held = event.state
            case Trapped():
                turn.pauses.append((event.t, None, event.reason))
            case Resumed() if turn.pauses and turn.pauses[-1][1] is None:
                start, _, reason = turn.pauses[-1]
                turn.pauses[-1] = (start, event.t, reason)
            case TurnDone():
                turn.end_t = event.t
                turn.done = event
                if event.reason == StopReason.EOS:
                    # An answer that ended by itself left every call it has
                    # no result of in the background (a stop holds them back).
                    for call_id in turn.calls:
                        call = self.calls[call_id]
                        waits = call.landed_t is None and call.held is None
                        if call.wants_result and waits and call.background_t is None:
                            call.background_t = event.t
                for i, (start, end, reason) in enumerate(turn.pauses):
                    if end is None:
                        turn.pauses[i] = (start, event.t, reason)

    def rebind(self, session: int) -> None:
        """The chat on screen is engine session ``session`` from now on (a
        saved chat opened, or the engine started it): the events of its
        calls, those it took back still running included, carry that serial."""
        for call in self.calls.values():
            call.session = session

    def _call(self, call_id: str, session: int) -> CallRecord | None:
        """The record of call ``call_id`` if it belongs to ``session``."""
        call = self.calls.get(call_id)
        return call if call is not None and call.session == session else None

    def savings(self, turn: TurnRecord, now: float) -> Savings:
        """Time saved in ``turn`` against running its calls synchronously.

        Only calls that did their job count: a result that reached the model
        (or a fire-and-forget call that completed), and calls still running.
        A call cancelled, held back or dropped when the answer stopped saved
        nothing, whatever it overlapped."""
        end = turn.end_t if turn.end_t is not None else now
        calls_ms = 0.0
        for call_id in turn.calls:
            call = self.calls[call_id]
            if call.background_t is not None and call.started_t is not None:
                # Only its time within this answer: the rest overlapped
                # later turns, or nothing.
                stop = min(end, call.finished_t if call.finished_t is not None else now)
                calls_ms += max(0.0, stop - call.started_t) * 1000
            elif not call.status.finished:
                calls_ms += call.elapsed_ms(now)
            elif call.ms is not None and (
                call.landed_t is not None
                or (not call.wants_result and call.status is CallStatus.DONE)
            ):
                calls_ms += call.ms
        return Savings((end - turn.start_t) * 1000, calls_ms, turn.waited_ms(now))

    def active_calls(self) -> list[CallRecord]:
        """Calls not yet finished."""
        return [c for c in self.calls.values() if not c.status.finished]

    def background_calls(self) -> list[CallRecord]:
        """Calls that outlived their answer whose results the model has not
        had: running, or finished and held for a later turn."""
        return [c for c in self.calls.values() if c.in_background]

    def foreground_calls(self) -> list[CallRecord]:
        """Calls not yet finished that are not in the background (those of
        the running answer, or of a stopped one)."""
        return [c for c in self.active_calls() if not c.in_background]

    def carried_into(self, turn: TurnRecord) -> list[CallRecord]:
        """Calls of earlier answers still in the background when ``turn``
        started (their results came in it, later, or not yet)."""
        return [
            c
            for c in self.calls.values()
            if c.background_t is not None
            and c.held is None
            and c.issued_t < turn.start_t
            and c.background_t <= turn.start_t
            and (c.landed_t is None or c.landed_t >= turn.start_t)
        ]

    def held_calls(self) -> list[CallRecord]:
        """Calls of a stopped turn whose results are held back from the model."""
        return [c for c in self.calls.values() if c.held is HeldState.HELD]
