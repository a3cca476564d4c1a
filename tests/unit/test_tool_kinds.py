"""Tools the model has never seen: kinds, tool lists and BFCL's documents,
checked without a model."""

from __future__ import annotations

import random

import pytest

from asynclm_tui.core.cml.prompt import launch_system_prompt
from asynclm_tui.lab.tasks.kinds import Kind, P, Spec, call_arguments, check_kind, split_phrases
from asynclm_tui.lab.tasks.kinds_heldout import HELDOUT_KINDS
from asynclm_tui.lab.tasks.requests import RequestMaker
from asynclm_tui.lab.tasks.steering import answer_goes_on
from asynclm_tui.lab.tasks.toolsets import (
    SHIPPED_NAMES,
    TRAIN_KINDS,
    Toolset,
    ToolsetMaker,
    allows_no_tool,
    kind_offer,
    shipped_registry,
)

ALL = (*TRAIN_KINDS, *HELDOUT_KINDS)


@pytest.mark.parametrize("kind", ALL, ids=lambda k: k.id)
def test_every_kind_says_every_required_argument(kind: Kind) -> None:
    assert check_kind(kind) == []


def test_held_out_kinds_share_nothing_with_the_trained_ones() -> None:
    trained = {k.id for k in TRAIN_KINDS}
    assert not trained & {k.id for k in HELDOUT_KINDS}
    names = {n for k in TRAIN_KINDS for s in k.specs for n in s.names}
    abouts = {a for k in TRAIN_KINDS for s in k.specs for a in s.about}
    for kind in HELDOUT_KINDS:
        for spec in kind.specs:
            assert not set(spec.names) & names and not set(spec.about) & abouts, kind.id
    assert len(TRAIN_KINDS) >= 30 and len(HELDOUT_KINDS) >= 10


def test_phrasings_split_into_disjoint_train_and_held_out() -> None:
    split = split_phrases(TRAIN_KINDS)
    for kind in TRAIN_KINDS:
        train, held = set(split.train[kind.id]), set(split.heldout[kind.id])
        assert train and held and not train & held
        assert train | held == set(kind.asks)


def test_an_optional_argument_is_passed_only_when_the_request_says_it() -> None:
    spec = Spec(
        ("t",), ("A timer.",), (P("seconds", "integer", slot="s"), P("label", required=False))
    )
    slots = {"s": 60, "label": "tea"}
    assert call_arguments(spec, "Timer for {s} seconds.", slots) == {"seconds": 60}
    assert call_arguments(spec, "A {label} timer, {s} s.", slots) == {"seconds": 60, "label": "tea"}


def test_minutes_and_seconds_mean_what_the_user_said() -> None:
    timer = next(k for k in TRAIN_KINDS if k.id == "timer")
    maker = ToolsetMaker("train", 0)
    toolset = Toolset((), (kind_offer(_tool(timer, "set_timer")),))
    for _ in range(30):
        ask = maker.ask(toolset, "set_timer")
        (need,) = ask.needs
        minutes = [int(m) for m in __import__("re").findall(r"(\d+)[ -]min", ask.text)]
        if minutes:
            assert need.kwargs["seconds"] == minutes[0] * 60, ask.text


def test_sleep_seconds_become_milliseconds() -> None:
    maker = RequestMaker("train", 0)
    for _ in range(60):
        ask = maker.one("sleep")
        seconds = __import__("re").search(r"(\d+) ?-?second", ask.text)
        if seconds:
            assert ask.needs[0].kwargs == {"ms": int(seconds.group(1)) * 1000}, ask.text


def _tool(kind: Kind, name: str) -> object:
    from asynclm_tui.lab.tasks.kinds import Tool

    spec = next(s for s in kind.specs if name in s.names)
    return Tool(kind, spec, name, spec.about[0], 100.0)


def test_a_tool_list_prompt_is_what_the_engine_writes_for_those_tools() -> None:
    maker = ToolsetMaker("train", 1)
    toolset = maker.toolset(shipped=True, n_kinds=3, server=True)
    reg = toolset.registry()
    assert list(reg.tools)[: len(SHIPPED_NAMES)] == list(SHIPPED_NAMES)
    assert toolset.system() == launch_system_prompt(reg.tools, style="compact")
    assert all("." in o.name for o in toolset.offers)  # one MCP server's prefix
    shipped = launch_system_prompt(shipped_registry().tools, style="compact")
    assert Toolset(SHIPPED_NAMES).system() == shipped


def test_requests_for_a_listed_tool_call_that_tool_with_fitting_arguments() -> None:
    maker = ToolsetMaker("train", 2)
    for _ in range(40):
        toolset = maker.random_toolset()
        reg = toolset.registry()
        for name in maker.askable(toolset):
            ask = maker.ask(toolset, name)
            for need in ask.needs:
                reg.bind(need.tool, (), need.kwargs)  # raises when they do not fit
                assert need.tool == name


def test_a_word_a_listed_kind_claims_keeps_shipped_requests_and_no_tool_prompts_away() -> None:
    timer = next(k for k in TRAIN_KINDS if k.id == "timer")
    translate = next(k for k in TRAIN_KINDS if k.id == "translate")
    toolset = Toolset(SHIPPED_NAMES, (kind_offer(_tool(timer, "set_timer")),))
    maker = ToolsetMaker("train", 3)
    for _ in range(40):
        assert "timer" not in maker.ask(toolset, "sleep").text.lower()
    with_translator = Toolset((), (kind_offer(_tool(translate, "translate")),))
    assert not allows_no_tool(with_translator, "Translate 'thank you' into Spanish.")
    assert allows_no_tool(with_translator, "Why is the sky blue?")
    search = next(k for k in TRAIN_KINDS if k.id == "web_search")
    assert not allows_no_tool(Toolset((), (kind_offer(_tool(search, "web_search")),)), "hi")


def test_bfcl_documents_leave_out_every_function_the_benchmark_asks_about() -> None:
    from asynclm_tui.lab.tasks.bfcl_docs import benchmark_functions, doc_ask, doc_tasks

    banned = benchmark_functions()
    tasks = doc_tasks("call")
    assert len(tasks) > 1000 and len(doc_tasks("none")) > 100
    for task in tasks:
        assert not {t.name for t in task.tools} & banned
        assert task.call is not None and task.call[0] in {t.name for t in task.tools}
    ask = doc_ask(tasks[0], random.Random(0))
    assert ask.text == tasks[0].question and ask.needs[0].tool == tasks[0].call[0]  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "goes_on"),
    [
        ("Once upon a time [INTR] user [HEAD] Make it Bob. [END] Sure, Bob it is.", True),
        ("Once upon a time [INTR] user [HEAD] Make it Bob. [END].", False),
        ("Story [INTR] user [HEAD] Also the time? [END] [CALL] c1 [HEAD] clock() [END]", True),
        ("Story [INTR] user [HEAD] x [END] [TRAP][END] [INTR] a [HEAD] 1 [END]", False),
        ("No message at all.", True),
    ],
)
def test_answer_goes_on_reads_the_text_after_the_last_message(text: str, goes_on: bool) -> None:
    assert answer_goes_on(text) is goes_on
