"""Model families for real: variant GGUFs through the real CLI, and a quiet llama.cpp."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from asynclm_tui.core.backends import load_llama
from asynclm_tui.core.decode.prefix_cache import warm_prefix
from asynclm_tui.core.settings.config import load_settings
from asynclm_tui.core.settings.logs import setup_logging
from tests.cli.test_cli import FILLER, asynclm, events
from tests.conftest import FIXTURE_TOOLS, ROOT
from tests.model.gguf_variants import VARIANTS, build_variant

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gguf")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.yaml"
    tools = ROOT / "tools"
    cfg.write_text(
        "model: {n_ctx: 2048}\n"
        f"tools: {{shipped: false, dirs: ['{tools / 'sleep.yaml'}', '{FIXTURE_TOOLS}']}}\n"
    )
    return cfg


EXPECTED_NOTICE = {
    "no-template": "chat template: chatml (built-in) (the GGUF has no chat template",
    "rejects-system": "the template rejects a system role",
    "broken-template": "the GGUF's template is unusable (the template does not compile",
    "eot-layout": "",
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_answers_freely(name: str, folder: Path, config: Path) -> None:
    model = str(build_variant(name, folder))
    proc = asynclm(
        "run", "Say hello in five words.", "--json", "-m", model, "-c", str(config),
        "--max-tokens", "48",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # nothing from llama.cpp, no traceback
    evs = events(proc.stdout)
    loaded = next(e for e in evs if e["event"] == "loaded")
    expected = EXPECTED_NOTICE[name]
    assert expected in str(loaded["notice"]) if expected else loaded["notice"] == ""
    done = evs[-1]
    assert done["event"] == "done" and done["n_generated"] > 0
    text = "".join(str(e["text"]) for e in evs if e["event"] == "token")
    assert "<|im_end|>" not in text and "<|im_start|>" not in text


def test_another_eos_layout_still_ends_turns_at_im_end(folder: Path) -> None:
    path = build_variant("eot-layout", folder)
    backend = load_llama(load_settings(None, {"model.path": path, "model.n_ctx": 512}))
    try:
        im_end = backend.tokenize("<|im_end|>", special=True)
        assert int(backend.llm.token_eos()) == 0 and len(im_end) == 1
        assert im_end[0] in backend.eos_tokens() and 0 in backend.eos_tokens()
    finally:
        backend.close()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_call_and_user_interrupt(
    name: str, folder: Path, config: Path, tmp_path: Path
) -> None:
    script = tmp_path / "s.txt"
    script.write_text(f"[CALL] a [HEAD] sleep(ms=200) [END] {FILLER * 4}[TRAP][END] Done.")
    model = str(build_variant(name, folder))
    proc = asynclm(
        "run", "Go", "--json", "-m", model, "-c", str(config),
        "--script", str(script), "--user-at", "100:also mention Thursday", "--max-tokens", "200",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    kinds = [e["event"] for e in events(proc.stdout)]
    assert "interrupt" in kinds and "user" in kinds and kinds[-1] == "done"
    interrupts = [e for e in events(proc.stdout) if e["event"] == "interrupt"]
    assert {e["id"] for e in interrupts} >= {"a"}


@contextmanager
def captured_fds() -> Iterator[Path]:
    """Everything written to file descriptors 1 and 2, at the OS level."""
    with tempfile.NamedTemporaryFile(delete=False) as sink:
        path = Path(sink.name)
    saved = [os.dup(1), os.dup(2)]
    fd = os.open(path, os.O_WRONLY)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield path
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


def test_no_byte_from_llama_cpp_reaches_stdout_or_stderr(tmp_path: Path) -> None:
    settings = load_settings(None, {"model.n_ctx": 1024})
    log = setup_logging(debug=True)
    with captured_fds() as out:
        backend = load_llama(settings)
        warm_prefix(backend, "You are terse.", folder=tmp_path)
        backend.append(backend.tokenize("Hello there", special=True))
        backend.close()
    written = out.read_bytes()
    out.unlink()
    assert written == b"", written[:300]
    # ...while llama.cpp's own lines are in the log file (--debug keeps them all).
    assert log is not None and "llama_model_loader" in log.read_text()
    setup_logging()
