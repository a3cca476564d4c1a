"""The AsyncLM engine: one decode thread that owns the model, one tool loop.

The UI (or the headless runner) only calls :meth:`Engine.post` with inputs and
receives typed events through the sinks given to :meth:`Engine.subscribe`.
Sinks are called from engine threads and must be thread-safe (Textual's
``post_message`` and ``queue.Queue.put`` are).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from asynclm_tui.core.backends.base import Backend, BackendError, ProgressFn
from asynclm_tui.core.backends.llama_cpp import ContextFullError, ModelLoadError
from asynclm_tui.core.cml import CallBlock, CMLParser
from asynclm_tui.core.config import MODES, Settings
from asynclm_tui.core.constrain import ToolShape, tool_shape
from asynclm_tui.core.events import (
    ApproveCall,
    CallFinished,
    CallIssued,
    CallStatus,
    CallUpdated,
    CancelCall,
    EngineError,
    Event,
    Input,
    ModelLoaded,
    ModelLoading,
    Prefilled,
    SendMessage,
    SetMode,
    StopGeneration,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.core.mailbox import Mailbox
from asynclm_tui.core.prompt import system_prompt
from asynclm_tui.core.script import Script
from asynclm_tui.core.tools.executor import CallRequest, CallResult, Executor, ToolHost
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.core.turn import Turn

BackendFactory = Callable[[ProgressFn], Backend]
Sink = Callable[[Event], None]

SMALL_MODEL_PARAMS = 3_000_000_000
"""Below this size ``constrain_calls`` defaults to on."""


@dataclass
class Session:
    """What persists across turns: history, used ids, the system prompt."""

    messages: list[dict[str, str]] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    outstanding: set[str] = field(default_factory=set)
    """Calls whose results have not been injected yet (across turns)."""
    turns: int = 0
    anonymous: int = 0


class Engine:
    """Interruptible decoding over a backend, with an async tool executor."""

    def __init__(
        self,
        settings: Settings,
        registry: ToolRegistry,
        backend_factory: BackendFactory,
        *,
        script: Script | None = None,
        interactive: bool = False,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.mode = settings.generation.mode
        self.script = script
        self.mailbox = Mailbox()
        self.session = Session()
        self.backend: Backend | None = None
        self.load_error: str | None = None
        self.tool_errors: list[Exception] = list(registry.errors)
        """Tool files that failed to load (shown to the user, never fatal)."""
        self.busy = False
        """True while a turn is being decoded."""
        self.injection = "kv"
        """How interrupts reach the model: ``kv`` appends them to the live KV
        cache (AsyncLM); ``reprefill`` re-evaluates the whole context instead,
        as a stateless chat API would (the benchmarks' naive baselines)."""
        self._factory = backend_factory
        self._forced_next: list[int] | None = None
        self._sinks: list[Sink] = []
        self._t0 = time.perf_counter()
        self._host = ToolHost()
        self.executor = Executor(
            registry,
            self._host,
            self._on_status,
            self._on_result,
            max_concurrency=settings.tools.max_concurrency,
            approval=settings.tools.approval,
            interactive=interactive,
        )
        self._loaded = threading.Event()
        self._thread = threading.Thread(target=self._main, name="asynclm-decode", daemon=True)

    # ------------------------------------------------------------ public API

    def subscribe(self, sink: Sink) -> None:
        """Receive every event (called from engine threads)."""
        self._sinks.append(sink)

    def start(self) -> None:
        """Start the decode thread; it loads the model first."""
        self._thread.start()

    def post(self, inp: Input) -> None:
        """Hand an input to the engine (thread-safe, never blocks)."""
        if isinstance(inp, SendMessage):
            self.mailbox.post_user(inp.text)
        elif isinstance(inp, StopGeneration):
            if self.busy:
                self.mailbox.request_stop()
        elif isinstance(inp, CancelCall):
            self.executor.cancel(inp.call_id)
        elif isinstance(inp, ApproveCall):
            self.executor.approve(inp.call_id, inp.decision)
        elif isinstance(inp, SetMode):
            if inp.mode not in MODES:
                raise ValueError(f"unknown mode {inp.mode!r}; use one of {', '.join(MODES)}")
            self.mode = inp.mode  # type: ignore[assignment]

    def reset_session(self) -> None:
        """Forget the conversation: cancel its calls and drop their results
        (the KV cache prefix is still reused where the new prompt matches)."""
        if self.busy:
            raise RuntimeError("cannot reset while a turn is running")
        self.executor.cancel(None)
        self.session = Session()
        self.mailbox.reset()

    def load_history(self, messages: list[dict[str, str]], call_ids: set[str]) -> None:
        """Continue a saved chat: ``messages`` (system first) become the
        conversation, evaluated by the next turn's one prefill; ``call_ids``
        are the ids it used, so the model cannot reuse them."""
        self.reset_session()
        turns = sum(1 for m in messages if m["role"] == "user")
        anonymous = sum(1 for c in call_ids if c.startswith("~"))
        self.session = Session(list(messages), set(call_ids), set(), turns, anonymous)

    def system_text(self) -> str:
        """The system message a new session starts with."""
        gen = self.settings.generation
        return system_prompt(
            self.registry.tools.values(),
            self.executor.estimate_ms,
            gen.system_prompt,
            gen.prompt_style,
        )

    def force_next_turn(self, tokens: list[int]) -> None:
        """Teacher-force the next turn with these exact token ids (benchmarks);
        takes precedence over the script for that one turn."""
        self._forced_next = list(tokens)

    def set_tools(self, registry: ToolRegistry) -> None:
        """Replace the tool set (takes effect for a new session)."""
        self.registry = registry
        self.executor.registry = registry

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Block until the model loaded (or failed); True when it loaded."""
        self._loaded.wait(timeout)
        return self.backend is not None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no turn is running or queued."""
        return self.mailbox.idle.wait(timeout)

    def elapsed(self) -> float:
        """Seconds since the engine was created (the ``t`` of events)."""
        return time.perf_counter() - self._t0

    def close(self) -> None:
        """Stop decoding, cancel calls, free the model."""
        self.mailbox.close()
        self.executor.cancel(None)
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        fut = self._host.submit(self.executor.aclose())
        with contextlib.suppress(Exception):  # shutting down regardless
            fut.result(timeout=5)
        self._host.close()

    def constrain_calls(self) -> bool:
        """Whether call bodies are grammar-constrained for this model."""
        setting = self.settings.generation.constrain_calls
        if self.backend is not None and not self.backend.info.has_logits:
            return False  # a remote server: no logits to mask
        if setting is not None:
            return setting
        info = self.backend.info if self.backend else None
        return info is None or info.n_params < SMALL_MODEL_PARAMS

    # ------------------------------------------------------------ events

    def _emit(self, event: Event) -> None:
        for sink in self._sinks:
            sink(event)

    def _on_status(self, call_id: str, status: CallStatus) -> None:
        self._emit(CallUpdated(self.elapsed(), call_id, status))

    def _on_result(self, result: CallResult) -> None:
        self._emit(
            CallFinished(
                self.elapsed(), result.id, result.ok, result.ms, result.status, result.value
            )
        )
        self.mailbox.post_result(result.id, result.value if result.wants_result else None)

    # ------------------------------------------------------------ decode thread

    def _main(self) -> None:
        cfg = self.settings.model
        start = time.perf_counter()
        try:
            self.backend = self._factory(lambda p: self._emit(ModelLoading(self.elapsed(), p)))
        except ModelLoadError as exc:
            self.load_error = str(exc)
            self._emit(EngineError(self.elapsed(), str(exc)))
            self._loaded.set()
            self.mailbox.mark_idle()
            return
        info = self.backend.info
        self._emit(
            ModelLoaded(
                self.elapsed(),
                info.model,
                info.n_ctx,
                info.n_gpu_layers,
                info.gpu_available and info.n_gpu_layers > 0,
                (time.perf_counter() - start) * 1000,
            )
        )
        self._loaded.set()
        del cfg
        while True:
            text = self.mailbox.next_message()
            if text is None:
                break
            self.busy = True
            try:
                self._run_turn(text)
            except (ContextFullError, BackendError) as exc:
                self._emit(EngineError(self.elapsed(), str(exc)))
            finally:
                self.busy = False
                self.mailbox.stop.clear()
                self.mailbox.mark_idle()
        self.backend.close()

    def _prefill(self, backend: Backend) -> tuple[int, int]:
        """Render the conversation and evaluate only the tokens the KV cache
        does not already hold (prefix reuse across turns)."""
        prompt = backend.render_chat(self.session.messages)
        tokens = backend.tokenize(prompt, special=True)
        have = backend.tokens
        common = 0
        for a, b in zip(have, tokens, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(tokens) - 1)  # re-evaluate one for fresh logits
        backend.truncate(common)
        backend.append(tokens[common:])
        return len(tokens), len(tokens) - common

    def _run_turn(self, text: str) -> None:
        backend = self.backend
        assert backend is not None
        session = self.session
        if not session.messages:
            session.messages.append({"role": "system", "content": self.system_text()})
        session.messages.append({"role": "user", "content": text})
        session.turns += 1
        mode = self.mode
        self._emit(TurnStarted(self.elapsed(), session.turns, mode, text))
        t_start = time.perf_counter()
        n_prompt, n_eval = self._prefill(backend)
        self._emit(
            Prefilled(self.elapsed(), n_prompt, n_eval, (time.perf_counter() - t_start) * 1000)
        )
        forced, self._forced_next = self._forced_next, None
        if forced is None and self.script is not None:
            script_text = self.script.next_turn()
            if script_text is not None:  # once the script is used up, generate freely
                forced = backend.tokenize(script_text)
        shapes = self._shapes() if self.constrain_calls() else None
        turn = Turn(
            backend=backend,
            mailbox=self.mailbox,
            gen=self.settings.generation,
            mode=mode,
            parser=CMLParser(known_ids=session.ids),
            shapes=shapes,
            issue=self._issue,
            dispatch_collected=self._dispatch_collected,
            emit=self._emit,
            clock=self.elapsed,
            seed=self.settings.model.seed + session.turns,
            forced=forced,
            reprefill=self.injection == "reprefill",
            outstanding=session.outstanding,
        )
        self._collected: list[CallRequest] = []
        t_decode = time.perf_counter()
        stats = turn.run()
        end = time.perf_counter()
        answer = "".join(stats.text)
        session.messages.append({"role": "assistant", "content": answer})
        decode_s = max(end - t_decode - stats.waited_s, 1e-9)
        self._emit(
            TurnDone(
                self.elapsed(),
                reason=stats.reason,
                n_prompt=n_prompt,
                n_generated=stats.n_generated,
                n_injected=stats.n_injected,
                n_past=backend.n_past,
                n_ctx=backend.info.n_ctx,
                elapsed_ms=(end - t_start) * 1000,
                decode_ms=decode_s * 1000,
                tok_s=stats.n_generated / decode_s,
                text=answer,
            )
        )

    def _shapes(self) -> dict[str, ToolShape]:
        return {name: tool_shape(spec.parameters) for name, spec in self.registry.tools.items()}

    def _issue(self, block: CallBlock) -> str | None:
        """Hand a completed call block to the executor (or hold it, in
        parallel mode); returns the call's id."""
        if block.call_id is None:
            self.session.anonymous += 1
            call_id = f"~{self.session.anonymous}"
        else:
            call_id = block.call_id
        req = CallRequest(
            id=call_id,
            name=block.call.name,
            args=block.call.args,
            kwargs=dict(block.call.kwargs),
            wants_result=block.call_id is not None,
        )
        args = dict(block.call.kwargs)
        if block.call.args:
            args["*args"] = list(block.call.args)  # type: ignore[assignment]
        self._emit(
            CallIssued(
                self.elapsed(),
                call_id,
                req.name,
                args,
                req.wants_result,
                self.executor.estimate_ms(req.name),
            )
        )
        if self.mode == "parallel":
            self._collected.append(req)
            self._on_status(call_id, CallStatus.COLLECTED)
        else:
            self.executor.submit(req)
        return call_id

    def _dispatch_collected(self) -> list[str]:
        """Parallel mode: run every collected call together."""
        reqs, self._collected = self._collected, []
        for req in reqs:
            self.executor.submit(req)
        return [r.id for r in reqs]
