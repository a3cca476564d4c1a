"""One benchmark request answered once, through the real engine headless.

The path is ``asynclm run``'s (:func:`run_headless` on an :class:`Engine`
over the configured backend), a fresh engine per request: the system prompt
is then the one a user gets at launch with those tool files.  Tools keep
their specs exactly (checked: the prompt the engine writes must equal the one
the unmodified specs give) but run offline: ``weather`` answers a plausible
one-line report, ``save_note`` says ``saved``, ``list_dir`` lists a small
fixed folder, ``sleep`` waits at most 200 ms; ``clock``, ``calc`` and ``echo``
run for real; a held-out kind's tool returns the result its request was
written for (another one the model picks by mistake returns ``ok``).

A steering message is typed right after the answer's ``at_token``-th visible
token (posted from the engine's own event thread, so it lands exactly there,
as ``--user-at`` would if timed to that token).
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

from asynclm_tui.core.api.enums import InterruptKind
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    Event,
    Interrupt,
    ModelLoaded,
    ModelLoadFailed,
    SendMessage,
    StopGeneration,
    Token,
    TurnDone,
    TurnFailed,
    TurnStarted,
    UserMessage,
)
from asynclm_tui.core.backends import backend_factory
from asynclm_tui.core.backends.adapter import applied_adapter
from asynclm_tui.core.cml.prompt import launch_system_prompt
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.settings import paths
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.core.tools.registry import ArgumentError, ToolRegistry
from asynclm_tui.headless.run import run_headless
from asynclm_tui.lab.bench.tools_score import (
    Attempt,
    ResultSeen,
    RunRecord,
    SteerSeen,
)
from asynclm_tui.lab.tasks.bfcl_data import BenchError
from asynclm_tui.lab.tasks.eval_requests import EvalRequest, Probe

RUN_TIMEOUT_S = 300.0
"""A run still going after this is stopped (and reported as an error)."""
SLEEP_CAP_MS = 200

_SKIES = ("☀️", "⛅️", "☁️", "🌧", "🌦", "🌫")


def offline_weather(city: str) -> str:
    """wttr.in's one-line format (``Paris: ⛅️  +14°C``), drawn from the city's name."""
    h = zlib.crc32(city.strip().lower().encode())
    return f"{city}: {_SKIES[h % len(_SKIES)]}  {(h >> 8) % 40 - 8:+d}°C"


def offline_save_note(text: str) -> str:
    """Pretend the note was saved."""
    return "saved"


LISTING = """\
total 40K
drwxr-xr-x 2 user user 4.0K Nov 30 09:12 docs
-rw-r--r-- 1 user user 1.2K Nov 30 09:12 notes.md
-rw-r--r-- 1 user user  18K Nov 29 17:40 report.pdf
-rw-r--r-- 1 user user  640 Nov 28 11:03 todo.txt"""


def offline_list_dir(path: str = ".") -> str:
    """The same small listing for every folder."""
    return LISTING


async def offline_sleep(ms: int) -> str:
    """Wait ``ms`` but at most :data:`SLEEP_CAP_MS`, and say it slept ``ms``."""
    await asyncio.sleep(min(ms, SLEEP_CAP_MS) / 1000)
    return f"slept {ms} ms"


STAND_INS: dict[str, Callable[..., Any]] = {
    "weather": offline_weather,
    "save_note": offline_save_note,
    "list_dir": offline_list_dir,
    "sleep": offline_sleep,
}
"""Shipped tools that reach the network, the user's files or take long."""


def shipped_registry() -> ToolRegistry:
    """The shipped tools as a user without tools of their own gets them."""
    return ToolRegistry.load([paths.shipped_tools_dir()])


def offline_registry() -> ToolRegistry:
    """The shipped tools with :data:`STAND_INS` as runners (specs unchanged)."""
    registry = shipped_registry()
    for name, fn in STAND_INS.items():
        if name in registry:
            registry.swap_runner(name, fn)
    return registry


def request_registry(request: EvalRequest, *, offline: bool = True) -> ToolRegistry:
    """The request's tools as the engine loads them; ``offline``: with the stand-ins."""

    def runner(name: str) -> Callable[..., Any]:
        found = request.result_of(name)
        value = found[0] if found is not None else "ok"
        return lambda **_kwargs: value

    registry = request.toolset.registry(runner)
    if offline:
        for name, fn in STAND_INS.items():
            if name in registry:
                registry.swap_runner(name, fn)
    return registry


def expected_prompt(request: EvalRequest, settings: Settings, style: str) -> str:
    """The system prompt the request's unmodified tool specs give at launch."""
    tools = request_registry(request, offline=False).tools
    return launch_system_prompt(tools, settings.generation.system_prompt, style)


class RunSink:
    """Collects what one run did (called on engine threads)."""

    def __init__(self, engine: Engine, registry: ToolRegistry, request: EvalRequest) -> None:
        self.engine = engine
        self.registry = registry
        self.request = request
        self.probe: Probe | None = request.probe
        self.attempts: list[Attempt] = []
        self.names: dict[str, str] = {}
        self.finished: dict[str, CallFinished] = {}
        self.results: list[tuple[str, str, bool, int, list[str]]] = []
        self.answer: list[str] = []
        self.n_generated = 0
        self.stop = ""
        self.error: str | None = None
        self.load_error: str | None = None
        self.prompt = ""
        self.style = ""
        self.adapter = ""
        self.turn = 0
        self.visible = 0
        """Visible tokens of the first answer so far."""
        self.steer = SteerSeen() if request.probe is not None else None
        self._posted = False
        self._after: list[str] = []

    def __call__(self, event: Event) -> None:
        match event:
            case TurnStarted():
                self.turn += 1
                if self.steer is not None and event.follow_up:
                    self.steer.follow_up = True
            case Token(visible=visible) if visible:
                self.answer.append(visible)
                for *_, turn, after in self.results:
                    if turn == self.turn:
                        after.append(visible)
                if self.turn == 1 and visible.strip():
                    self._visible_token(visible)
            case UserMessage() if self.turn == 1 and self.steer is not None:
                self.steer.landed = True
            case CallIssued():
                self.names[event.id] = event.fn
                landed = self.steer is not None and self.steer.landed and self.turn == 1
                self.attempts.append(
                    Attempt(event.fn, self._fits(event), _signature(event), landed, self.turn)
                )
            case CallFinished():
                self.finished[event.id] = event
            case Interrupt(kind=InterruptKind.ERROR):
                self.attempts.append(Attempt(None, False, turn=self.turn))  # did not parse
            case Interrupt(kind=InterruptKind.TOOL):
                done = self.finished.get(event.id)
                value = done.value if done is not None else event.value
                ok = done.ok if done is not None else not value.startswith("error:")
                self.results.append((self.names.get(event.id, ""), value, ok, self.turn, []))
            case ModelLoaded():
                snap = self.engine.snapshot()
                self.prompt, self.style = snap.system_prompt, snap.prompt_style
                self.adapter = applied_adapter(snap.model)
            case ModelLoadFailed():
                self.load_error = event.message
            case TurnFailed():
                self.error = event.message
            case TurnDone():
                self.n_generated += event.n_generated
                self.stop = self.stop or str(event.reason)
                if self.turn == 1 and self.steer is not None and self.steer.landed:
                    self.steer.stop = str(event.reason)
                    self.steer.after = "".join(self._after)
            case _:
                pass

    def _visible_token(self, visible: str) -> None:
        """Count the first answer's visible tokens: type the steering message
        after the probe's token, then count what follows it."""
        self.visible += 1
        steer = self.steer
        if steer is None or self.probe is None:
            return
        if steer.landed:
            steer.tokens_after += 1
            self._after.append(visible)
        elif not self._posted and self.visible >= self.probe.at_token:
            self._posted = True
            self.engine.post(SendMessage(self.probe.message))

    def _fits(self, call: CallIssued) -> bool:
        try:
            self.registry.bind(call.fn, call.args, call.kwargs)
        except (KeyError, ArgumentError):
            return False
        return True

    def record(self, side: str, ms: float) -> RunRecord:
        request = self.request
        keys = {t: k for t, _v, k in request.results}
        return RunRecord(
            text=request.text,
            kind=request.kind,
            expected=tuple(request.tools),
            side=side,
            attempts=list(self.attempts),
            results=[
                ResultSeen(t, v, ok, "".join(a), keys.get(t, ""))
                for t, v, ok, _n, a in self.results
            ],
            answer="".join(self.answer),
            n_generated=self.n_generated,
            stop=self.stop,
            error=self.error,
            ms=ms,
            probe=request.probe,
            steer=self.steer,
        )


def _signature(call: CallIssued) -> str:
    args = [repr(a) for a in call.args] + [f"{k}={v!r}" for k, v in sorted(call.kwargs.items())]
    return f"{call.fn}({', '.join(args)})"


def run_request(
    name: str, settings: Settings, adapter: str, request: EvalRequest
) -> tuple[RunRecord, RunSink]:
    """Answer ``request`` once on a fresh engine, as ``asynclm run`` does;
    ``adapter`` is the file the run must apply ('' for none).

    Raises:
        BenchError: the model did not load, the adapter was not applied as
            asked, or the prompt is not the tools' own.
    """
    registry = request_registry(request)
    engine = Engine(settings, registry, backend_factory(settings))
    sink = RunSink(engine, registry, request)
    engine.subscribe(sink)
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        engine.post(StopGeneration())

    watchdog = threading.Timer(RUN_TIMEOUT_S, stop)
    watchdog.daemon = True
    start = time.perf_counter()
    watchdog.start()
    try:
        run_headless(engine, request.text, as_json=True, out=io.StringIO(), err=io.StringIO())
    finally:
        watchdog.cancel()
    ms = (time.perf_counter() - start) * 1000
    if sink.load_error is not None:
        raise BenchError(sink.load_error)
    if sink.adapter != adapter:
        shown, asked = sink.adapter or "none", adapter or "none"
        raise BenchError(f"{name} side: the model ran with adapter {shown}, not {asked}")
    if sink.prompt != expected_prompt(request, settings, sink.style):
        raise BenchError(f"{name} side: the system prompt differs from the tools' own")
    record = sink.record(name, ms)
    if fired.is_set() and record.error is None:
        record.error = f"stopped after {RUN_TIMEOUT_S:.0f} s"
    return record, sink
