"""One assistant turn: the interruptible decoding loop.

Per decode step: pick a token (sampled, grammar-constrained inside a call, or
teacher-forced from a script), feed its text to the CML parser, add what the
call grammar forces after it (jump-forward), hand a call to the mode's
scheduler the moment its ``[END]`` is decoded, and, only outside a block,
append every queued interrupt's tokens to the live KV cache in the same decode
call as the token.  Generation is never restarted and nothing is
re-prefilled.
"""

from __future__ import annotations

import codecs
import contextlib
import time
from collections import deque
from typing import cast

from asynclm_tui.core.api.bus import EventBus
from asynclm_tui.core.api.enums import (
    CallStatus,
    Injection,
    InterruptKind,
    PauseReason,
    StopReason,
)
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    CallUpdated,
    Interrupt,
    Resumed,
    Token,
    Trapped,
    UserMessage,
)
from asynclm_tui.core.backends.base import Backend, Verifying, skip_text
from asynclm_tui.core.cml.syntax import (
    ERROR_ID,
    BlockError,
    CallBlock,
    CMLParser,
    TrapBlock,
    format_interrupt,
)
from asynclm_tui.core.decode.budget import Fitted, fit_result
from asynclm_tui.core.decode.drafts import Draft, Drafter
from asynclm_tui.core.decode.due_calls import DueCalls
from asynclm_tui.core.decode.jump_forward import (
    DRAFTED,
    FORCED,
    SAMPLED,
    GrammarFollower,
    JumpForward,
    Taken,
)
from asynclm_tui.core.decode.kv_reuse import reuse_prefix
from asynclm_tui.core.decode.mailbox import Mailbox, Pending
from asynclm_tui.core.decode.sampling import TokenPicker, sampling_params
from asynclm_tui.core.decode.schedulers import Scheduler, Wait
from asynclm_tui.core.decode.session import Session
from asynclm_tui.core.decode.turn_plan import TurnPlan, TurnStats
from asynclm_tui.core.tools.executor import CallRequest

_END_OF_SCRIPT = -1

Injected = tuple[Pending, int, Fitted]
"""An interrupt appended in this step: the item, its token count, its value."""


class Turn:
    """Runs the decode loop of one turn on the decode thread."""

    def __init__(
        self,
        backend: Backend,
        mailbox: Mailbox,
        bus: EventBus,
        session: Session,
        plan: TurnPlan,
        scheduler: Scheduler,
    ) -> None:
        self.b = backend
        self.mailbox = mailbox
        self.bus = bus
        self.session = session
        self.plan = plan
        self.gen = plan.gen
        self.scheduler = scheduler
        self.parser = CMLParser(known_ids=session.ids)
        self.picker = TokenPicker(backend, plan.gen.temperature, plan.seed)
        self.forced = deque(plan.forced) if plan.forced is not None else None
        self.stats = TurnStats()
        self.unsent: list[Pending] = []
        """Interrupts taken from the mailbox but not yet in the KV cache (the
        engine gives them back if the turn fails)."""
        self._request_start = backend.n_past
        """Where the text of the current request starts (``prefix`` injection)."""
        self.follower = GrammarFollower(plan.shapes) if plan.shapes is not None else None
        """The call grammar, in step with the open block."""
        self.jump = JumpForward(backend) if plan.jump_forward and plan.shapes is not None else None
        self.drafter = (
            Drafter(backend, plan.shapes, self.jump)
            if plan.drafts and self.jump is not None and plan.shapes is not None
            else None
        )
        self._pending: int | None = None
        """The token sampled at the end of a checked draft: the next one."""
        self._tail = ""
        """The last characters written (the ``[INTR`` guard looks at them)."""
        self._step_started = 0.0
        self.due = DueCalls(mailbox, bus, session, plan.wait_at_end_s)
        """Results the answer waits for, and the calls it leaves in the background."""

    # ------------------------------------------------------------ main loop

    def run(self) -> TurnStats:
        """Decode until EOS (with nothing pending), stop, or a limit.

        Raises whatever the backend raises; :attr:`unsent` then holds the
        interrupts that never reached the model."""
        self.b.start_sampling(sampling_params(self.gen, self.plan.seed))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            self._loop(decoder)
        finally:
            with contextlib.suppress(Exception):  # the turn's own error matters more
                self.b.pause()
        self._finish(decoder)
        return self.stats

    def _loop(self, decoder: codecs.IncrementalDecoder) -> None:
        b, parser, mailbox, st = self.b, self.parser, self.mailbox, self.stats
        eos = b.eos_tokens()
        n_ctx = b.info.n_ctx
        if mailbox.has_ready():
            # Results that finished between turns, or messages typed ahead:
            # the prompt's end is a safe point, so they go in before any token.
            self._inject_alone()
        while True:
            if mailbox.stop.is_set():
                st.reason = StopReason.STOPPED
                break
            if st.n_generated >= self.gen.max_tokens:
                st.reason = StopReason.MAX_TOKENS
                break
            self._step_started = time.perf_counter()
            checked = self._pending is not None
            token = self._pending if self._pending is not None else self._pick(self._tail)
            self._pending = None
            if token == _END_OF_SCRIPT or token in eos:
                if self._at_end():
                    st.reason = StopReason.EOS
                    break
                continue
            if b.n_past >= n_ctx and not self._fits(1):
                st.reason = StopReason.CONTEXT_FULL
                break
            batch = [token]
            trapped = self._take(batch, decoder, kind=SAMPLED, checked=checked)
            jumped = self._jump()
            if jumped:
                # Only inside a block, so never where an interrupt could go.
                trapped = self._take(jumped, decoder, kind=FORCED) or trapped
                batch += jumped
            own = len(batch)
            injected: list[Injected] = []
            if not parser.in_block:
                wait = self.scheduler.after_step(trapped)
                if wait is not None and trapped:
                    self.due.wait(wait, self._pause, at_trap=True)
                elif wait is not None:
                    self._pause(wait)
                if mailbox.has_ready():
                    injected = self._inject_into(batch)
            if not self._fits(len(batch)):
                # The model's tokens fit; the interrupts that do not stay in
                # ``unsent`` for the engine to give back.
                b.append(batch[:own])
                st.reason = StopReason.CONTEXT_FULL
                break
            drafts = self._drafts(len(batch)) if not injected else []
            if drafts:
                self._check(batch, drafts, decoder)
            else:
                self._append(batch, injected)

    def _take(
        self,
        tokens: list[int],
        decoder: codecs.IncrementalDecoder,
        *,
        kind: Taken,
        checked: bool = False,
    ) -> bool:
        """Feed tokens the model wrote (one sampled or drafted, or a forced
        run) to the parser and the grammar, announce them and hand calls on;
        True when they closed a trap.  ``checked``: sampled at a position of
        a decode call that held drafts."""
        st = self.stats
        text = decoder.decode(b"".join(self.b.piece(t) for t in tokens))
        visible, events = self.parser.feed(text)
        self._tail = (self._tail + text)[-8:]
        st.text.append(text)
        forced = kind == FORCED
        self.bus.emit(
            Token(
                self.bus.now(),
                text,
                visible,
                forced=len(tokens) if forced else 0,
                checked=checked or kind == DRAFTED,
            )
        )
        st.n_generated += len(tokens)
        if forced:
            st.n_forced += len(tokens)
        elif kind == DRAFTED:
            st.n_drafted += len(tokens)
        trapped = closed_call = False
        for ev in events:
            if isinstance(ev, CallBlock):
                self._on_call(ev)
                closed_call = True
            elif isinstance(ev, TrapBlock):
                trapped = True
            elif isinstance(ev, BlockError):
                self.mailbox.post_error(ev.call_id or ERROR_ID, f"error: {ev.message}")
        if self.follower is not None:
            self.follower.follow(self.parser)
        st.blocks.token(
            len(tokens),
            kind=kind,
            in_block=self.parser.in_block,
            closed_call=closed_call,
            started=self._step_started,
        )
        return trapped

    def _jump(self) -> list[int]:
        """What the grammar forces after the token just taken (jump-forward),
        as far as the turn's budget and the window allow."""
        grammar = self.follower.active if self.follower is not None else None
        if self.jump is None or grammar is None:
            return []
        tokens = self.jump.tokens(grammar)
        tokens = tokens[: max(0, self.gen.max_tokens - self.stats.n_generated)]
        if not tokens or not self._fits(1 + len(tokens)):
            return []
        if self.forced is not None:
            # A script holds these tokens too: skip them there, or, where it
            # writes something else, let it (teacher forcing wins).
            rest = deque(self.forced)
            if not skip_text(rest, b"".join(self.b.piece(t) for t in tokens), self.b):
                return []
            self.forced = rest
        self.b.note_forced(tokens)
        return tokens

    def _drafts(self, n_batch: int) -> list[Draft]:
        """What to check after this step's ``n_batch`` tokens (inside a block)."""
        if self.drafter is None or not self.parser.in_block:
            return []
        info = self.b.info
        room = min(
            self.gen.max_tokens - self.stats.n_generated,
            info.n_ctx - self.b.n_past - n_batch,
            (info.prefill_batch or info.n_ctx) - n_batch,  # one decode call
        )
        follower = self.follower
        return self.drafter.draft(
            self.parser.block_kind,
            self.parser.block_tail,
            follower.active if follower is not None else None,
            self.plan.request + "".join(self.stats.text),
            room - 1,
        )

    def _check(
        self, batch: list[int], drafts: list[Draft], decoder: codecs.IncrementalDecoder
    ) -> None:
        """Append ``batch`` and ``drafts`` in one decode call, then sample at
        each draft's position as a step would: keep drafts while the sample
        equals them; the first sample that differs (or the one after the
        last draft) is the next token."""
        b = cast(Verifying, self.b)
        start, last = self.b.n_past, len(batch) - 1
        # Logits where a guess is checked and after the last token; a forced
        # draft needs none (the sampler is not asked there).
        keep = [last + j for j, d in enumerate(drafts) if not d.forced]
        b.append_rows([*batch, *(d.token for d in drafts)], [*keep, last + len(drafts)])
        for j, draft in enumerate(drafts):
            if draft.forced:
                self.b.note_forced([draft.token])
                self._take([draft.token], decoder, kind=FORCED)
                continue
            b.read_row(last + j)
            token = self._pick(self._tail)
            if token != draft.token:
                self.b.truncate(start + last + 1 + j)
                b.read_row(last + j)  # the next pick, if this one is not taken, reads here
                self._pending = token
                return
            self._take([token], decoder, kind=DRAFTED)
        b.read_row(None)
        self._pending = self._pick(self._tail)

    def _fits(self, n: int) -> bool:
        """Whether ``n`` more tokens fit, after sliding the window if need be."""
        b = self.b
        if b.n_past + n <= b.info.n_ctx:
            return True
        before = b.n_past
        if self.plan.make_room is None or not self.plan.make_room(n):
            return False
        # The turn so far kept its tokens and moved with the end of the cache.
        self._request_start = max(0, self._request_start + b.n_past - before)
        return True

    def _append(self, batch: list[int], injected: list[Injected]) -> None:
        """Extend the KV cache (announcing interrupts that went with it);
        with ``reprefill`` an interrupt instead costs a full re-evaluation of
        the context, as over a stateless API; with ``prefix``, a new request
        to a server that caches prefixes."""
        t_append = time.perf_counter()
        b = self.b
        match self.plan.injection if injected else Injection.KV:
            case Injection.REPREFILL:
                history = [*b.tokens, *batch]
                b.truncate(0)
                b.append(history)
            case Injection.PREFIX:
                start = self._request_start
                sent = b"".join(b.piece(t) for t in [*b.tokens[start:], *batch])
                resent = b.tokenize(sent.decode("utf-8", errors="replace"))
                reuse_prefix(b, [*b.tokens[:start], *resent])
                self._request_start = b.n_past
            case _:
                b.append(batch)
        self.unsent.clear()
        # Only now are they part of the answer: an interrupt that never got
        # in must not reach the next prompt through the saved answer.
        for item, n_tokens, fitted in injected:
            self.stats.text.append(format_interrupt(item.id, _neutralise_specials(fitted.text)))
            self.stats.n_injected += n_tokens
        if injected:
            self._announce(injected, t_append)

    def _pick(self, tail: str) -> int:
        if self.forced is not None:
            self.b.sample()  # pay the same sampling cost as free generation
            return self.forced.popleft() if self.forced else _END_OF_SCRIPT
        follower = self.follower
        grammar = follower.active if follower is not None else None
        if follower is not None and grammar is not None and self.plan.mask_calls:
            token = self.picker.constrained(grammar)
            if token is not None:
                return token
            follower.kill()  # nothing viable: let the model write on
        return self.picker.free(tail)

    # ------------------------------------------------------------ calls

    def _on_call(self, block: CallBlock) -> None:
        session = self.session
        if block.call_id is None:
            session.anonymous += 1
            call_id = f"~{session.anonymous}"
        else:
            call_id = block.call_id
        request = CallRequest(
            id=call_id,
            name=block.call.name,
            args=block.call.args,
            kwargs=dict(block.call.kwargs),
            wants_result=block.call_id is not None,
            session=session.serial,
        )
        now = self.bus.now()
        self.bus.emit(
            CallIssued(
                now,
                call_id,
                request.name,
                tuple(request.args),
                dict(request.kwargs),
                request.wants_result,
                self.plan.estimate(request.name, tuple(request.args), request.kwargs),
                session.serial,
            )
        )
        if request.wants_result:  # before it starts: its result is routed by it
            self.mailbox.set_policy(call_id, self.plan.policy_for(request.name))
        held = self.scheduler.issue(request)
        if held is not None:
            self.bus.emit(CallUpdated(now, call_id, held, session.serial))

    # ------------------------------------------------------------ interrupts

    def _at_end(self) -> bool:
        """The model wrote EOS: True when the answer ends here.  Otherwise
        results, or the news that calls went on in the background, were
        appended (EOS has no token to append them with) and the model goes on.

        Results still due are awaited like a trap, for at most
        ``wait_at_end_s`` over the whole answer, not at all when every call
        due is a background tool's or waits until the answer is done."""
        wait = self.scheduler.at_eos()
        if wait is None:
            return True
        mailbox = self.mailbox
        self.due.wait(wait, self._pause, at_trap=False)
        if mailbox.stop.is_set():
            return False  # the loop's stop
        if mailbox.has_ready():
            self._inject_alone()
            return False
        return not self.session.outstanding

    def _pause(self, wait: Wait, timeout: float | None = None) -> None:
        """Block decoding until the scheduler's condition holds (or a stop,
        or ``timeout`` seconds)."""
        mailbox = self.mailbox
        pending = tuple(sorted(self.session.outstanding))
        start = time.perf_counter()
        self.bus.emit(Trapped(self.bus.now(), wait.reason, pending))
        self.b.pause()
        # At a trap the model asks for results: held ones go in too.  At the
        # answer's end, a when_idle result still waits for the answer to end.
        mailbox.wait(wait.ready, timeout, take_held=wait.reason is not PauseReason.EOS)
        waited = time.perf_counter() - start
        self.stats.waited_s += waited
        self.bus.emit(Resumed(self.bus.now(), waited * 1000))

    def _inject_alone(self) -> None:
        """Append every queued interrupt by itself (no token in the batch)."""
        batch: list[int] = []
        injected = self._inject_into(batch)
        self._fits(len(batch))  # when nothing can go, the append says the context is full
        self._append(batch, injected)

    def _inject_into(self, batch: list[int]) -> list[Injected]:
        taken = self.mailbox.take_ready()
        self.unsent.extend(taken)
        done: list[Injected] = []
        for item in taken:
            if item.kind is InterruptKind.TOOL:
                self.session.background.discard(item.id)
            fitted = fit_result(item.value, item.budget, self.b.tokenize, self.b.piece)
            text = format_interrupt(item.id, _neutralise_specials(fitted.text))
            tokens = self.b.tokenize(text)
            batch.extend(tokens)
            self.scheduler.settled(item)
            done.append((item, len(tokens), fitted))
        return done

    def _announce(self, items: list[Injected], t_append: float) -> None:
        """Emit events for interrupts just appended; ``wait_ms`` is the time a
        result sat in the queue, ``inject_ms`` the cost of its prefill."""
        inject_ms = (time.perf_counter() - t_append) * 1000
        cost = self.b.append_stats()
        t = self.bus.now()
        for item, n_tokens, fitted in items:
            if item.kind is InterruptKind.USER:
                self.bus.emit(UserMessage(t, item.value))
            wait_ms = max(0.0, (t_append - item.ready_at) * 1000)
            self.bus.emit(
                Interrupt(
                    t,
                    item.id,
                    fitted.text,
                    n_tokens,
                    wait_ms,
                    inject_ms,
                    item.kind,
                    cost.n_cached,
                    cost.n_evaluated,
                    result_tokens=fitted.n_tokens,
                    cut_tokens=fitted.cut,
                )
            )

    def _finish(self, decoder: codecs.IncrementalDecoder) -> None:
        tail = decoder.decode(b"", final=True)
        visible, _ = self.parser.feed(tail) if tail else ("", [])
        flushed, _ = self.parser.flush()
        if tail or visible or flushed:
            self.stats.text.append(tail)
            self.bus.emit(Token(self.bus.now(), "", visible + flushed))
        self.drop_held()

    def drop_held(self) -> None:
        """Calls the scheduler held and never started end as cancelled."""
        for request in self.scheduler.finish():
            now = self.bus.now()
            serial = self.session.serial
            self.bus.emit(CallUpdated(now, request.id, CallStatus.CANCELLED, serial))
            self.bus.emit(
                CallFinished(
                    now,
                    request.id,
                    False,
                    0.0,
                    CallStatus.CANCELLED,
                    "error: cancelled (the turn ended before it ran)",
                    serial,
                )
            )


def _neutralise_specials(value: str) -> str:
    """Keep tool output from forming chat-template special tokens (``<|...|>``)
    when the conversation is re-rendered for the next turn."""
    return value.replace("<|", "<\u200b|")
