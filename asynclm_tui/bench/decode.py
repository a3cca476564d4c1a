"""``asynclm bench decode``: the engine's loop vs llama-cpp-python streaming.

Both sides use the same model file, the same prompt tokens and the same
generated tokens: the reference is ``Llama.create_completion(stream=True)``;
the engine then teacher-forces exactly the tokens the reference produced, so
each step costs the same sampler call and decode, plus the engine's CML parser
and interrupt checks.  Rounds alternate the order to cancel drift on a noisy
machine; the reported ratio is of the median rates.  The reference runs in a
child process (see :mod:`asynclm_tui.bench.sidecar`).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from dataclasses import dataclass

from asynclm_tui.bench.sidecar import Sidecar, SidecarError
from asynclm_tui.core.backends import llama_factory, load_llama
from asynclm_tui.core.backends.llama_cpp import ModelLoadError
from asynclm_tui.core.config import Settings
from asynclm_tui.core.engine import Engine
from asynclm_tui.core.events import (
    Event,
    ForceNextTurn,
    NewSession,
    SendMessage,
    Token,
    TurnDone,
)
from asynclm_tui.core.handle import EngineHandle
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.tables import print_table

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
    (run in a :class:`~asynclm_tui.bench.sidecar.Sidecar`)."""

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
        self.done = threading.Event()

    def __call__(self, event: Event) -> None:
        if isinstance(event, Token) and event.text:
            self.times.append(event.t)
        elif isinstance(event, TurnDone):
            self.done.set()


def _engine_round(engine: EngineHandle, rec: _Recorder, tokens: list[int]) -> float:
    engine.post(NewSession())
    rec.times.clear()
    rec.done.clear()
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


def run_decode_bench(settings: Settings, *, tokens: int, rounds: int, as_json: bool) -> int:
    """Print the table (or JSON); exit code 0, or 1 if the model fails to load."""
    try:
        results = measure(settings, tokens, rounds)
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
                }
            )
        )
        return 0
    from rich.table import Table

    table = Table("round", "tokens", "reference tok/s", "engine tok/s", "ratio")
    for column in table.columns:
        column.justify = "right"
    for i, r in enumerate(results, 1):
        table.add_row(str(i), str(r.n_tokens), f"{r.reference_tok_s:.1f}",
                      f"{r.engine_tok_s:.1f}", f"{r.engine_tok_s / r.reference_tok_s:.3f}",
                      end_section=i == len(results))
    table.add_row("median", "", f"{ref:.1f}", f"{eng:.1f}", f"{ratio:.3f}")
    print_table(table)
    print(f"engine/reference ratio {ratio:.3f} (target >= 0.97)")
    return 0
