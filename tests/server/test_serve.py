"""``asynclm serve`` then ``asynclm run --base-url``: the bundled model and its
adapter over the wire, as docs/remote.md tells a new user to run them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from llama_server import LlamaServer, free_port

pytestmark = pytest.mark.model

ROOT = Path(__file__).parents[2]


@pytest.fixture
def served() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "asynclm_tui", "serve", "--port", str(port), "--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                if httpx.get(f"{url}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "asynclm serve did not answer"
            time.sleep(0.1)  # polling interval while the model loads
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_runs_the_bundled_model_with_its_adapter_and_it_calls_tools(served: str) -> None:
    models = httpx.get(f"{served}/v1/models", timeout=5).json()["data"]
    assert [m["id"] for m in models] == ["SmolLM2-135M-Instruct.Q4_1.gguf+smollm2-135m-cml.gguf"]
    proc = subprocess.run(
        [sys.executable, "-m", "asynclm_tui", "run", "What time is it in Tokyo?"]
        + ["--base-url", f"{served}/v1", "--json", "--no-save"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    calls = [e for e in events if e["event"] == "call"]
    assert calls and calls[0]["name"] == "clock", events
    assert "warning" not in doctor(served)


def doctor(url: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "asynclm_tui", "doctor", "--base-url", f"{url}/v1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    return proc.stdout


def test_doctor_warns_when_the_bundled_model_is_served_without_its_adapter(
    llama_server: LlamaServer,
) -> None:
    out = doctor(llama_server.url)  # started on the bare bundled model
    assert "the bundled SmolLM2 without its CML adapter rarely calls a tool" in out
    assert "asynclm serve" in out


def test_serve_refuses_a_file_that_is_not_a_model() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "asynclm_tui", "serve", "--model", str(ROOT / "README.md")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "not a GGUF model" in proc.stderr
