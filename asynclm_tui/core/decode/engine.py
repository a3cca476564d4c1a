"""The AsyncLM engine: one decode thread that owns the model, one tool loop.

Consumers use only the surface typed by
:class:`~asynclm_tui.core.api.handle.EngineHandle`: they :meth:`Engine.post`
inputs, receive typed events through the sinks given to
:meth:`Engine.subscribe` and read :meth:`Engine.snapshot`.  Sinks are called
from engine threads and must be thread-safe (Textual's ``post_message`` and
``queue.Queue.put`` are).

The decode thread never dies with an exception: a failing turn becomes a
``TurnFailed`` event and a ``TurnDone``, and the next message is taken as
usual; every message is delivered exactly once or handed back (see
core.decode.delivery).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
import time
import traceback
from collections.abc import Callable

from asynclm_tui.core.api.bus import EventBus, Sink
from asynclm_tui.core.api.delivery import ResultHeld, SetDelivery
from asynclm_tui.core.api.enums import CallStatus, Injection, StopReason
from asynclm_tui.core.api.events import (
    ApproveCall,
    CallProgress,
    CallUpdated,
    CancelCall,
    Configure,
    ForceNextTurn,
    HeldResults,
    HeldState,
    Input,
    KeepResults,
    MessageReturned,
    ModelLoadFailed,
    ModelLoading,
    NewSession,
    Prefilled,
    PromptWarmed,
    SendMessage,
    SessionStarted,
    SetTools,
    StopGeneration,
    TurnFailed,
    TurnStarted,
)
from asynclm_tui.core.api.handle import EngineSnapshot, LoadState
from asynclm_tui.core.backends.adapter import prompt_style_for
from asynclm_tui.core.backends.base import (
    Backend,
    BackendError,
    ContextFullError,
    ModelLoadError,
    ProgressFn,
    throttled,
)
from asynclm_tui.core.backends.cpu_meter import tool_ended, tool_started
from asynclm_tui.core.backends.thread_governor import take_contention
from asynclm_tui.core.cml.prompt import result_notice, system_prompt
from asynclm_tui.core.cml.script import Script
from asynclm_tui.core.decode.background import (
    announce_held,
    announce_held_again,
    change_delivery,
    policy_for,
    quiet_if_cancelled,
    tell_interrupted,
)
from asynclm_tui.core.decode.call_grammar import call_grammar, drafts_on
from asynclm_tui.core.decode.delivery import follow_up_next, give_back, hand_back
from asynclm_tui.core.decode.follow_up import FollowUpWatch
from asynclm_tui.core.decode.kv_reuse import PrefillStopped
from asynclm_tui.core.decode.mailbox import Inbound, Mailbox, NewSessionMark
from asynclm_tui.core.decode.other_chats import OtherChats, take_back
from asynclm_tui.core.decode.prefix_cache import warm_start
from asynclm_tui.core.decode.prompt_reading import read_prompt, room_maker
from asynclm_tui.core.decode.reports import call_finished, model_loaded, turn_done
from asynclm_tui.core.decode.schedulers import scheduler_for
from asynclm_tui.core.decode.session import Session
from asynclm_tui.core.decode.turn import Turn
from asynclm_tui.core.decode.turn_plan import TurnPlan, TurnStats
from asynclm_tui.core.decode.withheld import Withheld
from asynclm_tui.core.settings.config import GenerationSettings, Settings
from asynclm_tui.core.tools.executor import CallRequest, CallResult, Executor, ToolHost
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.core.tools.runners import one_line
from asynclm_tui.core.tools.spec import ToolSpec

BackendFactory = Callable[[ProgressFn], Backend]


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
        self._settings = settings
        self._registry = registry
        self._gen = settings.generation.model_copy()
        self._mode = self._gen.mode
        self._injection = Injection.KV
        self._script = script
        self._mailbox = Mailbox()
        self._bus = EventBus()
        self._session = Session()
        self._mailbox.start_session(self._session.serial)
        self._other = OtherChats(self._session.serial)
        """Calls running, and results waiting, for chats not on screen."""
        self._backend: Backend | None = None
        self._load = LoadState.LOADING
        self._load_error: str | None = None
        self._tool_errors = tuple(str(e) for e in registry.errors)
        self._factory = backend_factory
        self._forced_next: list[int] | None = None
        self._lock = threading.Lock()
        """Guards what ``post`` changes for the next turn."""
        self._host = ToolHost()
        self._cpu_work: dict[tuple[int, str], int] = {}
        """Command tools running now (tool thread only), for the thread governor."""
        self._executor = Executor(
            registry,
            self._host,
            self._on_status,
            self._on_result,
            max_concurrency=settings.tools.max_concurrency,
            approval=settings.tools.approval,
            interactive=interactive,
            max_result_tokens=settings.tools.max_result_tokens,
            on_progress=self._on_progress,
        )
        self._withheld = Withheld(self._mailbox, self._bus)
        """Results of calls a turn ended without (see core.withheld)."""
        self._follow = FollowUpWatch()
        """Messages typed mid-answer that the answer ended without taking up
        (see core.decode.follow_up); fed by the bus on the decode thread."""
        self._bus.subscribe(self._follow)
        self._follow_up_next = False
        """The next message taken is a follow-up the engine put back."""
        self._prompt_tools: tuple[int, object] = (-1, None)
        """The session and tool set (``ToolRegistry.prompt_key``) its system
        message describes."""
        self._loaded = threading.Event()
        self._thread = threading.Thread(target=self._main, name="asynclm-decode", daemon=True)

    # ------------------------------------------------------------ surface

    def subscribe(self, sink: Sink) -> None:
        """Receive every event (called from engine threads)."""
        self._bus.subscribe(sink)

    def start(self) -> None:
        """Start the decode thread; it loads the model first."""
        self._thread.start()

    def post(self, inp: Input) -> None:
        """Hand an input to the engine (thread-safe, never blocks).

        Raises:
            TypeError: ``inp`` is not an input this engine knows.
        """
        match inp:
            case SendMessage(text=text):
                self._mailbox.post_user(text)
            case StopGeneration():
                self._mailbox.stop_turn()
            case CancelCall(call_id=None):  # all of this chat's, none of another's
                self._executor.cancel(None, keep=self._other.away_keys())
            case CancelCall(call_id=str(call_id)):
                origin = self._other.origin(self._session.serial, call_id)
                self._executor.cancel(call_id, session=origin)
            case KeepResults():
                self._withheld.keep(self._session)
            case ApproveCall(call_id=call_id, decision=decision):
                origin = self._other.origin(self._session.serial, call_id)
                self._executor.approve(call_id, decision, session=origin)
            case NewSession():
                self._mailbox.post_new_session(
                    NewSessionMark(
                        inp.history, inp.call_ids, inp.interrupted, inp.results, inp.rejoin
                    )
                )
            case SetDelivery():
                change_delivery(inp, self._mailbox, self._bus, self._session.serial)
            case Configure(mode=mode, injection=injection, generation=generation):
                with self._lock:
                    if generation is not None:
                        self._gen = generation.model_copy()
                        self._mode = generation.mode
                    if mode is not None:
                        self._mode = mode
                    if injection is not None:
                        self._injection = injection
            case SetTools(registry=registry):
                with self._lock:
                    self._registry = registry
                    self._executor.registry = registry
            case ForceNextTurn(tokens=tokens):
                with self._lock:
                    self._forced_next = list(tokens)
            case _:
                raise TypeError(f"not an engine input: {inp!r}")

    def snapshot(self) -> EngineSnapshot:
        """The engine's state now (a frozen copy)."""
        with self._lock:
            registry, gen, session = self._registry, self._gen, self._session
            backend = self._backend
            return EngineSnapshot(
                load=self._load,
                load_error=self._load_error,
                model=backend.info if backend is not None else None,
                busy=self._mailbox.running,
                queued=self._mailbox.queued(),
                mode=self._mode,
                injection=self._injection,
                generation=gen.model_copy(),
                session=session.serial,
                turns=session.turns,
                outstanding=tuple(sorted(session.outstanding)),
                background=tuple(sorted(session.background)),
                away=self._other.away(),
                tools=tuple(sorted(registry.tools)),
                tool_errors=self._tool_errors,
                system_prompt=self._system_text(registry, gen),
                prompt_style=prompt_style_for(gen.prompt_style, backend.info if backend else None),
            )

    def elapsed(self) -> float:
        """Seconds since the engine was created (the ``t`` of events)."""
        return self._bus.now()

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Block until the model loaded (or failed); True when it loaded."""
        self._loaded.wait(timeout)
        return self._load is LoadState.READY

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no turn is running or queued (at once when the model
        failed to load: nothing will ever run)."""
        if self._load is LoadState.FAILED:
            return True
        return self._mailbox.idle.wait(timeout)

    def close(self) -> None:
        """Stop decoding, cancel calls, free the model."""
        self._mailbox.close()
        self._executor.shut_down()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        fut = self._host.submit(self._executor.aclose())
        with contextlib.suppress(Exception):  # shutting down regardless
            fut.result(timeout=5)
        self._host.close()

    # ------------------------------------------------------------ events

    def _on_progress(
        self, req: CallRequest, progress: float, total: float | None, message: str | None
    ) -> None:
        serial = self._other.current(req.session, req.id)
        bus = self._bus
        bus.emit(CallProgress(bus.now(), req.id, progress, total, message or "", serial))

    def _on_status(self, req: CallRequest, status: CallStatus) -> None:
        self._mark_cpu_work(req, status)
        serial = self._other.current(req.session, req.id)
        self._bus.emit(CallUpdated(self._bus.now(), req.id, status, serial))

    def _mark_cpu_work(self, req: CallRequest, status: CallStatus) -> None:
        """A ``command:`` tool's process may take a whole CPU: decoding makes
        room for it from its start (see core.backends.thread_governor)."""
        key = (req.session, req.id)
        if status is CallStatus.RUNNING:
            spec = self._executor.registry.get(req.name)
            if spec is not None and spec.command is not None:
                self._cpu_work[key] = tool_started()
        elif status.finished and key in self._cpu_work:
            tool_ended(self._cpu_work.pop(key))

    def _on_result(self, result: CallResult) -> None:
        with self._other.lock:  # before or after a change of chat, never during one
            serial = self._other.current(result.session, result.id)
            result = dataclasses.replace(result, session=serial)
            ended = call_finished(result, self._bus.now())
            self._bus.emit(ended)
            away = self._other.keep(result, ended)
            if away is not None:  # its chat is not on screen: the result waits for it
                if result.wants_result:
                    held_for = ResultHeld(self._bus.now(), result.id, away.deliver_idle, serial)
                    self._bus.emit(held_for)
                return
            value = result.value if result.wants_result else None
            quiet_if_cancelled(result, self._session, self._mailbox)
            held = self._withheld.post_result(self._session, result, value)
            announce_held(self._bus, self._mailbox, result, held)

    # ------------------------------------------------------------ decode thread

    def _main(self) -> None:
        backend = self._load_model()
        if backend is None:
            return
        with self._lock:
            registry, gen = self._registry, self._gen
        mailbox = self._mailbox
        warmed = warm_start(backend, self._system_text(registry, gen), lambda: mailbox.closing)
        self._bus.emit(PromptWarmed(self._bus.now(), warmed.how, warmed.n_tokens))
        while True:
            item = mailbox.next_inbound()
            if item is None:
                break
            self._take(backend, item)
        backend.close()

    def _take(self, backend: Backend, item: Inbound) -> None:
        """Act on one message or mark taken from the inbox (decode thread)."""
        mailbox = self._mailbox
        if isinstance(item, NewSessionMark):
            self._new_session(item)
            mailbox.mark_idle()
            return
        try:  # a result-turn mark starts a turn with no message of the user's
            self._run_turn(backend, item if isinstance(item, str) else None)
        finally:
            again = mailbox.end_turn()
        announce_held_again(self._bus, mailbox, again, self._session.serial)

    def _load_model(self) -> Backend | None:
        start = time.perf_counter()
        bus = self._bus
        try:
            backend = self._factory(throttled(lambda p: bus.emit(ModelLoading(bus.now(), p))))
        except Exception as exc:  # noqa: BLE001 - any load failure is reported, not raised
            message = str(exc) if isinstance(exc, ModelLoadError) else one_line(exc)
            with self._lock:
                self._load, self._load_error = LoadState.FAILED, message
            bus.emit(ModelLoadFailed(bus.now(), message))
            self._loaded.set()
            return None
        with self._lock:
            self._backend, self._load = backend, LoadState.READY
            tools = tuple(sorted(self._registry.tools))
        bus.emit(model_loaded(backend, (time.perf_counter() - start) * 1000, tools, bus.now()))
        self._loaded.set()
        return backend

    def _new_session(self, mark: NewSessionMark) -> None:
        """End the old session: its calls in the background run on for it
        (core.decode.other_chats), the rest are cancelled (their results,
        tagged with the old serial, are dropped whenever they arrive).  Start
        the next one, with a saved chat's history, results and calls (still
        running in this run, or interrupted when asynclm quit) if the mark
        carries them."""
        old = self._session
        serial = old.serial + 1
        self._withheld.drop(old)  # a stopped answer's results: the user moved on
        with self._other.lock:
            self._other.leave(old.serial, self._mailbox.start_session(serial, old.background))
            back = self._other.begin(serial, mark.rejoin)
        self._executor.cancel(None, keep=self._other.running_keys())
        with self._lock:
            self._session = Session.continuing(serial, mark.history, mark.call_ids)
        root = None if mark.rejoin is None else self._other.root(serial)
        self._bus.emit(SessionStarted(self._bus.now(), serial, root))
        take_back(self._session, self._mailbox, self._bus, back, mark.results)
        tell_interrupted(
            self._mailbox, tuple(i for i in mark.interrupted if not (back and i in back.running))
        )
        self._mailbox.offer_turn()

    def _system_message(
        self, session: Session, registry: ToolRegistry, gen: GenerationSettings
    ) -> None:
        """The session's system message: written at its first turn, and
        rewritten when the tools it describes changed since (``SetTools`` mid-
        chat: an MCP server started or changed its list), so the next answer
        knows them (the conversation is then evaluated again from there).  A
        resumed chat keeps its saved prompt until the tools change."""
        key = (session.serial, registry.prompt_key())
        changed = self._prompt_tools[0] == session.serial and self._prompt_tools != key
        if not session.messages:
            session.messages.append({"role": "system", "content": self._system_text(registry, gen)})
        elif changed and session.messages[0].get("role") == "system":
            text = self._system_text(registry, gen)
            session.messages[0] = {"role": "system", "content": text}
        self._prompt_tools = key

    def _system_text(self, registry: ToolRegistry, gen: GenerationSettings) -> str:
        backend = self._backend  # auto: the loaded model's style (full until it loads)
        style = prompt_style_for(gen.prompt_style, backend.info if backend else None)
        return system_prompt(
            registry.tools.values(), self._executor.estimate_ms, gen.system_prompt, style
        )

    def _offered_tools(self) -> list[ToolSpec]:
        with self._lock:
            return list(self._registry.tools.values())

    def _run_turn(self, backend: Backend, text: str | None) -> None:
        """One turn: the answer to ``text``, or (None) to the held results
        that started it."""
        bus = self._bus
        with self._lock:
            session, gen, mode = self._session, self._gen, self._mode
            injection, registry = self._injection, self._registry
            forced, self._forced_next = self._forced_next, None
        self._system_message(session, registry, gen)
        session.turns += 1
        self._withheld.drop(session)
        held = self._mailbox.release_later()  # they go in right after the prompt
        # A turn the results start answers their notice (docs/background.md).
        said = text if text is not None else result_notice(held)
        session.messages.append({"role": "user", "content": said})
        follow_up, self._follow_up_next = self._follow_up_next, False
        self._follow.start()
        bus.emit(
            TurnStarted(
                bus.now(),
                session.turns,
                mode,
                text or "",
                session.serial,
                follow_up,
                started_by=held if text is None else (),
            )
        )
        take_contention(backend)  # what follows is this turn's
        t_start = time.perf_counter()
        n_prompt = 0
        turn: Turn | None = None
        failure: TurnFailed | None = None
        stopped: TurnFailed | None = None
        """Why, when Esc stopped the prompt's reading (said, not emitted: no failure)."""
        stage = "reading the prompt"
        try:
            n_prompt, n_eval = read_prompt(
                backend,
                session,
                gen,
                bus,
                tools=self._offered_tools,
                estimate=self._executor.estimate_ms,
                stopped=self._mailbox.stop.is_set,
            )
            bus.emit(Prefilled(bus.now(), n_prompt, n_eval, (time.perf_counter() - t_start) * 1000))
            stage = "writing the answer"
            turn = Turn(
                backend,
                self._mailbox,
                bus,
                session,
                dataclasses.replace(
                    self._plan(backend, session, gen, injection, registry, forced),
                    make_room=room_maker(backend, session, gen, bus, n_prompt),
                ),
                scheduler_for(mode, self._executor, self._mailbox, session.outstanding),
            )
            turn.run()
        except PrefillStopped:  # Esc while a long prompt was read: hand the message back
            stopped = TurnFailed(bus.now(), "stopped while reading the prompt", StopReason.STOPPED)
        except ContextFullError as exc:
            failure = TurnFailed(bus.now(), str(exc), StopReason.CONTEXT_FULL)
        except Exception as exc:  # noqa: BLE001 - the decode thread must survive anything
            if isinstance(exc, ModelLoadError | BackendError):
                message = str(exc)  # already says what failed
            else:
                message = f"failed while {stage}: {one_line(exc)}"
            failure = TurnFailed(
                bus.now(),
                message,
                StopReason.ERROR,
                traceback.format_exc(),
            )
        stats = turn.stats if turn is not None else TurnStats()
        ended = failure or stopped
        if ended is not None:
            stats.reason = ended.reason
        elif stats.reason is StopReason.CONTEXT_FULL:
            failure = TurnFailed(
                bus.now(),
                f"the context window ({backend.info.n_ctx} tokens) is full",
                StopReason.CONTEXT_FULL,
            )
        returned: MessageReturned | None = None
        if turn is not None:
            give_back(turn, session, self._mailbox, stats.reason)
        withheld = self._withheld.withhold(session) if session.outstanding else ()
        answer = "".join(stats.text)
        if turn is None:  # the prompt never got in: keep the chat usable
            session.messages.pop()  # (a result turn's results stay ready for the next)
            if text is not None and ended is not None:
                returned = hand_back(text, ended, follow_up=follow_up)
        else:
            session.messages.append({"role": "assistant", "content": answer})
        if failure is not None:
            bus.emit(failure)
        elif turn is not None:  # an unanswered message typed mid-answer goes next
            self._follow_up_next = follow_up_next(self._follow, self._mailbox, stats.reason)
        bus.emit(turn_done(backend, stats, n_prompt, t_start, answer, bus.now()))
        if withheld:  # after TurnDone: the turn's end is shown first, then what is held
            bus.emit(HeldResults(bus.now(), withheld, HeldState.HELD))
        if returned is not None:  # after TurnDone, like the queue the UI hands back
            bus.emit(returned)

    def _plan(
        self,
        backend: Backend,
        session: Session,
        gen: GenerationSettings,
        injection: Injection,
        registry: ToolRegistry,
        forced: list[int] | None,
    ) -> TurnPlan:
        if forced is None and self._script is not None:
            script_text = self._script.next_turn()
            if script_text is not None:  # once the script is used up, generate freely
                forced = backend.tokenize(script_text)
        mask, jump, shapes = call_grammar(backend, gen, registry)
        asked = next((m["content"] for m in reversed(session.messages) if m["role"] == "user"), "")
        return TurnPlan(
            gen=gen,
            seed=self._settings.model.seed + session.turns,
            injection=injection,
            shapes=shapes,
            mask_calls=mask,
            jump_forward=jump,
            drafts=drafts_on(backend, gen, jump) and shapes is not None and forced is None,
            request=asked,
            forced=forced,
            estimate=self._executor.estimate_ms,
            wait_at_end_s=self._settings.tools.wait_at_end_s,
            policy_for=functools.partial(policy_for, registry),
        )
