"""An engine on the scripted backend, with its events recorded in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    Event,
    Input,
    SendMessage,
    SessionStarted,
    SetTools,
    Token,
    TurnDone,
)
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.settings.config import Settings, load_settings
from asynclm_tui.core.settings.paths import shipped_tools_dir
from asynclm_tui.core.tools.registry import ToolRegistry
from tests.conftest import FIXTURE_TOOLS

E = TypeVar("E", bound=Event)
WAIT_S = 10.0
"""Generous: the scripted backend is instant, only tools take time."""


def settings(**overrides: Any) -> Settings:
    """A few shipped tools plus the failing test tools."""
    s = load_settings(None, {"generation.temperature": 0, **overrides})
    s.tools.shipped = False
    tools = shipped_tools_dir()
    s.tools.dirs = [
        *(tools / f"{name}.yaml" for name in ("sleep", "calc", "echo", "save_note")),
        FIXTURE_TOOLS,
    ]
    return s


class Gate:
    """A tool that returns only when the test opens it."""

    def __init__(self, value: str = "opened") -> None:
        self.opened = threading.Event()
        self.value = value

    def __call__(self) -> str:
        if not self.opened.wait(WAIT_S):
            return "never opened"
        return self.value

    def open(self) -> None:
        self.opened.set()


class Run:
    """Events of one engine, with waits on conditions (never on sleeps)."""

    def __init__(self, engine: Engine, backend: ScriptedBackend) -> None:
        self.engine = engine
        self.backend = backend
        self.events: list[Event] = []
        self.hooks: list[Callable[[Event], None]] = []
        self._cv = threading.Condition()
        engine.subscribe(self._sink)

    def _sink(self, event: Event) -> None:
        for hook in self.hooks:
            hook(event)
        with self._cv:
            self.events.append(event)
            self._cv.notify_all()

    def post(self, inp: Input) -> None:
        """Post an input to the engine."""
        self.engine.post(inp)

    def wait(self, pred: Callable[[Event], bool], n: int = 1, what: str = "") -> Event:
        """The ``n``-th event that satisfies ``pred`` (waits for it)."""
        deadline = time.monotonic() + WAIT_S
        with self._cv:
            while True:
                found = [e for e in self.events if pred(e)]
                if len(found) >= n:
                    return found[n - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    names = [type(e).__name__ for e in self.events]
                    raise AssertionError(f"timed out waiting for {what or pred}: {names}")
                self._cv.wait(left)

    def wait_for(self, kind: type[E], n: int = 1, **fields: Any) -> E:
        """The ``n``-th event of ``kind`` whose fields equal ``fields``."""

        def pred(e: Event) -> bool:
            return isinstance(e, kind) and all(getattr(e, k) == v for k, v in fields.items())

        event = self.wait(pred, n, f"{kind.__name__} {fields}")
        assert isinstance(event, kind)
        return event

    def turn(self, text: str = "Go.") -> TurnDone:
        """Send ``text`` and wait for the turn it starts to end."""
        n = len(self.of(TurnDone)) + 1
        self.post(SendMessage(text))
        return self.wait_for(TurnDone, n)

    def settle(self) -> None:
        """Wait until every call issued so far finished, the current chat's
        results reached the engine, and no turn runs or waits to run (a
        result turn that issues calls is waited for as well)."""
        deadline = time.monotonic() + WAIT_S
        mailbox = self.engine._mailbox
        while True:
            with self._cv:  # a chat opened again is the chat its calls came from
                events = list(self.events)
            starts = [e for e in events if isinstance(e, SessionStarted)]
            root = {e.session: e.rejoins or e.session for e in starts}
            finished = [e for e in events if isinstance(e, CallFinished)]
            calls = [e for e in events if isinstance(e, CallIssued)]
            issued = {(root.get(e.session, e.session), e.id) for e in calls}
            done = {(root.get(e.session, e.session), e.id) for e in finished}
            chat = self.engine.snapshot().session
            handed = all(mailbox.completed(e.id) for e in finished if e.session == chat)
            if issued <= done and handed and self.engine.wait_idle(0):
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"never settled: calls {sorted(issued - done)} running")
            with self._cv:
                self._cv.wait(min(left, 0.01))  # or a result reaching the engine

    def of(self, kind: type[E]) -> list[E]:
        """Every event of ``kind`` so far."""
        with self._cv:
            return [e for e in self.events if isinstance(e, kind)]

    def index(self, pred: Callable[[Event], bool]) -> int:
        """Position of the first event that satisfies ``pred``."""
        with self._cv:
            return next(i for i, e in enumerate(self.events) if pred(e))

    def tokens_between(self, a: int, b: int) -> int:
        """Decoded tokens between two event positions."""
        with self._cv:
            return sum(1 for e in self.events[a:b] if isinstance(e, Token) and e.text)


@contextmanager
def scripted(
    turns: Sequence[str] = (),
    *,
    tools: dict[str, Callable[..., Any]] | None = None,
    interactive: bool = False,
    start: bool = True,
    backend: ScriptedBackend | None = None,
    delivery: dict[str, dict[str, Any]] | None = None,
    wait_for_all: bool = False,
    registry: ToolRegistry | None = None,
    **overrides: Any,
) -> Iterator[Run]:
    """A started engine whose model writes ``turns``; extra Python ``tools``
    are registered by name (description "test tool"), with the ``delivery``
    settings (``background``, ``deliver``, ``deliver_idle``) given by name;
    ``wait_for_all`` waits at each answer's end for every call (as ``run``);
    ``registry`` replaces the tools loaded from the settings."""
    cfg = settings(**overrides)
    if wait_for_all:
        cfg.tools.wait_at_end_s = None
    backend = backend or ScriptedBackend(turns)
    if registry is None:
        registry = ToolRegistry.load(cfg.tool_paths(), cfg.tools.disabled)
    engine = Engine(cfg, registry, backend.factory(), interactive=interactive)
    run = Run(engine, backend)
    if tools:
        extended = ToolRegistry.load(cfg.tool_paths(), cfg.tools.disabled)
        for name, fn in tools.items():
            how = (delivery or {}).get(name, {})
            extended.add_function(name, fn, description="test tool", estimated_ms=100, **how)
        engine.post(SetTools(extended))
    if start:
        engine.start()
        assert engine.wait_loaded(WAIT_S)
    try:
        yield run
    finally:
        engine.close()
