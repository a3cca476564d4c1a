"""The server backend against llama-cpp-python's real server on loopback.

Turns are teacher-forced (scripts), so over the wire every token is its own
request; calls, traps and interrupts go through the same engine and parser as
in-process.  Reuse is read from the server's own log (it reports no
cached-token count in its replies).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from conftest import run_engine, server_settings
from llama_server import LlamaServer

from asynclm_tui.core.api.events import (
    CallIssued,
    Event,
    Interrupt,
    SendMessage,
    Token,
    TurnDone,
    TurnFailed,
)
from asynclm_tui.core.decode.from_settings import build_engine
from tests.cli.test_cli import asynclm

pytestmark = pytest.mark.model

FILLER = "While it runs I keep writing, word after word, so decoding overlaps the call. "


def test_run_json_call_overlaps_decoding_and_the_server_reuses_the_prefix(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    script = tmp_path / "script.txt"
    script.write_text(f"On it. [CALL] a [HEAD] sleep(ms=600) [END] {FILLER * 2}[TRAP][END] Done.")
    mark = llama_server.log_size()
    done = asynclm(
        "run", "Go.", "--base-url", llama_server.url, "--json", "-y",
        "--script", str(script), "--user-at", "300:also say hi",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    call_at = kinds.index("call")
    result_at = kinds.index("result")
    # Tokens were decoded while the call ran, then its result was injected.
    assert "token" in kinds[call_at:result_at]
    interrupts = [e for e in events if e["event"] == "interrupt"]
    assert {i["kind"] for i in interrupts} == {"tool", "user"}
    user = next(i for i in interrupts if i["kind"] == "user")
    assert kinds.index("token") < events.index(user) < kinds.index("done")
    for i in interrupts:
        assert i["inject_ms"] > 0 and i["n_cached"] is None and i["n_evaluated"] is None
    assert events[kinds.index("prefill")]["ms"] > 0
    # Every request after the first reused nearly all of its prompt.
    hits = llama_server.prefix_hits(mark)
    assert len(hits) > 10
    for reused, evaluated in hits[1:]:
        assert reused / (reused + evaluated) >= 0.95, hits


def test_a_remote_run_names_the_server_it_runs_on(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    script = tmp_path / "script.txt"
    script.write_text("Hello there.")
    done = asynclm(
        "run", "Hi.", "--base-url", f"{llama_server.url}/v1", "--script", str(script),
        "--no-save",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello there.\n"
    host = llama_server.url.removeprefix("http://")
    header = done.stderr.splitlines()[0]
    assert header.startswith("[") and f" on {host}, connected in " in header, done.stderr
    assert "CPU" not in header and "GPU" not in header


def test_free_generation_streams_from_the_server(llama_server: LlamaServer) -> None:
    events = run_engine(
        "", settings=server_settings(llama_server.url, **{"generation.max_tokens": 24})
    )
    done = next(e for e in events if isinstance(e, TurnDone))
    assert done.n_generated > 0 and done.text.strip()
    assert done.reason in ("eos", "max_tokens")


def test_sync_mode_waits_for_the_call_over_the_wire(llama_server: LlamaServer) -> None:
    script = f"[CALL] a [HEAD] sleep(ms=300) [END] {FILLER}"
    events = run_engine(
        script, settings=server_settings(llama_server.url, **{"generation.mode": "sync"})
    )
    call = next(i for i, e in enumerate(events) if isinstance(e, CallIssued))
    intr = next(i for i, e in enumerate(events) if isinstance(e, Interrupt))
    assert not any(isinstance(e, Token) for e in events[call:intr])
    d = next(e for e in events if isinstance(e, TurnDone))
    assert d.n_past == d.n_prompt + d.n_generated + d.n_injected


def test_killing_the_server_mid_answer_keeps_the_answer_and_recovers(tmp_path: Path) -> None:
    server = LlamaServer(tmp_path / "server.log")
    server.start()
    settings = server_settings(server.url, **{"server.retries": 1})
    engine = build_engine(settings)
    events: list[Event] = []
    done = threading.Semaphore(0)
    tokens = threading.Semaphore(0)

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, Token):
            tokens.release()
        if isinstance(event, TurnDone):
            done.release()

    engine.subscribe(sink)
    engine.start()
    try:
        assert engine.wait_loaded(60), engine.snapshot().load_error
        engine.post(SendMessage("Write a long story about a lighthouse keeper."))
        for _ in range(5):
            assert tokens.acquire(timeout=120), "no tokens streamed"
        server.kill()
        assert done.acquire(timeout=120), "the turn did not end after the kill"
        errors = [e for e in events if isinstance(e, TurnFailed)]
        assert errors and str(server.port) in errors[0].message
        first = next(e for e in events if isinstance(e, TurnDone))
        assert first.reason == "error" and first.text.strip()
        server.start()
        engine.post(SendMessage("Now say hello."))
        assert done.acquire(timeout=180), "the next turn did not finish"
        second = [e for e in events if isinstance(e, TurnDone)][-1]
        assert second.reason != "error" and second.n_generated > 0
        # The partial answer stayed in the conversation the second turn read.
        assert second.n_prompt > first.n_prompt + first.n_generated // 2
    finally:
        engine.close()
        server.stop()


def test_bench_wire_measures_an_interrupt_both_ways_with_an_interval(
    llama_server: LlamaServer,
) -> None:
    done = asynclm("bench", "wire", "--base-url", llama_server.url, "--rounds", "2", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    rows = {r["backend"]: r for r in data["results"]}
    assert set(rows) == {"in-process", "server", "server, re-prefill"}
    # The same prompt and interrupt, tokenized the same way on both sides.
    assert len({(r["n_prompt"], r["n_interrupt"]) for r in rows.values()}) == 1
    assert all(r["rounds"] == 2 and r["inject_ms_min"] > 0 for r in rows.values())
    # Re-evaluating the whole prompt costs several times what reusing it does.
    assert rows["server, re-prefill"]["inject_ms_median"] > 2 * rows["server"]["inject_ms_median"]
    assert data["ratio"] == pytest.approx(
        rows["server"]["inject_ms_median"] / rows["in-process"]["inject_ms_median"]
    )
    low, high = data["ratio_ci95"]
    assert 0 < low <= high
