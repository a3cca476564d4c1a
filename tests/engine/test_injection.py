"""How an interrupt reaches the model: KV append, a new request to a server
that caches prefixes, or a full re-prefill."""

from __future__ import annotations

import pytest

from asynclm_tui.core.api.enums import Injection, Mode
from asynclm_tui.core.api.events import Configure, Interrupt
from tests.engine.engine_harness import scripted

SCRIPT = "Let me add. [CALL] a [HEAD] calc(expression='2+3') [END] The sum is 5. [EOS]"


def _appends(injection: Injection) -> tuple[list[list[int]], str]:
    with scripted([SCRIPT]) as run:
        run.post(Configure(mode=Mode.SYNC, injection=injection))
        run.turn()
        assert run.of(Interrupt)[0].value.strip() == "5"
        return run.backend.appends, run.backend.text()


@pytest.mark.parametrize("injection", [Injection.PREFIX, Injection.REPREFILL])
def test_the_model_sees_the_same_context_whatever_the_injection(injection: Injection) -> None:
    _, kv_text = _appends(Injection.KV)
    _, text = _appends(injection)
    assert text == kv_text


def test_prefix_reuse_evaluates_only_the_new_suffix_and_reprefill_everything() -> None:
    kv, _ = _appends(Injection.KV)
    prefix, _ = _appends(Injection.PREFIX)
    full, _ = _appends(Injection.REPREFILL)
    # The text tokenizes back to the same tokens, so the server's cache holds
    # everything but the interrupt and the token it rides with.
    assert [len(b) for b in prefix] == [len(b) for b in kv]
    longest = max(len(b) for b in full[1:])
    assert longest > 2 * max(len(b) for b in kv[1:])  # the prompt again
