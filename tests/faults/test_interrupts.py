"""A thousand user interrupts in one session: every message reaches the
model exactly once, in order, and the session stays usable."""

from __future__ import annotations

import threading

from asynclm_tui.core.api.events import SendMessage, Token, TurnDone, TurnStarted, UserMessage
from asynclm_tui.core.backends.scripted import ScriptedBackend
from tests.engine.engine_harness import scripted

N_MESSAGES = 1_000


def test_a_thousand_interrupts_none_lost() -> None:
    backend = ScriptedBackend([" word" * 3_000, "Still here."], n_ctx=1 << 18, step_s=0.0005)
    first_token = threading.Event()
    with scripted(backend=backend, **{"generation.max_tokens": 5_000}) as run:
        run.hooks.append(lambda e: first_token.set() if isinstance(e, Token) else None)
        run.post(SendMessage("start"))
        assert first_token.wait(10)
        for n in range(N_MESSAGES):
            run.post(SendMessage(f"m{n}"))
        run.wait_for(TurnDone)
        assert run.engine.wait_idle(30)
        last = run.turn("after")
    delivered = [e.text for e in run.of(UserMessage)]
    started = [e.text for e in run.of(TurnStarted)]
    # Mid-answer messages arrive as interrupts; any typed after the answer
    # ended start the next turn.  Each exactly once, in the order typed.
    seen = [t for t in delivered + started if t.startswith("m")]
    assert sorted(seen, key=lambda t: int(t[1:])) == [f"m{n}" for n in range(N_MESSAGES)]
    assert delivered == sorted(delivered, key=lambda t: int(t[1:]))
    assert len(delivered) > N_MESSAGES // 2  # most landed mid-answer
    text = backend.text()
    assert all(f"[INTR] user [HEAD] {t} [END]" in text for t in delivered)
    assert last.text == "Still here." or last.reason is not None
