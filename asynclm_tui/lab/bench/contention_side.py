"""The processes of ``asynclm bench contention``: a decoding engine, and a
compile-like background load.

Each decoding side runs in a child process of its own session, as a chat in
another terminal would (with autogroup scheduling Linux shares the CPU
between sessions first, then between a session's processes).  Its OpenMP
settings are in the child's environment before llama.cpp loads, so every
option is measured the way a user would run it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from asynclm_tui.core.api.enums import CallStatus
from asynclm_tui.core.api.events import (
    CallFinished,
    CallUpdated,
    Event,
    NewSession,
    SendMessage,
    StopGeneration,
    Token,
    TurnDone,
)
from asynclm_tui.core.backends import llama_factory, model_path
from asynclm_tui.core.backends.base import ModelLoadError
from asynclm_tui.core.backends.load_plan import default_threads
from asynclm_tui.core.backends.thread_governor import OPENMP_VARS
from asynclm_tui.core.cml.script import Script
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.core.tools.spec import ToolSpec

PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."
STORY = " ".join(
    f"Part {i}: the keeper climbed the stairs, trimmed the wick and watched the storm."
    for i in range(400)
)
"""The forced answer: more tokens than any measured window decodes."""
STORY_TOKENS = 12000
"""The turn's token limit (above the story's length)."""
TURN_END_TIMEOUT_S = 300.0
"""Longest wait for a stopped turn to end (a step can take seconds when the
CPU is oversubscribed)."""

BURN = """
import sys, time
end = time.perf_counter() + float(sys.argv[1])
while time.perf_counter() < end:
    pass
"""
"""A CPU-bound command: computes for argv[1] seconds."""

LOAD = """
import random, subprocess, sys, time
jobs, until = int(sys.argv[1]), float(sys.argv[2])
rng = random.Random(0)
burn = sys.argv[3]
running = []
while time.time() < until:
    running = [p for p in running if p.poll() is None]
    while len(running) < jobs:
        running.append(subprocess.Popen([sys.executable, "-c", burn, str(rng.uniform(0.1, 0.4))]))
    time.sleep(0.01)
for p in running:
    p.wait()
"""
"""A compile-like load: ``jobs`` short-lived CPU-bound processes at a time
(0.1-0.4 s of computing each, plus an interpreter's start), one after another."""


@dataclass(frozen=True)
class Option:
    """One way of running llama.cpp's threads."""

    name: str
    env: tuple[tuple[str, str], ...] = ()
    """OpenMP variables set before llama.cpp loads (the others are unset)."""
    n_threads: int | None = None
    """Fixed decode threads; None: asynclm's default (adaptive)."""
    fixed: bool = False
    """Fixed at the planned default threads (asynclm before adaptive threads)."""


def parse_option(spec: str) -> Option:
    """``default``, ``fixed``, ``passive``, ``spin:N`` or ``threads:N``.

    Raises:
        ValueError: an unknown option or a bad number.
    """
    name, _, value = spec.partition(":")
    if spec == "default":
        return Option("default")
    if spec == "fixed":
        return Option("fixed", fixed=True)
    if spec == "passive":
        return Option("passive", (("OMP_WAIT_POLICY", "PASSIVE"),), fixed=True)
    if name in ("spin", "threads") and value.isdigit():
        if name == "spin":
            return Option(spec, (("GOMP_SPINCOUNT", value),), fixed=True)
        if int(value) >= 1:
            return Option(spec, n_threads=int(value))
    raise ValueError(f"{spec!r} is not an option: use default, fixed, passive, spin:N or threads:N")


@dataclass(frozen=True)
class Decoded:
    """What one side decoded in one measured window."""

    tok_s: float
    """Tokens decoded in the window over its length (the window: from the
    message on, or the tool's run when a tool ran)."""
    n_tokens: int
    cpu_busy: bool
    """The turn's ``done`` event said the CPU was busy."""
    threads: int
    """Fewest decode threads the turn used."""
    tool_s: float = 0.0
    """How long the tool ran (0: none)."""


class _Recorder:
    """Wall-clock times of tokens and of the tool's run (comparable across
    processes), taken on the engine's threads."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.tool_start: float | None = None
        self.tool_end: float | None = None
        self.done: TurnDone | None = None
        self.ended = threading.Event()
        self.tool_done = threading.Event()

    def __call__(self, event: Event) -> None:
        now = time.time()
        match event:
            case Token(text=text) if text:
                self.times.append(now)
            case CallUpdated(status=CallStatus.RUNNING):
                self.tool_start = now
            case CallFinished():
                self.tool_end = now
                self.tool_done.set()
            case TurnDone():
                self.done = event
                self.ended.set()

    def clear(self) -> None:
        self.times.clear()
        self.tool_start = self.tool_end = self.done = None
        self.ended.clear()
        self.tool_done.clear()


def burn_tool() -> ToolSpec:
    """The CPU-bound ``command:`` tool the model calls in the tool scenario."""
    return ToolSpec(
        name="burn",
        description="Compute for the given number of seconds.",
        parameters={
            "type": "object",
            "properties": {"seconds": {"type": "number"}},
            "required": ["seconds"],
        },
        estimated_ms=3000,
        timeout_s=120,
        command=[sys.executable, "-c", BURN, "{seconds}"],
    )


class DecodeSide:
    """An engine in a child process of its own session, decoding forced turns."""

    def __init__(self, settings: Settings, option: Option) -> None:
        with contextlib.suppress(OSError):  # already a session leader
            os.setsid()
        for var in OPENMP_VARS:
            os.environ.pop(var, None)
        os.environ.update(dict(option.env))
        settings = settings.model_copy(deep=True)
        if option.fixed:
            settings.model.n_threads = default_threads(model_path(settings), settings.model)
        elif option.n_threads is not None:
            settings.model.n_threads = option.n_threads
        settings.generation.constrain_calls = False  # forced turns need no grammar
        settings.generation.max_tokens = STORY_TOKENS
        self.script = Script([])
        """Each turn's forced text, handed over just before its message."""
        registry = ToolRegistry(tools={"burn": burn_tool()})
        self.engine = Engine(settings, registry, llama_factory(settings), script=self.script)
        self.rec = _Recorder()
        self.engine.subscribe(self.rec)
        self.engine.start()
        if not self.engine.wait_loaded():
            error = self.engine.snapshot().load_error or "model failed to load"
            self.engine.close()
            raise ModelLoadError(error)
        self(time.time(), 1.0, 0.0)  # warm-up

    def __call__(self, start_at: float, seconds: float, tool_s: float) -> Decoded:
        """Decode from wall-clock time ``start_at`` for ``seconds``; with
        ``tool_s`` > 0, call the CPU-bound tool first and decode until it
        finished (the window is then the tool's run)."""
        engine, rec = self.engine, self.rec
        engine.post(NewSession())
        call = f"On it. [CALL] b [HEAD] burn(seconds={tool_s:g}) [END] " if tool_s > 0 else ""
        self.script.turns.append(call + STORY)
        rec.clear()
        time.sleep(max(0.0, start_at - time.time()))
        engine.post(SendMessage(PROMPT))
        if tool_s > 0:  # the window is the tool's run, however long the call takes to write
            finished = rec.tool_done.wait(TURN_END_TIMEOUT_S)
        else:
            time.sleep(max(0.0, start_at + seconds - time.time()))
        engine.post(StopGeneration())
        if not rec.ended.wait(TURN_END_TIMEOUT_S):
            raise RuntimeError(f"a stopped turn did not end within {TURN_END_TIMEOUT_S:.0f} s")
        tool_run = 0.0
        if tool_s > 0:
            if not finished or rec.tool_start is None or rec.tool_end is None:
                raise RuntimeError(
                    f"the burn tool did not run and finish within {TURN_END_TIMEOUT_S:.0f} s"
                )
            start_at, tool_run = rec.tool_start, rec.tool_end - rec.tool_start
            seconds = tool_run
        n = sum(1 for t in rec.times if start_at <= t <= start_at + seconds)
        done = rec.done
        return Decoded(
            n / seconds,
            n,
            bool(done and done.cpu_busy),
            done.threads if done else 0,
            tool_run,
        )

    def close(self) -> None:
        """Stop the engine and free the model."""
        self.engine.close()


def start_load(jobs: int, until: float) -> subprocess.Popen[bytes]:
    """Start the compile-like load in a session of its own, until wall-clock ``until``."""
    return subprocess.Popen(
        [sys.executable, "-c", LOAD, str(jobs), str(until), BURN],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )


def stop_load(proc: subprocess.Popen[bytes]) -> None:
    """End the load and every job it started (its whole process group), and
    wait until none of them is left."""
    for signal in (15, 9):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.02)
