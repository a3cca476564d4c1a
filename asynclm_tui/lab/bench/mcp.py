"""``asynclm bench mcp``: MCP tools in the AsyncLM loop, on the real bundled model.

Two measurements.  **The three-tool answer**: a scripted answer (teacher
forcing, as ``--script``) calls three tools of a local MCP server over stdio
(2.5 s, 1.5 s and 0.8 s of work, with progress) and writes about 150 tokens
meanwhile; its wall time is taken in async, sync and parallel mode, the
modes alternating round by round, and sync / async is reported with a 95 %
bootstrap interval (rounds resampled in pairs).  **The round trip**: what MCP
adds to a call, a no-op tool called through the executor (as the engine
calls it) in-process in Python, over stdio and over Streamable HTTP on
127.0.0.1, interleaved; p50 and p95.  The servers start through the same
hub the chat uses, one of them slow to start, and ``start()`` is timed too.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from asynclm_tui.core.api.enums import Mode
from asynclm_tui.core.api.events import (
    Configure,
    Event,
    NewSession,
    SendMessage,
    TurnDone,
    TurnFailed,
)
from asynclm_tui.core.backends import backend_factory
from asynclm_tui.core.cml.script import Script
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.core.tools.executor import CallRequest, CallResult, Executor, ToolHost
from asynclm_tui.core.tools.mcp.approvals import ApprovalStore
from asynclm_tui.core.tools.mcp.config import ServerConfig
from asynclm_tui.core.tools.mcp.hub import McpHub
from asynclm_tui.core.tools.mcp.status import ServerState
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.headless.tables import print_table
from asynclm_tui.lab.bench.bootstrap import ratio_ci95

SERVER = ("-P", "-m", "asynclm_tui.lab.bench.mcp_server")
"""How the bench server runs: as a module without the script's folder on the
path (where this very module, ``mcp.py``, would shadow the SDK)."""
SLOW_START_S = 5.0
TOOL_MS = {"weather": 2500, "trains": 1500, "museums": 800}
MODES = (Mode.ASYNC, Mode.SYNC, Mode.PARALLEL)
TARGET_RATIO = 1.5
TARGET_STDIO_P50_MS = 5.0
TARGET_STDIO_P95_MS = 20.0
TURN_TIMEOUT_S = 300.0

ANSWER = (
    "I will check the forecast, the trains and the museums at once."
    f" [CALL] w [HEAD] bench.weather(city='Lyon', ms={TOOL_MS['weather']}) [END]"
    f" [CALL] t [HEAD] bench.trains(route='Lyon to Paris', ms={TOOL_MS['trains']}) [END]"
    f" [CALL] m [HEAD] bench.museums(city='Lyon', ms={TOOL_MS['museums']}) [END]"
    " While those run, a plan: start by the river in the old town. Walk up to the basilica"
    " for the view, then take the funicular down. If it stays dry, the park by the lake is"
    " good for an hour. [TRAP][END] With the results in: a dry afternoon, a museum, the train."
)


class BenchError(Exception):
    """The bench could not run (a server or the model did not start)."""


@dataclass
class Percentiles:
    """A latency distribution in milliseconds."""

    n: int
    p50: float
    p95: float
    mean: float

    @classmethod
    def of(cls, values: list[float]) -> Percentiles:
        ordered = sorted(values)
        return cls(
            len(ordered),
            statistics.median(ordered),
            ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
            statistics.fmean(ordered),
        )


@dataclass
class McpBench:
    """Everything ``bench mcp`` measured (the ``--json`` shape)."""

    model: str
    rounds: int
    tokens: int
    start_ms: float
    ready_s: dict[str, float]
    answer_ms: dict[str, list[float]]
    tok_s: dict[str, list[float]]
    """Decoding speed of each answer (waits left out): what the calls overlap with."""
    sync_over_async: float
    sync_over_async_ci95: tuple[float, float] | None
    parallel_over_async: float
    parallel_over_async_ci95: tuple[float, float] | None
    round_trip_ms: dict[str, Percentiles] = field(default_factory=dict)
    load_average: tuple[float, float] = (0.0, 0.0)
    """The machine's 1-minute load average at the start and at the end: on
    a busy machine decoding slows, which leaves calls less to overlap."""

    def targets(self) -> dict[str, bool]:
        """Whether each target of the issue is met."""
        ci = self.sync_over_async_ci95
        stdio = self.round_trip_ms["stdio"]
        return {
            "async >= 1.5x sync": self.sync_over_async >= TARGET_RATIO,
            "interval above 1.5": ci is not None and ci[0] > TARGET_RATIO,
            "stdio p50 <= 5 ms": stdio.p50 <= TARGET_STDIO_P50_MS,
            "stdio p95 <= 20 ms": stdio.p95 <= TARGET_STDIO_P95_MS,
        }


class _HttpServer:
    """The bench server over Streamable HTTP on 127.0.0.1, in a subprocess."""

    def __init__(self, folder: Path) -> None:
        port_file = folder / "port"
        self.proc = subprocess.Popen(
            [sys.executable, *SERVER, "http", str(port_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError("the HTTP bench server did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port_file.read_text()}/mcp"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _servers(url: str) -> list[ServerConfig]:
    def stdio(name: str, env: dict[str, str]) -> ServerConfig:
        return ServerConfig(
            name=name,
            transport="stdio",
            command=sys.executable,
            args=SERVER,
            env=env,
            trust=True,
            startup_timeout_s=120.0,
        )

    slow_env = {"ASYNCLM_BENCH_START_DELAY_S": str(SLOW_START_S)}
    web = ServerConfig(name="web", transport="http", url=url, trust=True, startup_timeout_s=120.0)
    return [stdio("bench", {}), web, stdio("slow", slow_env)]


def _start_hub(configs: list[ServerConfig], folder: Path) -> tuple[McpHub, float, dict[str, float]]:
    """Start the hub; (hub, ms ``start()`` took, seconds until each server was ready)."""
    hub = McpHub(configs, approvals=ApprovalStore(folder / "approvals.json"))
    ready: dict[str, float] = {}
    t0 = time.perf_counter()

    def seen(status: Any) -> None:
        if status.state is ServerState.READY and status.name not in ready:
            ready[status.name] = time.perf_counter() - t0

    hub.subscribe(seen)
    hub.start()
    start_ms = (time.perf_counter() - t0) * 1000
    if not hub.wait_settled(180):
        raise BenchError("the MCP bench servers did not start: " + _lines(hub))
    down = [s for s in hub.statuses() if s.state is not ServerState.READY]
    if down:
        hub.close()
        raise BenchError(_lines(hub))
    return hub, start_ms, ready


def _lines(hub: McpHub) -> str:
    return "; ".join(s.line() for s in hub.statuses())


async def _noop() -> str:
    return "ok"


def _round_trips(hub: McpHub, n: int) -> dict[str, Percentiles]:
    """No-op calls through an executor, the three kinds interleaved."""
    base = ToolRegistry()
    base.add_function("noop", _noop, description="Does nothing, in-process.")
    registry = hub.registry(base)
    host = ToolHost()
    done = threading.Event()
    ended: dict[str, float] = {}

    def on_result(result: CallResult) -> None:
        ended[result.id] = time.perf_counter()
        if result.status != "done":
            ended[result.id] = float("nan")
        done.set()

    executor = Executor(registry, host, lambda _req, _status: None, on_result)
    kinds = {"python": "noop", "stdio": "bench.noop", "http": "web.noop"}
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    try:
        for i in range(n + 20):  # the first 20 of each warm up
            for kind, tool in kinds.items():
                call_id = f"{kind}{i}"
                done.clear()
                t0 = time.perf_counter()
                executor.submit(CallRequest(call_id, tool))
                if not done.wait(30):
                    raise BenchError(f"a no-op call over {kind} did not return")
                if i >= 20:
                    samples[kind].append((ended[call_id] - t0) * 1000)
        if any(v != v for values in samples.values() for v in values):  # NaN: a call failed
            raise BenchError("a no-op call failed")
    finally:
        host.close()
    return {kind: Percentiles.of(values) for kind, values in samples.items()}


def _answers(
    settings: Settings, hub: McpHub, rounds: int
) -> tuple[str, int, dict[str, list[float]], dict[str, list[float]]]:
    """Run the scripted answer ``rounds`` times in each mode (plus one warm-up)."""
    runs = 1 + rounds * len(MODES)
    turns: list[TurnDone] = []
    failures: list[str] = []
    finished = threading.Semaphore(0)

    def sink(event: Event) -> None:
        if isinstance(event, TurnFailed):
            failures.append(event.message)
        if isinstance(event, TurnDone):
            turns.append(event)
            finished.release()

    registry = hub.registry(ToolRegistry())
    engine = Engine(settings, registry, backend_factory(settings), script=Script([ANSWER] * runs))
    engine.subscribe(sink)
    gen = settings.generation.model_copy(
        update={"constrain_calls": False, "prompt_style": "compact", "max_tokens": 512}
    )
    engine.start()
    try:
        if not engine.wait_loaded(300):
            raise BenchError(engine.snapshot().load_error or "the model did not load")
        info = engine.snapshot().model
        model = info.model if info is not None else "?"
        order = [Mode.ASYNC] + [
            MODES[(r + k) % len(MODES)] for r in range(rounds) for k in range(len(MODES))
        ]
        times: dict[str, list[float]] = {m.value: [] for m in MODES}
        speeds: dict[str, list[float]] = {m.value: [] for m in MODES}
        for i, mode in enumerate(order):
            engine.post(NewSession())
            engine.post(Configure(mode=mode, generation=gen.model_copy(update={"mode": mode})))
            engine.post(SendMessage("Plan my afternoon in Lyon before the train to Paris."))
            if not finished.acquire(timeout=TURN_TIMEOUT_S):
                raise BenchError(f"the {mode} answer did not finish")
            if failures:
                raise BenchError(failures[0])
            if i:  # the first is the warm-up
                times[mode.value].append(turns[-1].elapsed_ms)
                speeds[mode.value].append(turns[-1].tok_s)
        return model, turns[-1].n_generated, times, speeds
    finally:
        engine.close()


def run_mcp_bench(
    settings: Settings, *, rounds: int = 5, round_trips: int = 200, as_json: bool = False
) -> int:
    """Measure both scenarios; print a table (or JSON with ``as_json``); 0 when
    it ran, 1 (with one line on stderr) when a server or the model did not start."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="asynclm-bench-mcp-") as tmp:
        folder = Path(tmp)
        http: _HttpServer | None = None
        hub: McpHub | None = None
        try:
            http = _HttpServer(folder)
            hub, start_ms, ready = _start_hub(_servers(http.url), folder)
            trips = _round_trips(hub, round_trips)
            model, tokens, times, speeds = _answers(settings, hub, rounds)
        except BenchError as exc:
            print(f"bench mcp: {exc}", file=sys.stderr)
            return 1
        finally:
            if hub is not None:
                hub.close()
            if http is not None:
                http.stop()
    result = _summarise(model, rounds, tokens, start_ms, ready, times, trips)
    result.tok_s = speeds
    result.load_average = (load_before, os.getloadavg()[0])
    if as_json:
        data = asdict(result)
        data["targets"] = result.targets()
        print(json.dumps(data, indent=2))
    else:
        _print(result)
    return 0


def _summarise(
    model: str,
    rounds: int,
    tokens: int,
    start_ms: float,
    ready: dict[str, float],
    times: dict[str, list[float]],
    trips: dict[str, Percentiles],
) -> McpBench:
    a, s, p = times["async"], times["sync"], times["parallel"]
    mean: Callable[[list[float]], float] = statistics.fmean
    return McpBench(
        model=os.path.basename(model),
        rounds=rounds,
        tokens=tokens,
        start_ms=start_ms,
        ready_s=ready,
        answer_ms=times,
        tok_s={m: [] for m in times},
        sync_over_async=mean(s) / mean(a),
        sync_over_async_ci95=ratio_ci95(s, a),
        parallel_over_async=mean(p) / mean(a),
        parallel_over_async_ci95=ratio_ci95(p, a),
        round_trip_ms=trips,
    )


def _interval(ci: tuple[float, float] | None) -> str:
    return f"[{ci[0]:.2f}-{ci[1]:.2f}]" if ci is not None else "[-]"


def _print(r: McpBench) -> None:
    answer = Table(
        title=f"three MCP tools ({', '.join(f'{v / 1000:g} s' for v in TOOL_MS.values())}) "
        f"in a {r.tokens}-token answer, {r.model}, {r.rounds} rounds"
    )
    for col in ("mode", "median ms", "min ms", "max ms", "tok/s", "vs async"):
        answer.add_column(col, justify="left" if col == "mode" else "right")
    for mode in MODES:
        runs = r.answer_ms[mode.value]
        ratio = {
            Mode.ASYNC: "1.00x",
            Mode.SYNC: f"{r.sync_over_async:.2f}x {_interval(r.sync_over_async_ci95)}",
            Mode.PARALLEL: f"{r.parallel_over_async:.2f}x {_interval(r.parallel_over_async_ci95)}",
        }[mode]
        answer.add_row(
            mode.value,
            f"{statistics.median(runs):.0f}",
            f"{min(runs):.0f}",
            f"{max(runs):.0f}",
            f"{statistics.median(r.tok_s[mode.value]):.1f}" if r.tok_s[mode.value] else "",
            ratio,
        )
    print_table(answer)
    trip = Table(title="no-op call round trip through the executor (ms)")
    for col in ("tool", "calls", "p50", "p95", "mean", "MCP adds (p50)"):
        trip.add_column(col, justify="left" if col == "tool" else "right")
    base = r.round_trip_ms["python"].p50
    for kind, label in (
        ("python", "in-process Python"),
        ("stdio", "MCP stdio"),
        ("http", "MCP HTTP"),
    ):
        d = r.round_trip_ms[kind]
        adds = "" if kind == "python" else f"{d.p50 - base:.2f}"
        trip.add_row(label, str(d.n), f"{d.p50:.2f}", f"{d.p95:.2f}", f"{d.mean:.2f}", adds)
    print_table(trip)
    ready = ", ".join(
        f"{name} {s:.1f} s" for name, s in sorted(r.ready_s.items(), key=lambda x: x[1])
    )
    print(f"hub start() returned in {r.start_ms:.1f} ms with 3 servers; ready: {ready}")
    before, after = r.load_average
    print(f"load average (1 min): {before:.1f} at the start, {after:.1f} at the end")
    print(
        "targets: " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in r.targets().items())
    )
