"""Sampling guards on the real model: the [INTR] ban and constrained calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from asynclm_tui.core.backends.base import SamplingParams
from asynclm_tui.core.backends.llama_cpp import LlamaCppBackend
from asynclm_tui.core.cml.constrain import BlockGrammar, tool_shape
from asynclm_tui.core.cml.syntax import CALL, parse_call_body
from asynclm_tui.core.decode.sampling import FORBIDDEN, TokenPicker
from asynclm_tui.core.settings.config import ModelSettings
from asynclm_tui.core.settings.paths import bundled_model, shipped_tools_dir
from asynclm_tui.core.tools.registry import ToolRegistry

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    path = bundled_model()
    assert path is not None
    b = LlamaCppBackend(path, settings=ModelSettings(n_ctx=1024))
    yield b
    b.close()


def prime(backend: LlamaCppBackend, text: str, temperature: float = 0.0) -> None:
    backend.truncate(0)
    backend.append(backend.tokenize(text, special=True))
    backend.start_sampling(SamplingParams(temperature=temperature, repeat_penalty=1.0))


def test_model_cannot_complete_an_interrupt_marker(backend: LlamaCppBackend) -> None:
    prompt = "[INTR] [INTR] [INTR] [INTR] [INTR] [INTR] [IN"
    prime(backend, prompt)
    unguarded = backend.piece(backend.sample()).decode()
    assert FORBIDDEN in "[IN" + unguarded  # left alone, the model writes it
    prime(backend, prompt)
    picker = TokenPicker(backend, temperature=0.0, seed=0)
    guarded = picker.text_of(picker.free(tail="[IN"))
    assert FORBIDDEN not in "[IN" + guarded


def test_constrained_calls_are_always_valid(backend: LlamaCppBackend) -> None:
    reg = ToolRegistry.load([shipped_tools_dir()])
    shapes = {name: tool_shape(spec.parameters) for name, spec in reg.tools.items()}
    for seed, temperature in [(1, 0.0), (2, 0.9), (3, 1.5)]:
        prime(backend, "<|im_start|>assistant\nLet me check. " + CALL, temperature)
        picker = TokenPicker(backend, temperature=temperature, seed=seed)
        grammar = BlockGrammar(shapes, CALL)
        text = ""
        for _ in range(240):
            token = picker.constrained(grammar)
            assert token is not None
            piece = picker.text_of(token)
            assert grammar.feed(piece)
            text += piece
            backend.append([token])
            if grammar.done:
                break
        if temperature > 0 and not grammar.done:
            # Sampled, the bare model may write a string literal that runs on
            # (up to the grammar's cap); every piece of it was still viable.
            assert grammar.state.mode == "string", text
            continue
        assert grammar.done, text
        body = text.split("[HEAD]")[-1].rsplit("[END]", 1)[0]
        call = parse_call_body(body)
        assert call.name in reg.tools
        reg.bind(call.name, call.args, call.kwargs)  # validates against the schema
