"""``asynclm run``: one prompt, no UI, streamed as readable text, the raw CML
stream (``--raw``) or JSON lines (``--json``)."""

from __future__ import annotations

import queue
import sys
import threading
from dataclasses import dataclass
from typing import TextIO

from asynclm_tui.core.api.display import json_line, visible, visible_event
from asynclm_tui.core.api.enums import StopReason
from asynclm_tui.core.api.events import (
    ContextSlid,
    Event,
    Interrupt,
    ModelLoaded,
    ModelLoadFailed,
    ModelLoading,
    Prefilled,
    SendMessage,
    StopGeneration,
    Token,
    TurnDone,
    TurnFailed,
    TurnStarted,
)
from asynclm_tui.core.api.handle import EngineHandle
from asynclm_tui.core.cml.syntax import format_interrupt
from asynclm_tui.headless.answer_text import DIM, PLAIN, AnswerText
from asynclm_tui.headless.background import IdleWatch, Outliving


@dataclass(frozen=True)
class TimedMessage:
    """``--user-at MS:TEXT``: a user interrupt posted MS ms after decoding
    starts (after the prompt's prefill, so a slow prefill cannot swallow it)."""

    ms: float
    text: str

    @classmethod
    def parse(cls, spec: str) -> TimedMessage:
        """Parse ``MS:TEXT``.

        Raises:
            ValueError: with a message naming the problem.
        """
        ms, sep, text = spec.partition(":")
        if not sep or not text.strip():
            raise ValueError(f"expected MS:TEXT, got {spec!r}")
        try:
            value = float(ms)
        except ValueError:
            raise ValueError(f"{ms!r} is not a number of milliseconds") from None
        if value < 0:
            raise ValueError("milliseconds must not be negative")
        return cls(value, text)


def run_headless(
    engine: EngineHandle,
    prompt: str,
    *,
    as_json: bool = False,
    raw: bool = False,
    user_at: tuple[TimedMessage, ...] = (),
    debug: bool = False,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Run ``prompt`` and stream the answer; returns the process exit code: 0
    when every answer ended normally (or was stopped), 1 when the model did not
    load or a turn failed.  ``debug`` adds a failure's traceback.

    ``out`` gets the answer as text with a line per call and result
    (:class:`AnswerText`), or with ``raw`` the CML stream the model's context
    holds, or with ``as_json`` one JSON event per line; how the run goes (the
    model, notices, errors, speed) is said on ``err``.  Text for a terminal
    is made visible (:func:`visible_event`) first: no escape sequence the model
    or a tool wrote reaches it.

    Every ``user_at`` message is delivered: one due while the answer is written
    steers it; one due after it ended starts a turn of its own at its time, and
    one the answer ended without taking up is answered by the engine's
    follow-up turn.  A call that outlived its answer (``tools.wait_at_end_s``)
    is waited for too, and the turn its result starts is printed like the
    first (its ``turn`` event names the calls in ``started_by``).  Each later
    turn is reported, and the run ends once no turn runs, none is queued, no
    message is still due and no call still owes the model a turn (see
    :mod:`~asynclm_tui.headless.background`).  Ctrl+C stops the answer being
    written, or ends the wait for calls in the background (they are
    cancelled)."""
    events: queue.Queue[Event | None] = queue.Queue()  # None: the engine went idle
    engine.subscribe(events.put)
    watch = IdleWatch(engine, lambda: events.put(None))
    color = not as_json and out.isatty()
    run = _Run(
        engine,
        events,
        watch,
        RawText(out, color=color) if raw else AnswerText(out, color=color),
        as_json=as_json,
        raw=raw,
        user_at=user_at,
        debug=debug,
        out=out,
        err=err,
    )
    engine.start()
    engine.post(SendMessage(prompt))
    try:
        while True:
            try:  # (Ctrl+C may come while an event is written, too)
                code = run.step(events.get())
            except KeyboardInterrupt:
                code = run.interrupted()
            if code is not None:
                return code
    finally:
        watch.close()
        for timer in run.timers:
            timer.cancel()
        engine.close()


class _Run:
    """One run's state, event by event (on the calling thread)."""

    def __init__(
        self,
        engine: EngineHandle,
        events: queue.Queue[Event | None],
        watch: IdleWatch,
        answer: AnswerText | RawText,
        *,
        as_json: bool,
        raw: bool,
        user_at: tuple[TimedMessage, ...],
        debug: bool,
        out: TextIO,
        err: TextIO,
    ) -> None:
        self.engine = engine
        self.events = events
        self.watch = watch
        self.answer = answer
        self.as_json, self.raw, self.debug = as_json, raw, debug
        self.user_at = user_at
        self.out, self.err = out, err
        self.timers: list[threading.Timer] = []
        self.outliving = Outliving()
        self.stopping = False
        self.code: int | None = None
        """Set once a turn ended: the exit code so far (None while the first runs)."""

    def step(self, event: Event | None) -> int | None:
        """Show ``event``; the exit code once the run is over, else None."""
        engine, err = self.engine, self.err
        if event is None:  # the engine went idle: done, unless something is left
            return self.code if self.code is not None and self._finished() else None
        if isinstance(event, Prefilled) and not self.timers and not self.stopping:
            for msg in self.user_at:
                timer = threading.Timer(msg.ms / 1000, engine.post, (SendMessage(msg.text),))
                timer.daemon = True
                timer.start()
                self.timers.append(timer)
        self._show(event)
        if isinstance(event, ModelLoadFailed):
            return 1
        if isinstance(event, TurnStarted) and self.stopping:
            engine.post(StopGeneration())  # a message already sent: stop it too
        if self.outliving.see(event):
            self.watch.kick()
        if isinstance(event, TurnDone):
            failed = event.reason in (StopReason.CONTEXT_FULL, StopReason.ERROR)
            self.code = 1 if failed or self.code == 1 else 0
            if self.stopping:
                return self.code
            if self.user_at and not self.timers:
                err.write(
                    f"asynclm: {len(self.user_at)} --user-at message(s) not sent: "
                    "the answer ended before decoding started\n"
                )
                return self.code
            self.watch.kick()
        return None

    def _show(self, event: Event) -> None:
        if self.as_json:
            if not isinstance(event, ModelLoading):
                self.out.write(json_line(event.to_json()) + "\n")
                self.out.flush()
        else:
            shown = visible_event(event)
            if isinstance(shown, TurnFailed | ModelLoadFailed):
                self.answer.end_line()  # the error starts a line of its own
            self.answer.write(shown)
            _report(shown, self.err, raw=self.raw)
        if self.debug and isinstance(event, TurnFailed) and event.detail:
            self.err.write(visible(event.detail))

    def interrupted(self) -> int | None:
        """Ctrl+C: stop the answer being written (the run ends with it), or
        end the wait for calls in the background; a second one raises."""
        if self.stopping:
            raise KeyboardInterrupt
        self.stopping = True
        _cancel(self.timers, self.user_at, self.err)
        left = self.outliving.waiting(self.engine)
        if left:
            self.err.write(
                f"asynclm: stopped; {len(left)} call(s) still in the background "
                f"are cancelled: {', '.join(left)}\n"
            )
        snap = self.engine.snapshot()
        if self.code is not None and not snap.busy and not snap.queued:
            return self.code  # only calls in the background were left: closing ends them
        self.engine.post(StopGeneration())
        return None

    def _finished(self) -> bool:
        """No message is still due, the engine has nothing running or
        queued, no call still owes the model a turn, and every event has been
        shown (a timer's ``finished`` is set once its message was posted).

        Checked in this order: a turn that ran after the engine went idle
        (and took the last result) emitted its events before the check of
        the queue, which then finds them and waits for that turn's end."""
        return (
            all(t.finished.is_set() for t in self.timers)
            and self.engine.wait_idle(0)
            and not self.outliving.waiting(self.engine)
            and self.events.empty()
        )


def _cancel(timers: list[threading.Timer], user_at: tuple[TimedMessage, ...], err: TextIO) -> None:
    """Ctrl+C: messages not yet due are not sent (and the user is told)."""
    unsent = [
        m for i, m in enumerate(user_at) if i >= len(timers) or not timers[i].finished.is_set()
    ]
    for timer in timers:
        timer.cancel()
    if unsent:
        err.write(f"asynclm: stopped; {len(unsent)} --user-at message(s) not sent\n")


class RawText:
    """``--raw``: the CML stream as the model's context holds it, the calls'
    blocks as the model wrote them and the results' as they were injected
    (dimmed on a terminal)."""

    def __init__(self, out: TextIO, *, color: bool = False) -> None:
        self._out = out
        self._color = color
        self._mid_line = False

    def write(self, event: Event) -> None:
        """Write what ``event`` adds to the stream (already made visible)."""
        match event:
            case Token(text=text) if text:
                self._out.write(text)
                self._mid_line = not text.endswith("\n")
            case Interrupt():
                text = format_interrupt(event.id, event.value)
                self._out.write(f"{DIM}{text}{PLAIN}" if self._color else text)
                self._mid_line = True
            case TurnDone():
                self._out.write("\n")
                self._mid_line = False
            case _:
                return
        self._out.flush()

    def end_line(self) -> None:
        """End the current line, if the stream is in the middle of one."""
        if self._mid_line:
            self._out.write("\n")
            self._out.flush()
            self._mid_line = False


def _report(event: Event, err: TextIO, *, raw: bool = False) -> None:
    """How the run goes, on stderr: the model, notices, errors, each turn's
    end; a turn results started is said here with ``raw`` (the readable text
    says it in a line of its own)."""
    match event:
        case TurnStarted() if event.started_by:
            if raw:
                err.write(
                    f"[a new turn, started by the results of {', '.join(event.started_by)}]\n"
                )
        case TurnFailed() | ModelLoadFailed():
            err.write(f"asynclm: {event.message}\n")
        case ContextSlid():
            err.write(
                f"[context window full: dropped the oldest {event.dropped_turns} turn(s), "
                f"{event.n_before} -> {event.n_after} tokens]\n"
            )
        case TurnStarted() if event.turn > 1 or event.follow_up:
            why = (
                "the answer ended without taking it up"
                if event.follow_up
                else "it came after the answer ended"
            )
            err.write(f"[answering your message as a new turn ({why}): {event.text!r}]\n")
        case ModelLoaded():
            err.write(f"[{loaded_line(event)}]\n")
            if event.notice:
                err.write(f"asynclm: note: {event.notice}\n")
        case TurnDone():
            busy = " (the CPU is busy)" if event.cpu_busy else ""
            err.write(
                f"[{event.reason}: {event.n_generated} tokens at {event.tok_s:.1f} tok/s{busy}, "
                f"{event.n_injected} injected, {event.elapsed_ms / 1000:.2f} s]\n"
            )
    err.flush()


def loaded_line(event: ModelLoaded) -> str:
    """``model on CPU, loaded in 840 ms``; a model on a server is named with
    the server's host (a remote run must not look local)."""
    model = f"{event.model} + {event.lora}" if event.lora else event.model
    if event.server:
        return f"{model} on {event.server}, connected in {event.load_ms:.0f} ms"
    where = f"GPU, {event.n_gpu_layers} layers" if event.gpu else "CPU"
    return f"{model} on {where}, loaded in {event.load_ms:.0f} ms"
