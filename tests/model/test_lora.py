"""LoRA adapters on the real bundled model: applied, refused with one line, and
chosen only where they fit (random adapters written with ``write_lora_gguf``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from asynclm_tui.core.api.events import Event, ModelLoaded
from asynclm_tui.core.backends import load_llama
from asynclm_tui.core.backends.base import ModelLoadError
from asynclm_tui.core.backends.llama_cpp import LlamaCppBackend
from asynclm_tui.core.cml.prompt import COMPACT_RULES, RULES
from asynclm_tui.core.decode.from_settings import build_engine
from asynclm_tui.core.decode.prefix_cache import cache_key
from asynclm_tui.core.settings import paths
from asynclm_tui.core.settings.config import Settings, load_settings
from asynclm_tui.lab.train.gguf_lora import write_lora_gguf
from tests.cli.test_cli import asynclm
from tests.conftest import small_settings

pytestmark = pytest.mark.model

RANK = 8
N_LAYERS = 30
SHAPES = {"attn_q": (576, 576), "attn_v": (576, 192), "ffn_down": (1536, 576)}
"""Adapted tensors of SmolLM2-135M: GGUF stem -> (n_in, n_out)."""


def random_adapter(
    path: Path,
    *,
    architecture: str = "llama",
    shapes: dict[str, tuple[int, int]] = SHAPES,
    layers: range = range(N_LAYERS),
) -> Path:
    """A rank-8 adapter with random A and B: not trained, but it moves every logit."""
    rng = np.random.default_rng(0)
    pairs = {
        f"blk.{layer}.{stem}.weight": (
            rng.normal(0, 0.1, (RANK, n_in)).astype(np.float32),
            rng.normal(0, 0.1, (n_out, RANK)).astype(np.float32),
        )
        for layer in layers
        for stem, (n_in, n_out) in shapes.items()
    }
    write_lora_gguf(path, pairs, alpha=RANK, architecture=architecture)
    return path


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_adapter(tmp_path_factory.mktemp("lora") / "random-cml.gguf")


@pytest.fixture(scope="module")
def bad_adapters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files llama.cpp must refuse, by what is wrong with them."""
    folder = tmp_path_factory.mktemp("bad-lora")
    garbage = folder / "garbage.gguf"
    garbage.write_bytes(bytes(range(256)) * 16)
    return {
        "missing": folder / "missing.gguf",
        "garbage": garbage,
        "architecture": random_adapter(
            folder / "qwen2.gguf", architecture="qwen2", layers=range(1)
        ),
        "shape": random_adapter(folder / "shape.gguf", shapes={"attn_q": (1000, 576)}),
        "tensor": random_adapter(folder / "tensor.gguf", layers=range(40, 41)),
    }


def settings_with(lora: Path | str | None, **extra: object) -> Settings:
    return load_settings(None, {"model.n_ctx": 512, "model.lora": lora, **extra})


@pytest.fixture
def loaded() -> Iterator[list[LlamaCppBackend]]:
    """Backends a test loads, closed after it."""
    backends: list[LlamaCppBackend] = []
    yield backends
    for backend in backends:
        backend.close()


def greedy(backend: LlamaCppBackend, prompt: str, n: int = 12) -> tuple[np.ndarray, list[int]]:
    """The logits after ``prompt`` and the next ``n`` greedy tokens."""
    backend.truncate(0)
    backend.append(backend.tokenize(prompt, special=True))
    first = np.array(backend.logits(), copy=True)
    out: list[int] = []
    for _ in range(n):
        out.append(int(np.argmax(backend.logits())))
        backend.append(out[-1:])
    return first, out


def test_adapter_changes_logits_text_and_saved_state_identity(
    adapter: Path, loaded: list[LlamaCppBackend]
) -> None:
    base = load_llama(settings_with("off"))
    loaded.append(base)
    adapted = load_llama(settings_with(adapter))
    loaded.append(adapted)
    assert adapted.info.extra["lora"] == str(adapter) and base.info.extra["lora"] == ""
    prompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    base_logits, base_text = greedy(base, prompt)
    lora_logits, lora_text = greedy(adapted, prompt)
    assert not np.allclose(base_logits, lora_logits, atol=0.1)
    assert base_text != lora_text
    assert base.state_identity() != adapted.state_identity()
    tokens = base.tokenize(prompt, special=True)
    assert cache_key(base.state_identity(), tokens) != cache_key(adapted.state_identity(), tokens)


def test_engine_applies_the_adapter_and_resolves_the_prompt_style(adapter: Path) -> None:
    for lora, style, rules in [(adapter, "compact", COMPACT_RULES), ("off", "full", RULES)]:
        engine = build_engine(small_settings(**{"model.lora": lora}))
        events: list[Event] = []
        engine.subscribe(events.append)
        engine.start()
        try:
            assert engine.wait_loaded(60), engine.snapshot().load_error
            snap = engine.snapshot()
        finally:
            engine.close()
        [event] = [e for e in events if isinstance(e, ModelLoaded)]
        assert event.lora == (adapter.name if lora == adapter else "")
        assert snap.prompt_style == style
        assert snap.system_prompt.startswith(rules)


def test_only_the_bundled_model_gets_the_shipped_adapter(
    adapter: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loaded: list[LlamaCppBackend]
) -> None:
    monkeypatch.setattr(paths, "shipped_adapter", lambda: adapter)
    bundled = paths.bundled_model()
    assert bundled is not None
    own = tmp_path / "my-model.gguf"
    shutil.copyfile(bundled, own)
    cases = [
        (settings_with(None), str(adapter)),  # the bundled model: the shipped adapter
        (settings_with("off"), ""),  # --no-lora
        (settings_with(None, **{"model.path": own}), ""),  # a user's own --model
        (settings_with(adapter, **{"model.path": own}), str(adapter)),  # ... with --lora
    ]
    for settings, expected in cases:
        backend = load_llama(settings)
        loaded.append(backend)
        assert backend.info.extra["lora"] == expected, settings.model


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("missing", "LoRA adapter not found"),
        ("garbage", "not a GGUF file"),
        ("architecture", "is for qwen2, but the model is llama"),
        ("shape", "has incorrect shape"),
        ("tensor", "does not exist in base model"),
    ],
)
def test_a_bad_adapter_is_one_line_and_exit_1(
    bad_adapters: dict[str, Path], tmp_path: Path, bad: str, says: str
) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("model: {n_ctx: 512}\ntools: {shipped: false}\n")
    path = bad_adapters[bad]
    proc = asynclm("run", "Hi", "--lora", str(path), "--no-save", "-c", str(cfg))
    assert proc.returncode == 1, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("asynclm: ") and str(path) in line and says in line, line
    assert "Traceback" not in proc.stdout


def test_refused_adapter_raises_model_load_error_in_process(
    bad_adapters: dict[str, Path],
) -> None:
    with pytest.raises(ModelLoadError, match="llama.cpp refused the LoRA adapter .*tensor.gguf"):
        load_llama(settings_with(bad_adapters["tensor"]))


def test_run_and_doctor_show_the_adapter(adapter: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("model: {n_ctx: 512}\ntools: {shipped: false}\n")
    proc = asynclm(
        "run",
        "Hi",
        "--lora",
        str(adapter),
        "--json",
        "--max-tokens",
        "4",
        "--no-save",
        "-c",
        str(cfg),
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert events[0]["event"] == "loaded" and events[0]["lora"] == adapter.name
    doctor = asynclm("doctor", "--lora", str(adapter), "-c", str(cfg))
    assert doctor.returncode == 0, doctor.stderr
    size = f"{adapter.stat().st_size / 1e6:.1f} MB"
    assert f"LoRA adapter: {adapter} ({size}, from --lora)" in doctor.stdout.splitlines()
    assert "prompt style: compact (auto: an adapter is applied)" in doctor.stdout
    off = asynclm("doctor", "--no-lora", "-c", str(cfg))
    assert "LoRA adapter: none: --no-lora" in off.stdout.splitlines()
    assert "prompt style: full (auto: no adapter)" in off.stdout


def test_doctor_names_a_missing_adapter(bad_adapters: dict[str, Path]) -> None:
    proc = asynclm("doctor", "--lora", str(bad_adapters["missing"]))
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines()[-1] == (
        f"error: LoRA adapter not found: {bad_adapters['missing']}"
    )
