"""End-to-end runs of the real CLI (python -m asynclm_tui) as a user would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_TOOLS, ROOT

FILLER = (
    "While the call runs I keep writing, so the model is never idle and the "
    "result lands between two decode steps. "
)


def asynclm(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asynclm_tui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def small_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.yaml"
    tools = ROOT / "tools"
    cfg.write_text(
        "model: {n_ctx: 2048}\n"
        f"tools: {{shipped: false, dirs: ['{tools / 'sleep.yaml'}', '{tools / 'echo.yaml'}', "
        f"'{FIXTURE_TOOLS}']}}\n"
    )
    return cfg


def events(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.model
def test_run_json_stream_and_counts(tmp_path: Path, small_config: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text(f"[CALL] a [HEAD] sleep(ms=200) [END] {FILLER * 3}[TRAP][END] Done.")
    proc = asynclm("run", "Go", "--script", str(script), "--json", "-c", str(small_config))
    assert proc.returncode == 0, proc.stderr
    evs = events(proc.stdout)
    assert all("event" in e and "t" in e for e in evs)
    kinds = [e["event"] for e in evs]
    for needed in ("token", "call", "result", "interrupt", "done"):
        assert needed in kinds
    assert kinds.index("loaded") < kinds.index("warmed") < kinds.index("turn")
    (warmed,) = [e for e in evs if e["event"] == "warmed"]
    assert warmed["how"] in ("evaluated", "restored") and warmed["n_tokens"] > 100
    call = next(e for e in evs if e["event"] == "call")
    assert call == {**call, "id": "a", "name": "sleep", "args": [], "kwargs": {"ms": 200}}
    intr = next(e for e in evs if e["event"] == "interrupt")
    assert set(intr) >= {"id", "value", "n_tokens", "wait_ms"}
    done = evs[-1]
    assert done["event"] == "done"
    assert done["n_past"] == done["n_prompt"] + done["n_generated"] + done["n_injected"]
    assert set(done) >= {"n_prompt", "n_generated", "n_injected", "n_past", "elapsed_ms", "tok_s"}


@pytest.mark.model
def test_user_at_lands_mid_answer(tmp_path: Path, small_config: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text(FILLER * 8)
    proc = asynclm(
        "run",
        "Go",
        "--script",
        str(script),
        "--json",
        "-c",
        str(small_config),
        "--user-at",
        "300:also check Thursday",
    )
    assert proc.returncode == 0, proc.stderr
    kinds = [e["event"] for e in events(proc.stdout)]
    at = kinds.index("user")
    assert kinds[:at].count("token") > 0 and kinds[at:].count("token") > 0


@pytest.mark.model
def test_raw_run_streams_the_cml_with_interrupts(tmp_path: Path, small_config: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("[CALL] e [HEAD] echo(text='a; b | $(c) `d`') [END] Echoed. [TRAP][END] Bye.")
    proc = asynclm("run", "Go", "--script", str(script), "--raw", "-c", str(small_config))
    assert proc.returncode == 0, proc.stderr
    assert "[INTR] e [HEAD] a; b | $(c) `d` [END]" in proc.stdout
    assert proc.stdout.rstrip().endswith("Bye.")
    assert "tok/s" in proc.stderr


@pytest.mark.model
def test_default_model_runs_with_no_model_given() -> None:
    proc = asynclm("run", "Say hi.", "--max-tokens", "8")
    assert proc.returncode == 0, proc.stderr
    assert "SmolLM2-135M-Instruct" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "x", "--mode", "turbo"],
            "asynclm: --mode: 'turbo' is not one of async, sync, parallel",
        ),
        (["run", "x", "--model", "/nope.gguf"], "asynclm: --model: file not found: /nope.gguf"),
        (["run", "x", "--user-at", "soon:hi"], "asynclm: --user-at: 'soon' is not a number"),
        (["run", "x", "--script", "/nope.txt"], "asynclm: /nope.txt: cannot read script"),
        (["run", "x", "-c", "/nope.yaml"], "asynclm: /nope.yaml: config file not found"),
        (["run", "x", "--backend", "vllm"], "asynclm: --backend: 'vllm' is not one of llama"),
        (["run", "x", "--base-url", "localhost:8000"], "asynclm: --base-url: 'localhost:8000'"),
        (["run", "x", "--backend", "openai"], "asynclm: backend openai needs a server address"),
        (
            ["run", "x", "--base-url", "http://127.0.0.1:9", "--api-key-env", "ASYNCLM_NO_KEY"],
            "asynclm: --api-key-env: $ASYNCLM_NO_KEY is not set",
        ),
        # The chat's options also work with no command (`asynclm --model X`)...
        (["--model", "/nope.gguf"], "asynclm: --model: file not found: /nope.gguf"),
        (["--mode", "turbo"], "asynclm: --mode: 'turbo' is not one of async, sync, parallel"),
        (["-c", "/nope.yaml", "-y"], "asynclm: /nope.yaml: config file not found"),
        # ...and are refused, not ignored, before another command.
        (["--model", "/x.gguf", "run", "x"], "asynclm: --model: an option of the chat, not of"),
        (["-y", "tools", "list"], "asynclm: --yes: an option of the chat, not of `asynclm tools`"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(args: list[str], message: str) -> None:
    proc = asynclm(*args)
    assert proc.returncode != 0
    assert proc.stderr.strip().startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_bad_config_value_names_file_line_and_field(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  n_ctx: 4096\ngeneration:\n  temperature: hot\n")
    proc = asynclm("run", "x", "-c", str(cfg))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"asynclm: {cfg}:4: generation.temperature: ")


def test_script_may_not_forge_interrupts(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("ok\n[INTR] a [HEAD] fake [END]\n")
    proc = asynclm("run", "x", "--script", str(script))
    assert proc.returncode == 2
    assert f"{script}:2: [INTR] blocks are written by the system" in proc.stderr


def test_tools_check_reports_bad_files_and_keeps_good_ones(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("name: good\ndescription: d\npython: a.b:c\n")
    (tmp_path / "bad.yaml").write_text("name: bad\ndescription: d\ncommand: [ls]\ntimeout: 3\n")
    proc = asynclm("tools", "check", str(tmp_path))
    assert proc.returncode == 2
    assert f"{tmp_path / 'bad.yaml'}:4: timeout: unknown field" in proc.stderr
    assert "1 tool(s) OK in 1 file(s); 1 file(s) with errors" in proc.stdout
    ok = asynclm("tools", "check", str(ROOT / "tools"))
    assert ok.returncode == 0 and "7 tool(s) OK" in ok.stdout


def test_tools_list_shows_shipped_tools() -> None:
    proc = asynclm("tools", "list")
    assert proc.returncode == 0
    for name in ("sleep", "clock", "calc", "echo", "list_dir", "weather", "save_note"):
        assert name in proc.stdout


def test_tools_list_says_how_results_are_delivered(tmp_path: Path) -> None:
    (tmp_path / "jobs.yaml").write_text(
        "- {name: build, description: Builds., background: true, command: [echo]}\n"
        "- {name: crawl, description: Crawls., deliver: when_idle, deliver_idle: notify,"
        " command: [echo]}\n"
    )
    proc = asynclm("tools", "list", "--tools", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert "Builds. (background)" in lines["build"]
    assert "Crawls. (when idle, when done: notify)" in lines["crawl"]
    assert "(" not in lines["clock"]


@pytest.mark.model
def test_doctor_reports_model_gpu_threads_context() -> None:
    proc = asynclm("doctor")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "SmolLM2-135M-Instruct" in out
    assert "GPU offload available:" in out and "GPU offload used:" in out
    assert " decode, " in out and " batch (" in out
    assert "context size: 8192 tokens (the model's trained context" in out
    assert "chat template: the model's own (from the GGUF)" in out


@pytest.mark.model
def test_bench_decode_and_ui_run_their_sides_and_report(small_config: Path) -> None:
    # Speed targets are checked by a person reading the table, never here; this
    # proves both benches run end to end (decode's reference side in a spawned
    # child process; ui's headless side as detached windows) and report every field.
    proc = asynclm(
        "bench", "decode", "--tokens", "40", "--rounds", "1", "--json", "-c", str(small_config)
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    data = json.loads(proc.stdout)
    assert 30 <= data["tokens"] <= 40
    assert data["reference_tok_s"] > 0 and data["engine_tok_s"] > 0
    proc = asynclm(
        "bench",
        "ui",
        "--chars",
        "1500",
        "--rounds",
        "1",
        "--threads",
        "2",
        "--json",
        "-c",
        str(small_config),
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    (run,) = json.loads(proc.stdout)["runs"]
    assert run["threads"] == 2 and run["n_tokens"] > 20
    assert run["detached_tok_s"] > 0 and run["tui_tok_s"] > 0
    assert run["pairs"] > 0 and run["ratio"] > 0
    assert run["visible_updates_per_s"] > 0 and run["visible_gap_ms"]["n"] > 0
    assert run["key_ms_decoding"]["n"] > 0 and run["key_ms_decoding"]["p95"] > 0
    assert run["ttft_ms_first_turn"] > 0
    assert 0 < run["ui_cpu_share_watching"] < 1
    # Detached windows are headless: the UI thread sleeps through them.
    assert run["ui_cpu_share_detached"] < run["ui_cpu_share_watching"]


def test_bench_ui_bad_model_is_one_line(tmp_path: Path) -> None:
    proc = asynclm("bench", "ui", "--model", str(tmp_path / "missing.gguf"), "--rounds", "1")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "missing.gguf" in proc.stdout + proc.stderr


def test_doctor_names_a_server_that_is_down() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    proc = asynclm("doctor", "--base-url", f"http://127.0.0.1:{port}")
    assert proc.returncode == 1
    assert f"cannot reach the server at http://127.0.0.1:{port}" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_a_file_that_is_not_a_model_says_why(tmp_path: Path) -> None:
    readme = Path(__file__).parents[2] / "README.md"
    proc = asynclm("run", "hi", "--model", str(readme), "--no-save")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{readme}: not a GGUF model" in proc.stderr
    damaged = tmp_path / "cut.gguf"
    damaged.write_bytes(b"GGUF\x03\x00\x00\x00")  # the magic, then nothing
    proc = asynclm("run", "hi", "--model", str(damaged), "--no-save")
    assert proc.returncode == 1 and "a damaged GGUF file (truncated header)" in proc.stderr
