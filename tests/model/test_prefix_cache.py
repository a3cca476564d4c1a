"""The saved system-prompt state: restored exactly, and never trusted when damaged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from asynclm_tui.core.api.events import Event, Prefilled
from asynclm_tui.core.backends import load_llama
from asynclm_tui.core.backends.llama_cpp import LlamaCppBackend
from asynclm_tui.core.decode.prefix_cache import prefix_tokens, warm_prefix
from asynclm_tui.core.settings.config import load_settings
from asynclm_tui.core.settings.paths import user_cache_dir
from tests.conftest import run_engine, small_settings

pytestmark = pytest.mark.model

SYSTEM = "You are a careful assistant. " * 20


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    b = load_llama(load_settings(None, {"model.n_ctx": 1024}))
    yield b
    b.close()


def next_logits(backend: LlamaCppBackend) -> np.ndarray:
    backend.append(backend.tokenize("Hi!", special=True))
    return np.array(backend.logits(), copy=True)


def test_restored_state_equals_evaluating_the_prompt(
    backend: LlamaCppBackend, tmp_path: Path
) -> None:
    backend.truncate(0)
    first = warm_prefix(backend, SYSTEM, folder=tmp_path)
    assert first.how == "evaluated" and first.n_tokens > 100
    evaluated = next_logits(backend)
    backend.truncate(0)
    again = warm_prefix(backend, SYSTEM, folder=tmp_path)
    assert again.how == "restored" and list(backend.tokens) == prefix_tokens(backend, SYSTEM)
    assert np.allclose(next_logits(backend), evaluated, atol=1e-3)
    backend.truncate(0)
    other = warm_prefix(backend, SYSTEM + " Be brief.", folder=tmp_path)
    assert other.how == "evaluated"  # another prompt, another key


@pytest.mark.parametrize("damage", ["flip", "truncate", "meta"])
def test_damaged_state_is_ignored_with_a_log_line(
    backend: LlamaCppBackend,
    tmp_path: Path,
    damage: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An in-process CLI run earlier in the session (start_logging) stops "asynclm"
    # from propagating to the root logger, where caplog listens.
    monkeypatch.setattr(logging.getLogger("asynclm"), "propagate", True)
    backend.truncate(0)
    warm_prefix(backend, SYSTEM, folder=tmp_path)
    state = next(tmp_path.glob("*.state"))
    data = bytearray(state.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
        state.write_bytes(bytes(data))
    elif damage == "truncate":
        state.write_bytes(bytes(data[: len(data) // 3]))
    else:
        state.with_suffix(".json").write_text("{not json")
    backend.truncate(0)
    caplog.set_level(logging.WARNING, "asynclm")
    redo = warm_prefix(backend, SYSTEM, folder=tmp_path)
    assert redo.how == "evaluated"
    assert any("ignoring" in r.getMessage() for r in caplog.records)
    backend.truncate(0)
    assert warm_prefix(backend, SYSTEM, folder=tmp_path).how == "restored"  # saved anew


def test_llama_refusing_a_state_file_leaves_an_empty_cache(
    backend: LlamaCppBackend, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.state"
    junk.write_bytes(b"not a llama state" * 100)
    backend.truncate(0)
    backend.append(backend.tokenize("some tokens", special=True))
    assert not backend.load_state(junk, [1, 2, 3])
    assert backend.n_past == 0


def test_the_first_turn_evaluates_only_the_users_message() -> None:
    def prefill(events: list[Event]) -> Prefilled:
        return next(e for e in events if isinstance(e, Prefilled))

    cold = prefill(run_engine("Hello.", settings=small_settings()))
    saved = list((user_cache_dir() / "states").glob("*.state"))
    assert len(saved) == 1
    mtime = saved[0].stat().st_mtime_ns
    warm = prefill(run_engine("Hello.", settings=small_settings()))
    assert cold.n_prompt == warm.n_prompt > 200
    # The system prompt was in the KV cache before the message arrived, both times:
    # evaluated at start (and saved) the first time, restored the second.
    assert warm.n_evaluated < 20 and cold.n_evaluated < 20
    assert saved[0].stat().st_mtime_ns > mtime  # touched when restored (pruning keeps recent ones)
