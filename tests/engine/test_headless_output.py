"""What ``asynclm run`` says on stderr about the model: where it runs (a
server by its host, never as if it were local) and its notices."""

from __future__ import annotations

import io

from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.headless.run import run_headless
from tests.engine.engine_harness import settings


def run(backend: ScriptedBackend, *, raw: bool = False) -> tuple[str, str]:
    engine = Engine(settings(), ToolRegistry(), backend.factory())
    out, err = io.StringIO(), io.StringIO()
    assert run_headless(engine, "Go.", raw=raw, out=out, err=err) == 0
    return out.getvalue(), err.getvalue()


def test_a_model_on_a_server_is_named_by_its_host() -> None:
    backend = ScriptedBackend(["Hi.<eos>"])
    backend.info.extra["host"] = "127.0.0.1:8011"
    out, err = run(backend)
    assert out == "Hi.\n"
    header = err.splitlines()[0]
    assert header.startswith("[scripted.gguf on 127.0.0.1:8011, connected in ")
    assert "CPU" not in header


def test_a_local_model_is_named_by_its_device() -> None:
    _, err = run(ScriptedBackend(["Hi.<eos>"]))
    assert err.splitlines()[0].startswith("[scripted.gguf on CPU, loaded in ")


def test_the_models_notice_is_a_warning_on_stderr_made_visible() -> None:
    for raw in (False, True):
        backend = ScriptedBackend(["Hi.<eos>"])
        backend.info.extra["notice"] = "fell back to ChatML \x1b]0;x\x07"
        out, err = run(backend, raw=raw)
        assert out == "Hi.\n"
        assert "asynclm: note: fell back to ChatML ␛]0;x␇\n" in err
        assert "\x1b" not in err
