"""What the bundled model does with a call that outlives its answer.

The measurement behind docs/background.md, on the real model through the
engine (no UI): ask for a long ``sleep``, let the answer end while it runs,
ask a second question meanwhile, and time the turn the result starts on its
own.  Run it from the repository root::

    OMP_WAIT_POLICY=PASSIVE python -m tests.model.background_driver --seeds 0-3

It prints one line per run, a summary, and (``--json``) every run's texts.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from asynclm_tui.core.api.delivery import CallBackgrounded
from asynclm_tui.core.api.events import (
    CallFinished,
    CallIssued,
    Event,
    SendMessage,
    Token,
    TurnDone,
    TurnStarted,
)
from asynclm_tui.core.decode import due_calls as note_module
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.decode.from_settings import build_engine
from asynclm_tui.core.settings.config import Settings, load_settings
from asynclm_tui.core.settings.paths import shipped_tools_dir

PROMPTS = (
    "Sleep for {ms} ms, then tell me it is done.",
    "Run sleep with ms={ms}",
)
SECOND = "What is 17 * 23?"
SECOND_ANSWER = "391"
DONE_WORDS = re.compile(r"\b(done|finished|complete[d]?|slept)\b", re.IGNORECASE)
NOT_DONE = re.compile(r"\bnot (yet )?(done|finished)\b", re.IGNORECASE)


@dataclass
class Run:
    """One run: what the model wrote in each turn and when things happened."""

    seed: int
    prompt: str
    first: str = ""
    """The first answer, as the model's context holds it."""
    after_notice: str = ""
    """The model's own words in the first answer after the background notice."""
    claims_done: bool = False
    """Those words say the call is done (it is not)."""
    backgrounded: bool = False
    first_end_s: float | None = None
    """From the call's issue to the end of the first answer."""
    second: str = ""
    second_answered: bool = False
    result: str = ""
    """The call's result as the tool returned it."""
    result_turn: str = ""
    started_by: list[str] = field(default_factory=list)
    finish_to_start_ms: float | None = None
    """From the call's CallFinished to the TurnStarted it started."""
    start_to_text_ms: float | None = None
    """From that TurnStarted to its first visible text."""
    names_result: bool = False
    """The result turn's own words name the result (``slept`` or its number)."""
    says_done: bool = False
    """They say that it finished (done, finished, complete, slept)."""
    repeats_previous: bool = False
    """They answer the second question again."""
    reissued: bool = False
    """The result turn called the tool again."""


class Recorder:
    """The engine's events, with waits on them."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait(self, check: Callable[[Event], bool], timeout: float, after: int = 0) -> Event | None:
        """The first event from index ``after`` on that passes ``check``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events[after:]:
                    if check(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def index(self, event: Event) -> int:
        with self._changed:
            return next(i for i, e in enumerate(self.events) if e is event)


def settings(seed: int, wait_at_end_s: float) -> Settings:
    """The sleep, calc and echo tools on the bundled model."""
    tools = shipped_tools_dir()
    loaded = load_settings(
        None, {"model.n_ctx": 2048, "model.seed": seed, "tools.wait_at_end_s": wait_at_end_s}
    )
    loaded.tools.shipped = False
    loaded.tools.dirs = [tools / "sleep.yaml", tools / "calc.yaml", tools / "echo.yaml"]
    return loaded


def own_words(text: str) -> str:
    """``text`` without its blocks (calls, traps, interrupts): the model's words."""
    return re.sub(r"\[(INTR|CALL)\].*?\[END\]|\[TRAP\]\s*\[END\]", "", text, flags=re.DOTALL)


def drive(engine: Engine, rec: Recorder, run: Run, ms: int) -> None:
    """Ask, ask again meanwhile, then wait for the turn the result starts."""
    engine.post(SendMessage(run.prompt))
    first = rec.wait(lambda e: isinstance(e, TurnDone), 120)
    assert isinstance(first, TurnDone), "the first answer did not end"
    run.first = first.text
    _, _, after = first.text.partition("[INTR]")
    run.after_notice = own_words("[INTR]" + after).strip() if after else ""
    run.claims_done = bool(DONE_WORDS.search(run.after_notice)) and not NOT_DONE.search(
        run.after_notice
    )
    issued = rec.wait(lambda e: isinstance(e, CallIssued) and e.fn == "sleep", 0)
    went = rec.wait(lambda e: isinstance(e, CallBackgrounded), 0)
    run.backgrounded = went is not None
    if issued is not None:
        run.first_end_s = first.t - issued.t
    if not isinstance(went, CallBackgrounded):
        return
    mark = len(rec.events)
    engine.post(SendMessage(SECOND))
    second = rec.wait(lambda e: isinstance(e, TurnDone), 120, mark)
    run.second = second.text if isinstance(second, TurnDone) else ""
    run.second_answered = SECOND_ANSWER in own_words(run.second)
    finished = rec.wait(lambda e: isinstance(e, CallFinished) and e.id == went.id, ms / 1000 + 60)
    started = rec.wait(lambda e: isinstance(e, TurnStarted) and bool(e.started_by), 30, mark)
    if not isinstance(finished, CallFinished) or not isinstance(started, TurnStarted):
        return
    run.result = finished.value
    run.started_by = list(started.started_by)
    run.finish_to_start_ms = (started.t - finished.t) * 1000
    at = rec.index(started)
    text = rec.wait(lambda e: isinstance(e, Token) and bool(e.visible.strip()), 60, at)
    if text is not None:
        run.start_to_text_ms = (text.t - started.t) * 1000
    done = rec.wait(lambda e: isinstance(e, TurnDone), 120, at)
    run.result_turn = done.text if isinstance(done, TurnDone) else ""
    words = own_words(run.result_turn)
    numbers = re.findall(r"\d+", run.result)
    run.names_result = "slept" in words or any(n in words for n in numbers)
    run.says_done = bool(DONE_WORDS.search(words)) and not NOT_DONE.search(words)
    run.repeats_previous = SECOND_ANSWER in words
    later = rec.events[at:]
    run.reissued = any(isinstance(e, CallIssued) and e.fn == "sleep" for e in later)


def one(seed: int, prompt: str, ms: int, wait_at_end_s: float) -> Run:
    """A fresh engine for one run."""
    run = Run(seed, prompt.format(ms=ms))
    engine = build_engine(settings(seed, wait_at_end_s))
    rec = Recorder()
    engine.subscribe(rec)
    engine.start()
    try:
        assert engine.wait_loaded(120), engine.snapshot().load_error
        drive(engine, rec, run, ms)
    finally:
        engine.close()
    return run


def seeds(spec: str) -> list[int]:
    """``0-3`` or ``0,2,5``."""
    if "-" in spec:
        low, high = spec.split("-", 1)
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in spec.split(",")]


def summary(runs: list[Run]) -> dict[str, object]:
    """Counts and timings over ``runs``."""
    delays = [r.finish_to_start_ms for r in runs if r.finish_to_start_ms is not None]
    to_text = [r.start_to_text_ms for r in runs if r.start_to_text_ms is not None]
    return {
        "runs": len(runs),
        "backgrounded": sum(r.backgrounded for r in runs),
        "second_answered": sum(r.second_answered for r in runs),
        "result_turns": len(delays),
        "result_turns_within_1s": sum(d <= 1000 for d in delays),
        "finish_to_start_ms_max": max(delays, default=None),
        "finish_to_start_ms_median": statistics.median(delays) if delays else None,
        "start_to_text_ms_median": statistics.median(to_text) if to_text else None,
        "start_to_text_ms_max": max(to_text, default=None),
        "first_claims_done": sum(r.claims_done for r in runs),
        "names_result": sum(r.names_result for r in runs),
        "says_done": sum(r.says_done for r in runs),
        "repeats_previous": sum(r.repeats_previous for r in runs),
        "reissued": sum(r.reissued for r in runs),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the prompts over the seeds; print, and write ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0-3", help="0-3 or 0,2,5")
    parser.add_argument("--ms", type=int, default=20000, help="the sleep asked for")
    parser.add_argument("--wait-at-end", type=float, default=1.0, help="tools.wait_at_end_s")
    parser.add_argument("--prompt", action="append", help="instead of the default prompts")
    parser.add_argument("--note", help="try another BACKGROUND_NOTE wording")
    parser.add_argument("--json", type=Path, help="write every run here")
    args = parser.parse_args(argv)
    if args.note:
        note_module.BACKGROUND_NOTE = args.note
    runs: list[Run] = []
    for prompt in args.prompt or PROMPTS:
        for seed in seeds(args.seeds):
            run = one(seed, prompt, args.ms, args.wait_at_end)
            runs.append(run)
            print(json.dumps(asdict(run)), flush=True)
    totals = summary(runs)
    print(json.dumps(totals, indent=1))
    if args.json is not None:
        report = {"note": note_module.BACKGROUND_NOTE, "ms": args.ms, "summary": totals}
        report["runs"] = [asdict(r) for r in runs]
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
