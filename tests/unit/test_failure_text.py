"""What the chat says when a prompt does not fit: the engine's reason, not a
generic guess that blames the tools."""

from __future__ import annotations

from asynclm_tui.core.api.enums import StopReason
from asynclm_tui.core.api.events import TurnFailed
from asynclm_tui.core.decode.budget import PromptTooLong
from asynclm_tui.ui.chat.painter import failure_text


def test_a_prompt_too_long_is_explained_by_its_own_message() -> None:
    reason = str(PromptTooLong(40_000, 8_192))
    said = failure_text(TurnFailed(0.0, reason, StopReason.CONTEXT_FULL), None)
    assert said.startswith("The conversation (40,000 tokens) does not fit")
    assert "fewer tools" not in said


def test_a_context_that_fills_while_writing_gets_the_general_advice() -> None:
    said = failure_text(
        TurnFailed(0.0, "the context window (2048 tokens) is full", StopReason.CONTEXT_FULL), None
    )
    assert "Raise model.n_ctx" in said
