"""``asynclm bench decode``: the engine's loop vs llama-cpp-python streaming.

Both sides use the same model file, the same prompt tokens and the same
generated tokens: the reference is ``Llama.create_completion(stream=True)``;
the engine then teacher-forces exactly the tokens the reference produced, so
each step costs the same sampler call and decode, plus the engine's CML parser
and interrupt checks.  Rounds alternate the order to cancel drift on a noisy
machine; the reported ratio is of the median rates.  The reference runs in a
child process (see :mod:`asynclm_tui.lab.bench.sidecar`).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from asynclm_tui.core.api.enums import InterruptKind
from asynclm_tui.core.api.events import (
    Configure,
    Event,
    ForceNextTurn,
    Interrupt,
    NewSession,
    SendMessage,
    Token,
    TurnDone,
)
from asynclm_tui.core.api.handle import EngineHandle
from asynclm_tui.core.backends import llama_factory, load_llama
from asynclm_tui.core.backends.adapter import applied_adapter
from asynclm_tui.core.backends.base import ModelLoadError
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.settings.config import Settings
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.headless.tables import print_table
from asynclm_tui.lab.bench.bootstrap import median_ci95
from asynclm_tui.lab.bench.call_blocks import (
    CALL_REQUESTS,
    measure_calls,
    print_call_blocks,
)
from asynclm_tui.lab.bench.call_blocks import summary as call_summary
from asynclm_tui.lab.bench.sidecar import Sidecar, SidecarError

PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."


@dataclass
class Round:
    """One side-by-side measurement."""

    reference_tok_s: float
    engine_tok_s: float
    n_tokens: int


def _rate(times: list[float]) -> float:
    """Tokens per second over the intervals between the first and last token."""
    if len(times) < 2:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


class ReferenceSide:
    """llama-cpp-python's own streaming completion on a second context
    (run in a :class:`~asynclm_tui.lab.bench.sidecar.Sidecar`)."""

    def __init__(self, settings: Settings, system_prompt: str) -> None:
        self.settings = settings
        self.backend = load_llama(settings)  # the same file and settings as the engine's
        prompt_text = self.backend.render_chat(
            [{"role": "system", "content": system_prompt}, {"role": "user", "content": PROMPT}]
        )
        self.prompt = self.backend.tokenize(prompt_text, special=True)

    def __call__(self, n: int) -> tuple[float, list[int]]:
        """Generate ``n`` tokens; the rate and the tokens produced."""
        gen = self.settings.generation
        llm = self.backend.llm
        llm.reset()
        times: list[float] = []
        for _chunk in llm.create_completion(
            self.prompt,
            max_tokens=n,
            stream=True,
            temperature=gen.temperature,
            top_k=gen.top_k,
            top_p=gen.top_p,
            repeat_penalty=gen.repeat_penalty,
            seed=self.settings.model.seed or 1,
        ):
            times.append(time.perf_counter())
        produced: list[int] = llm.input_ids[len(self.prompt) : llm.n_tokens].tolist()
        return _rate(times), produced

    def close(self) -> None:
        """Free the context."""
        self.backend.close()


class _Recorder:
    """Sink that timestamps tokens on the decode thread itself, so the
    measurement never depends on waking another thread per token."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.interrupts: list[Interrupt] = []
        self.text = ""
        self.done = threading.Event()

    def __call__(self, event: Event) -> None:
        match event:
            case Token(text=text) if text:
                self.times.append(event.t)
            case Interrupt():
                self.interrupts.append(event)
            case TurnDone(text=text):
                self.text = text
                self.done.set()

    def clear(self) -> None:
        """Forget the last turn."""
        self.times.clear()
        self.interrupts.clear()
        self.done.clear()


def _engine_round(engine: EngineHandle, rec: _Recorder, tokens: list[int]) -> float:
    engine.post(NewSession())
    rec.clear()
    engine.post(ForceNextTurn(tuple(tokens)))
    engine.post(SendMessage(PROMPT))
    rec.done.wait()
    return _rate(rec.times)


def measure(settings: Settings, tokens: int, rounds: int) -> list[Round]:
    """Run ``rounds`` alternating reference/engine measurements."""
    engine: EngineHandle = Engine(
        settings, ToolRegistry.load(settings.tool_paths()), llama_factory(settings)
    )
    rec = _Recorder()
    engine.subscribe(rec)
    engine.start()
    try:
        if not engine.wait_loaded():
            raise ModelLoadError(engine.snapshot().load_error or "model failed to load")
        # A second context on the same file, in a child process (see sidecar);
        # it renders the same system prompt and message with the same template.
        with Sidecar(ReferenceSide, settings, engine.snapshot().system_prompt) as reference:
            results: list[Round] = []
            # Warm-up, and the token sequence both sides produce (same seed).
            _, produced = reference(tokens)
            _engine_round(engine, rec, produced)
            for i in range(rounds):
                # Alternate which side goes first so drift hits both equally.
                if i % 2 == 0:
                    ref_rate, _ = reference(tokens)
                    eng_rate = _engine_round(engine, rec, produced)
                else:
                    eng_rate = _engine_round(engine, rec, produced)
                    ref_rate, _ = reference(tokens)
                results.append(Round(ref_rate, eng_rate, len(produced)))
        return results
    finally:
        engine.close()


def run_decode_bench(
    settings: Settings, *, tokens: int, rounds: int, as_json: bool, calls: int = CALL_REQUESTS
) -> int:
    """Print the tables (or JSON): the engine's loop against the reference,
    then (``calls`` > 0) call blocks written with and without jump-forward;
    exit code 0, or 1 if the model fails to load."""
    try:
        results = measure(settings, tokens, rounds)
        blocks = call_summary(*measure_calls(settings, calls)) if calls > 0 else None
    except (ModelLoadError, SidecarError) as exc:
        print(f"asynclm: {exc}")
        return 1
    ref = statistics.median(r.reference_tok_s for r in results)
    eng = statistics.median(r.engine_tok_s for r in results)
    ratio = eng / ref if ref else 0.0
    if as_json:
        print(
            json.dumps(
                {
                    "engine_tok_s": round(eng, 2),
                    "reference_tok_s": round(ref, 2),
                    "ratio": round(ratio, 4),
                    "tokens": results[0].n_tokens if results else 0,
                    "rounds": [r.__dict__ for r in results],
                    "call_blocks": blocks,
                }
            )
        )
        return 0
    from rich.table import Table

    table = Table("round", "tokens", "reference tok/s", "engine tok/s", "ratio")
    for column in table.columns:
        column.justify = "right"
    for i, r in enumerate(results, 1):
        table.add_row(
            str(i),
            str(r.n_tokens),
            f"{r.reference_tok_s:.1f}",
            f"{r.engine_tok_s:.1f}",
            f"{r.engine_tok_s / r.reference_tok_s:.3f}",
            end_section=i == len(results),
        )
    table.add_row("median", "", f"{ref:.1f}", f"{eng:.1f}", f"{ratio:.3f}")
    print_table(table)
    print(f"engine/reference ratio {ratio:.3f} (target >= 0.97)")
    if blocks is not None:
        print_call_blocks(blocks)
    return 0


# ------------------------------------------------------------------ --lora: base vs adapter

LORA_TARGET = 0.9
"""Target: decoding with the adapter keeps at least 0.9 of the base model's rate."""
PING_RESULT = "temperature 21 C, wind 12 km/h from the north-west, humidity 64 %, no rain expected"
CALL_TEXT = "On it. [CALL] p [HEAD] ping() [END] "
"""Opens every forced turn: one call whose result is injected a step or two later."""
ROUND_TIMEOUT_S = 600.0


class RoundError(Exception):
    """A measured turn did not go as forced (no interrupt, or it never ended)."""


@dataclass
class LoraRound:
    """One round: the same forced turn on the base model and with the adapter."""

    base_tok_s: float
    adapter_tok_s: float
    base_inject_ms: float
    adapter_inject_ms: float
    n_tokens: int
    n_interrupt: int

    @property
    def ratio(self) -> float | None:
        """Adapter / base decode rate."""
        return self.adapter_tok_s / self.base_tok_s if self.base_tok_s > 0 else None

    @property
    def inject_ratio(self) -> float | None:
        """Adapter / base cost of the interrupt."""
        return self.adapter_inject_ms / self.base_inject_ms if self.base_inject_ms > 0 else None


def steady_rate(times: list[float], interrupt_times: list[float]) -> float:
    """Tokens per second over the gaps between tokens, leaving out each gap in
    which an interrupt was appended (that step also evaluated the block)."""
    gaps = [
        b - a
        for a, b in zip(times, times[1:], strict=False)
        if not any(a < m <= b for m in interrupt_times)
    ]
    total = sum(gaps)
    return len(gaps) / total if gaps and total > 0 else 0.0


def _ping() -> str:
    return PING_RESULT


def _adapter_engine(settings: Settings, want: Path | None) -> tuple[Engine, _Recorder]:
    """A started engine offering only ``ping``, checked to run with ``want``."""
    registry = ToolRegistry()
    registry.add_function(
        "ping", _ping, description="Report the weather in one line.", estimated_ms=1
    )
    engine = Engine(settings, registry, llama_factory(settings))
    rec = _Recorder()
    engine.subscribe(rec)
    engine.start()
    if not engine.wait_loaded():
        error = engine.snapshot().load_error or "model failed to load"
        engine.close()
        raise ModelLoadError(error)
    applied = applied_adapter(engine.snapshot().model)
    if applied != ("" if want is None else str(want)):
        engine.close()
        raise ModelLoadError(f"the model ran with adapter {applied or 'none'}, not {want}")
    return engine, rec


def _forced_round(
    engine: EngineHandle, rec: _Recorder, tokens: list[int]
) -> tuple[float, Interrupt]:
    """Decode ``tokens`` forced; the steady rate and the call's interrupt."""
    engine.post(NewSession())
    rec.clear()
    engine.post(ForceNextTurn(tuple(tokens)))
    engine.post(SendMessage(PROMPT))
    if not rec.done.wait(ROUND_TIMEOUT_S):
        raise RoundError(f"a forced turn did not end within {ROUND_TIMEOUT_S:.0f} s")
    tool = [i for i in rec.interrupts if i.kind is InterruptKind.TOOL]
    if not tool:
        raise RoundError("the forced call's result was never injected")
    return steady_rate(rec.times, [i.t for i in rec.interrupts]), tool[0]


def _forced_tokens(settings: Settings, base: EngineHandle, rec: _Recorder, n: int) -> list[int]:
    """The call, then ``n`` tokens of a story the base model writes itself."""
    engine_gen = settings.generation.model_copy(update={"max_tokens": n})
    base.post(NewSession())
    base.post(Configure(generation=engine_gen))
    rec.clear()
    base.post(SendMessage(PROMPT))
    if not rec.done.wait(ROUND_TIMEOUT_S):
        raise RoundError(f"the warm-up turn did not end within {ROUND_TIMEOUT_S:.0f} s")
    tokenizer = load_llama(settings)
    try:
        story = tokenizer.tokenize(rec.text or PROMPT) or tokenizer.tokenize(PROMPT)
        while len(story) < n:
            story += story
        return tokenizer.tokenize(CALL_TEXT) + story[:n]
    finally:
        tokenizer.close()


def _side_round(
    settings: Settings, want: Path | None, forced: list[int]
) -> tuple[float, Interrupt]:
    """Load one side, warm it up on the forced turn, measure that turn, unload it.

    One engine at a time: on the 2-vCPU VM, an adapter decoded at a quarter of
    its speed (15 against 64 tok/s) while a second model was loaded beside it
    (docs/lora-speed.md), which no user meets.
    """
    engine, rec = _adapter_engine(settings, want)
    try:
        room = settings.generation.model_copy(update={"max_tokens": len(forced) + 64})
        engine.post(Configure(generation=room))  # the whole forced turn fits
        _forced_round(engine, rec, forced)  # warm-up
        return _forced_round(engine, rec, forced)
    finally:
        engine.close()


def measure_lora(settings: Settings, adapter: Path, tokens: int, rounds: int) -> list[LoraRound]:
    """``rounds`` rounds of the same forced turn (a call, its interrupt, then
    ``tokens`` tokens) on the base model and with ``adapter``, in turn (the
    side that goes first alternates), one model loaded at a time."""
    base_settings = settings.model_copy(deep=True)
    base_settings.model.lora = "off"
    adapter_settings = settings.model_copy(deep=True)
    adapter_settings.model.lora = adapter
    base, base_rec = _adapter_engine(base_settings, None)
    try:
        forced = _forced_tokens(base_settings, base, base_rec, tokens)
    finally:
        base.close()
    results: list[LoraRound] = []
    for i in range(rounds):
        if i % 2 == 0:
            b_rate, b_int = _side_round(base_settings, None, forced)
            a_rate, a_int = _side_round(adapter_settings, adapter, forced)
        else:
            a_rate, a_int = _side_round(adapter_settings, adapter, forced)
            b_rate, b_int = _side_round(base_settings, None, forced)
        results.append(
            LoraRound(b_rate, a_rate, b_int.inject_ms, a_int.inject_ms, len(forced), b_int.n_tokens)
        )
    return results


def _verdict(ci: tuple[float, float] | None, target: float) -> str:
    if ci is None:
        return "no interval"
    if ci[0] >= target:
        return "met"
    if ci[1] < target:
        return "not met"
    return "the interval straddles the target"


def lora_summary(results: list[LoraRound], adapter: Path) -> dict[str, Any]:
    """The ``--json`` object of a ``--lora`` run (null, never NaN, without data)."""
    ratios = [r.ratio for r in results if r.ratio is not None]
    injects = [r.inject_ratio for r in results if r.inject_ratio is not None]
    ci = median_ci95(ratios)
    inject_ci = median_ci95(injects)

    def med(values: list[float]) -> float | None:
        return round(statistics.median(values), 4) if values else None

    ratio = med(ratios)
    return {
        "mode": "lora",
        "adapter": str(adapter),
        "base_tok_s": med([r.base_tok_s for r in results]),
        "adapter_tok_s": med([r.adapter_tok_s for r in results]),
        "ratio": ratio,
        "ratio_ci95": None if ci is None else [round(x, 4) for x in ci],
        "base_inject_ms": med([r.base_inject_ms for r in results]),
        "adapter_inject_ms": med([r.adapter_inject_ms for r in results]),
        "inject_ratio": med(injects),
        "inject_ratio_ci95": None if inject_ci is None else [round(x, 4) for x in inject_ci],
        "target": LORA_TARGET,
        "met": None if ratio is None else ratio >= LORA_TARGET,
        "verdict": _verdict(ci, LORA_TARGET),
        "tokens": results[0].n_tokens if results else 0,
        "interrupt_tokens": results[0].n_interrupt if results else 0,
        "rounds": [asdict(r) for r in results],
    }


def run_lora_bench(
    settings: Settings, adapter: Path, *, tokens: int, rounds: int, as_json: bool
) -> int:
    """Base against adapter: print the table (or JSON); exit code 0, or 1 if a
    model or the adapter fails to load or a forced turn goes wrong."""
    try:
        results = measure_lora(settings, adapter, tokens, rounds)
    except (ModelLoadError, RoundError) as exc:
        print(f"asynclm: {exc}")
        return 1
    data = lora_summary(results, adapter)
    if as_json:
        print(json.dumps(data, allow_nan=False))
        return 0
    from rich.table import Table

    table = Table(
        "round",
        "tokens",
        "base tok/s",
        "adapter tok/s",
        "ratio",
        "base inject ms",
        "adapter inject ms",
        "inject ratio",
        title=f"decoding with and without {adapter.name} (same forced turn)",
    )
    for column in table.columns:
        column.justify = "right"

    def f(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    for i, r in enumerate(results, 1):
        table.add_row(
            str(i),
            str(r.n_tokens),
            f"{r.base_tok_s:.1f}",
            f"{r.adapter_tok_s:.1f}",
            f(r.ratio, ".3f"),
            f"{r.base_inject_ms:.1f}",
            f"{r.adapter_inject_ms:.1f}",
            f(r.inject_ratio, ".3f"),
            end_section=i == len(results),
        )
    table.add_row(
        "median",
        "",
        f(data["base_tok_s"], ".1f"),
        f(data["adapter_tok_s"], ".1f"),
        f(data["ratio"], ".3f"),
        f(data["base_inject_ms"], ".1f"),
        f(data["adapter_inject_ms"], ".1f"),
        f(data["inject_ratio"], ".3f"),
    )
    print_table(table)
    ci, ici = data["ratio_ci95"], data["inject_ratio_ci95"]
    shown = f"{ci[0]:.3f}-{ci[1]:.3f}" if ci else "-"
    ishown = f"{ici[0]:.3f}-{ici[1]:.3f}" if ici else "-"
    print(
        f"adapter/base decode ratio {f(data['ratio'], '.3f')} (95 % interval {shown}, "
        f"{len(results)} rounds; target >= {LORA_TARGET}: {data['verdict']}); "
        f"interrupt cost ratio {f(data['inject_ratio'], '.3f')} (95 % interval {ishown})"
    )
    return 0
