"""While a long message is read, the status bar says how far it has got."""

from __future__ import annotations

import re

import pytest
from uiharness import SIZE, ui_settings, wait_until

from asynclm_tui.core.api.events import PrefillProgress
from asynclm_tui.core.backends.scripted import ScriptedBackend
from asynclm_tui.core.decode.engine import Engine
from asynclm_tui.core.tools.registry import ToolRegistry
from asynclm_tui.ui.app import create_app
from asynclm_tui.ui.chat.status import prefill_left_s, prefill_text
from asynclm_tui.ui.widgets.transcript import AssistantEntry

LONG = " ".join(f"word{n}" for n in range(300))
READING = re.compile(r"reading prompt ([\d,]+)/([\d,]+) \((\d+)%\)(?: · (?:~\d+ s|<1 s) left)?")


def test_the_estimate_comes_from_the_rate_so_far() -> None:
    assert prefill_text(PrefillProgress(0.0, 0, 6200, 0.0)) == "reading prompt 0/6,200 (0%)"
    halfway = PrefillProgress(1.0, 3100, 6200, 12_000.0)
    assert prefill_text(halfway) == "reading prompt 3,100/6,200 (50%) · ~12 s left"
    early = PrefillProgress(1.0, 512, 6200, 2_000.0)
    assert prefill_text(early).endswith("(8%) · ~22 s left")
    assert prefill_text(PrefillProgress(1.0, 6000, 6200, 20_000.0)).endswith("<1 s left")
    assert prefill_text(PrefillProgress(1.0, 512, 60_000, 2_000.0)).endswith("~4 min left")
    assert prefill_left_s(PrefillProgress(1.0, 6200, 6200, 20_000.0)) is None


def test_the_estimate_grows_with_the_cost_of_later_tokens() -> None:
    # Each batch slower than the one before: tokens further in cost more.
    first = PrefillProgress(10.0, 512, 5890, 10_146.0)
    second = PrefillProgress(20.0, 1024, 5890, 20_672.0)
    at_average_rate = prefill_left_s(second)
    growing = prefill_left_s(second, first)
    assert at_average_rate == pytest.approx(4866 * 20_672 / 1024 / 1000)
    assert growing == pytest.approx(119.0, abs=0.5)
    assert prefill_text(second, first).endswith("(17%) · ~2 min left")
    # A batch as fast as the average: no growth, the latest rate holds.
    steady = PrefillProgress(20.0, 1024, 5890, 20_292.0)
    assert prefill_left_s(steady, first) == pytest.approx(4866 * 10_146 / 512 / 1000)
    # The first report (nothing read yet) is no rate to go by.
    assert prefill_left_s(second, PrefillProgress(0.0, 0, 5890, 0.0)) == at_average_rate


async def test_the_status_counts_the_prompt_tokens_read_then_generates() -> None:
    # Each batch of the prompt takes a tenth of a second: the bar shows each.
    backend = ScriptedBackend(["Read it all."], prefill_batch=64, append_s=0.1)
    settings = ui_settings()
    engine = Engine(settings, ToolRegistry(), backend.factory())
    app = create_app(settings, engine)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.chat.status_text("state") == "ready", 10, "ready")
            states: list[str] = []
            bar = app.chat.status
            set_state = bar.set_state

            def record(text: str, kind: str) -> None:
                states.append(text)
                set_state(text, kind)

            bar.set_state = record  # type: ignore[method-assign]
            app.chat.prompt.load_text(LONG)
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: not app.chat.generating and states[-1:] == ["ready"],
                20,
                "the answer",
            )
            reading = [m for s in states if (m := READING.fullmatch(s))]
            counts = [(int(m[1].replace(",", "")), int(m[2].replace(",", ""))) for m in reading]
            total = counts[-1][1]
            assert total > 300 and all(t == total for _, t in counts)
            done = [d for d, _ in counts]
            assert done == sorted(done) and done[0] == 0 and done[-1] == total
            assert any(0 < d < total for d in done), states
            assert any("left" in m[0] for m in reading), states
            # Reading comes first, then the answer is written.
            first = states.index(reading[0][0])
            assert "generating" in states[first:]
            assert states.index("generating", first) > states.index(reading[-1][0])
            assert "Read it all." in list(app.chat.query(AssistantEntry))[-1].markdown
    finally:
        engine.close()
