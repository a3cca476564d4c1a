"""One assistant turn: the interruptible decoding loop.

Per decode step: pick a token (sampled, grammar-constrained inside a call, or
teacher-forced from a script), feed its text to the CML parser, dispatch a
call the moment its ``[END]`` is decoded, and, only outside a block, append
every queued interrupt's tokens to the live KV cache in the same decode call as
the token.  Generation is never restarted and nothing is re-prefilled.
"""

from __future__ import annotations

import codecs
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from asynclm_tui.core.backends.base import Backend, BackendError, SamplingParams
from asynclm_tui.core.cml import (
    CALL,
    ERROR_ID,
    TRAP,
    BlockError,
    CallBlock,
    CMLParser,
    TrapBlock,
    format_interrupt,
)
from asynclm_tui.core.config import GenerationSettings
from asynclm_tui.core.constrain import BlockGrammar, ToolShape
from asynclm_tui.core.events import (
    EngineError,
    Event,
    Interrupt,
    Resumed,
    Token,
    Trapped,
    UserMessage,
)
from asynclm_tui.core.mailbox import Mailbox, Pending
from asynclm_tui.core.sampling import TokenPicker

_END_OF_SCRIPT = -1

Injected = tuple[Pending, int, str]
"""An interrupt appended in this step: the item, its token count, its value."""


@dataclass
class TurnStats:
    """Counters for the ``done`` event."""

    n_prompt: int = 0
    n_generated: int = 0
    n_injected: int = 0
    waited_s: float = 0.0
    reason: str = "eos"
    text: list[str] = field(default_factory=list)


class Turn:
    """Runs the decode loop of one turn on the decode thread."""

    def __init__(
        self,
        *,
        backend: Backend,
        mailbox: Mailbox,
        gen: GenerationSettings,
        mode: str,
        parser: CMLParser,
        shapes: dict[str, ToolShape] | None,
        issue: Callable[[CallBlock], str | None],
        dispatch_collected: Callable[[], list[str]],
        emit: Callable[[Event], None],
        clock: Callable[[], float],
        seed: int,
        forced: list[int] | None = None,
        reprefill: bool = False,
        outstanding: set[str] | None = None,
    ) -> None:
        self.b = backend
        self.mailbox = mailbox
        self.gen = gen
        self.mode = mode
        self.parser = parser
        self.shapes = shapes  # None: calls are not constrained
        self.issue = issue
        self.dispatch_collected = dispatch_collected
        self.emit = emit
        self.clock = clock
        self.picker = TokenPicker(backend, gen.temperature, seed)
        self.forced = deque(forced) if forced is not None else None
        self.reprefill = reprefill
        # Ids whose result is not injected yet; owned by the session, so calls
        # left running by a stopped turn are still awaited by the next one.
        self.outstanding: set[str] = outstanding if outstanding is not None else set()
        self.collected: list[str] = []  # parallel mode: issued at the next trap
        self.stats = TurnStats()
        self._seed = seed
        self._grammar: BlockGrammar | None = None
        self._grammar_dead = False
        self._grammar_fed = 0
        self._block_serial = -1
        self._blocking_id: str | None = None  # sync mode: the call to wait for

    # ------------------------------------------------------------ main loop

    def run(self) -> TurnStats:
        """Decode until EOS (with nothing pending), stop, or a limit."""
        b, st = self.b, self.stats
        b.start_sampling(
            SamplingParams(
                temperature=self.gen.temperature,
                top_k=self.gen.top_k,
                top_p=self.gen.top_p,
                repeat_penalty=self.gen.repeat_penalty,
                seed=self._seed,
            )
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            self._loop(decoder)
        except BackendError as exc:
            # A server gone mid-answer: end the turn, keep what was written.
            st.reason = "error"
            self.emit(EngineError(self.clock(), str(exc)))
        b.pause()
        self._finish(decoder)
        return st

    def _loop(self, decoder: codecs.IncrementalDecoder) -> None:
        b, parser, mailbox, st = self.b, self.parser, self.mailbox, self.stats
        eos = b.eos_tokens()
        tail = ""
        n_ctx = b.info.n_ctx
        if mailbox.has_ready():
            # Results that finished between turns, or messages typed ahead:
            # the prompt's end is a safe point, so they go in before any token.
            self._inject_now()
        while True:
            if mailbox.stop.is_set():
                st.reason = "stopped"
                break
            if st.n_generated >= self.gen.max_tokens:
                st.reason = "max_tokens"
                break
            token = self._pick(tail)
            if token == _END_OF_SCRIPT or token in eos:
                if self.outstanding or self.collected:
                    # EOS with results still due: wait like a trap, inject, go on.
                    self._pause("eos", [])
                    continue
                st.reason = "eos"
                break
            text = decoder.decode(b.piece(token))
            visible, events = parser.feed(text)
            tail = (tail + text)[-8:]
            st.text.append(text)
            self.emit(Token(self.clock(), text, visible))
            batch = [token]
            st.n_generated += 1
            wait_trap = False
            for ev in events:
                if isinstance(ev, CallBlock):
                    self._on_call(ev)
                elif isinstance(ev, TrapBlock):
                    wait_trap = True
                elif isinstance(ev, BlockError):
                    mailbox.post_error(ev.call_id or ERROR_ID, f"error: {ev.message}")
            if self.shapes is not None:
                self._track_grammar()
            injected: list[Injected] = []
            if not parser.in_block:
                if wait_trap:
                    injected = self._pause("trap", batch)
                elif self.mode == "sync" and self._blocking_id is not None:
                    injected = self._pause("sync", batch)
                elif mailbox.has_ready():
                    injected = self._inject_into(batch)
            if b.n_past + len(batch) > n_ctx:
                st.reason = "context_full"
                self.emit(EngineError(self.clock(), f"the context window ({n_ctx} tokens) is full"))
                break
            t_append = time.perf_counter()
            self._append(batch, bool(injected))
            if injected:
                self._announce(injected, t_append)

    def _append(self, batch: list[int], has_interrupt: bool) -> None:
        """Extend the KV cache; with ``reprefill`` an interrupt instead costs
        a full re-evaluation of the context, as over a stateless API."""
        if has_interrupt and self.reprefill:
            history = [*self.b.tokens, *batch]
            self.b.truncate(0)
            self.b.append(history)
        else:
            self.b.append(batch)

    def _pick(self, tail: str) -> int:
        if self.forced is not None:
            self.b.sample()  # pay the same sampling cost as free generation
            return self.forced.popleft() if self.forced else _END_OF_SCRIPT
        if self._grammar is not None and not self._grammar_dead:
            token = self.picker.constrained(self._grammar)
            if token is not None:
                return token
            self._grammar_dead = True
        return self.picker.free(tail)

    # ------------------------------------------------------------ calls

    def _on_call(self, block: CallBlock) -> None:
        call_id = self.issue(block)
        if call_id is None:
            return
        if self.mode == "parallel":
            self.collected.append(call_id)
            if block.call_id is not None:
                self.outstanding.add(call_id)
            return
        if block.call_id is not None:
            self.outstanding.add(call_id)
        if self.mode == "sync":
            self._blocking_id = call_id

    def _track_grammar(self) -> None:
        """Keep a grammar in step with the open block (constrain_calls)."""
        parser = self.parser
        kind = parser.block_kind
        if kind not in (CALL, TRAP):
            self._grammar = None
            return
        serial = parser.block_serial
        text = parser.block_tail
        if serial != self._block_serial or self._grammar is None:
            assert self.shapes is not None
            self._grammar = BlockGrammar(self.shapes, kind)
            self._grammar_dead = False
            self._grammar_fed = 0
            self._block_serial = serial
        if not self._grammar_dead and len(text) > self._grammar_fed:
            if not self._grammar.feed(text[self._grammar_fed :]):
                self._grammar_dead = True  # forced or unconstrained text: let it be
            self._grammar_fed = len(text)

    # ------------------------------------------------------------ interrupts

    def _pause(self, reason: str, batch: list[int]) -> list[Injected]:
        """Block decoding until the mode's condition holds, then inject."""
        mailbox = self.mailbox
        if self.mode == "parallel" and self.collected:
            self.dispatch_collected()
            waiting = list(self.collected)
            self.collected.clear()

            def ready() -> bool:
                return all(mailbox.completed(c) for c in waiting)
        elif reason == "sync":
            blocking = self._blocking_id
            self._blocking_id = None

            def ready() -> bool:
                return blocking is None or mailbox.completed(blocking)
        else:
            if not self.outstanding and not mailbox.has_ready():
                return self._inject_into(batch)  # nothing pending: resume at once

            def ready() -> bool:
                return mailbox.has_ready()

        pending = tuple(sorted(self.outstanding))
        start = time.perf_counter()
        self.emit(Trapped(self.clock(), reason, pending))
        self.b.pause()
        mailbox.wait(ready)
        waited = time.perf_counter() - start
        self.stats.waited_s += waited
        self.emit(Resumed(self.clock(), waited * 1000))
        if reason == "eos":
            # No token to append with them: inject on their own.
            if mailbox.has_ready():
                self._inject_now()
            return []
        return self._inject_into(batch)

    def _inject_now(self) -> None:
        """Append every queued interrupt by itself (no token in the batch)."""
        batch: list[int] = []
        landed = self._inject_into(batch)
        t_append = time.perf_counter()
        self._append(batch, True)
        self._announce(landed, t_append)

    def _inject_into(self, batch: list[int]) -> list[Injected]:
        done: list[Injected] = []
        for item in self.mailbox.take_ready():
            value = item.value
            if len(value) > self.gen.max_result_chars:
                cut = len(value) - self.gen.max_result_chars
                value = value[: self.gen.max_result_chars] + f"…[{cut} chars cut]"
            text = format_interrupt(item.id, _neutralise_specials(value))
            tokens = self.b.tokenize(text)
            batch.extend(tokens)
            self.stats.n_injected += len(tokens)
            self.stats.text.append(text)
            if item.kind == "tool":  # an error about a duplicate id settles nothing
                self.outstanding.discard(item.id)
            done.append((item, len(tokens), value))
        return done

    def _announce(self, items: list[Injected], t_append: float) -> None:
        """Emit events for interrupts just appended; ``wait_ms`` is the time a
        result sat in the queue, ``inject_ms`` the cost of its prefill."""
        inject_ms = (time.perf_counter() - t_append) * 1000
        cost = self.b.append_stats()
        t = self.clock()
        for item, n_tokens, value in items:
            if item.kind == "user":
                self.emit(UserMessage(t, item.value))
            wait_ms = max(0.0, (t_append - item.ready_at) * 1000)
            self.emit(
                Interrupt(
                    t,
                    item.id,
                    value,
                    n_tokens,
                    wait_ms,
                    inject_ms,
                    item.kind,
                    cost.n_cached,
                    cost.n_evaluated,
                )
            )

    def _finish(self, decoder: codecs.IncrementalDecoder) -> None:
        tail = decoder.decode(b"", final=True)
        visible, _ = self.parser.feed(tail) if tail else ("", [])
        flushed, _ = self.parser.flush()
        if tail or visible or flushed:
            self.stats.text.append(tail)
            self.emit(Token(self.clock(), "", visible + flushed))


def _neutralise_specials(value: str) -> str:
    """Keep tool output from forming chat-template special tokens (``<|...|>``)
    when the conversation is re-rendered for the next turn."""
    return value.replace("<|", "<\u200b|")
