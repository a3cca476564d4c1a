"""``asynclm bench wire``: one interrupt's cost over a server against in-process.

Both backends hold the same prompt and decode a few tokens; then the same
interrupt (one token plus an ``[INTR] ... [END]`` block) is appended and the
time until the next token is ready is measured: in-process that is one
``llama_decode`` of the block plus a sample, over the wire the end of the
stream, a continuation request whose prompt the server's prefix cache mostly
holds, and its first streamed token.  Rounds alternate between the backends
so both see the same machine load.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass

from rich.table import Table

from asynclm_tui.core.backends import connect_server, load_llama
from asynclm_tui.core.backends.base import Backend, SamplingParams
from asynclm_tui.core.cml.prompt import system_prompt
from asynclm_tui.core.cml.syntax import format_interrupt
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.headless.tables import print_table
from asynclm_tui.lab.bench.bootstrap import bootstrap_ci95

_RESULT = "temperature 21 C, wind 12 km/h from the north-west, humidity 64 %, no rain expected"


@dataclass
class WireResult:
    """Per-backend medians over the rounds, in milliseconds."""

    backend: str
    rounds: int
    n_prompt: int
    n_interrupt: int
    inject_ms_median: float
    inject_ms_min: float
    token_ms_median: float


def _measure(
    backend: Backend, prompt: list[int], intr: list[int], tokens: int, *, reprefill: bool = False
) -> tuple[float, float]:
    """(ms to append the interrupt and sample after it, ms per plain token)."""
    if backend.tokens[: len(prompt)] == prompt:
        backend.truncate(len(prompt) - 1)  # keep the cached prompt, refresh its end
        backend.append(prompt[-1:])
    else:
        backend.truncate(0)
        backend.append(prompt)
    backend.start_sampling(SamplingParams(temperature=0.0, seed=1))
    start = time.perf_counter()
    token = backend.sample()
    for _ in range(tokens):
        backend.append([token])
        token = backend.sample()
    per_token = (time.perf_counter() - start) * 1000 / (tokens + 1)
    start = time.perf_counter()
    if reprefill:  # what a server without prefix reuse costs: everything again
        history = [*backend.tokens, token, *intr]
        backend.truncate(0)
        backend.append(history)
    else:
        backend.append([token, *intr])
    backend.sample()
    inject = (time.perf_counter() - start) * 1000
    backend.pause()
    return inject, per_token


def run_wire_bench(settings: Settings, *, rounds: int, as_json: bool) -> int:
    """Alternate the two backends for ``rounds`` rounds; print a table or JSON."""
    local = load_llama(settings)
    remote = connect_server(settings)
    try:
        messages = [
            {"role": "system", "content": system_prompt([], lambda _n: 0.0)},
            {"role": "user", "content": "What is the weather in Lyon? Then plan my afternoon."},
        ]
        results: list[WireResult] = []
        samples: dict[str, list[tuple[float, float]]] = {
            "in-process": [],
            "server": [],
            "server, re-prefill": [],
        }
        pairs = (("in-process", local), ("server", remote))
        prompts = {name: b.tokenize(b.render_chat(messages), special=True) for name, b in pairs}
        intrs = {name: b.tokenize(format_interrupt("w1", _RESULT)) for name, b in pairs}
        for k in range(rounds):
            order = pairs if k % 2 == 0 else pairs[::-1]
            for name, b in order:
                samples[name].append(_measure(b, prompts[name], intrs[name], 8))
            samples["server, re-prefill"].append(
                _measure(remote, prompts["server"], intrs["server"], 8, reprefill=True)
            )
        for name, source in (*pairs, ("server, re-prefill", remote)):
            key = "server" if source is remote else name
            injects = [s[0] for s in samples[name]]
            results.append(
                WireResult(
                    name,
                    rounds,
                    len(prompts[key]),
                    len(intrs[key]),
                    statistics.median(injects),
                    min(injects),
                    statistics.median(s[1] for s in samples[name]),
                )
            )
    finally:
        local.close()
        remote.close()
    ratio = results[1].inject_ms_median / results[0].inject_ms_median
    ci95 = _ratio_ci95([s[0] for s in samples["server"]], [s[0] for s in samples["in-process"]])
    if as_json:
        data = {"results": [asdict(r) for r in results], "ratio": ratio, "ratio_ci95": ci95}
        print(json.dumps(data, indent=2))
        return 0
    table = Table(title=f"one interrupt, {rounds} alternating rounds (medians, ms)")
    for col in ("backend", "prompt tok", "interrupt tok", "inject", "inject min", "per token"):
        table.add_column(col, justify="right" if col != "backend" else "left")
    for r in results:
        table.add_row(
            r.backend,
            str(r.n_prompt),
            str(r.n_interrupt),
            f"{r.inject_ms_median:.0f}",
            f"{r.inject_ms_min:.0f}",
            f"{r.token_ms_median:.0f}",
        )
    print_table(table)
    interval = f" [{ci95[0]:.2f}-{ci95[1]:.2f}]" if ci95 is not None else ""
    print(f"interrupt over the wire / in-process: {ratio:.2f}x{interval} (target <= 1.5x)")
    return 0


def _ratio_ci95(remote: list[float], local: list[float]) -> tuple[float, float] | None:
    """95 % interval of median(remote) / median(local), rounds resampled in
    pairs (round k of one backend ran next to round k of the other)."""
    if len(remote) < 2 or len(remote) != len(local):
        return None
    return bootstrap_ci95(
        len(remote),
        lambda idx: (
            statistics.median(remote[i] for i in idx) / statistics.median(local[i] for i in idx)
        ),
    )
