"""``asynclm bench contention``: its options, the ratios it reports, its
table and JSON, bad arguments, and the background load it starts and ends
(the measurement itself needs minutes of the real model: a command, not a test)."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from asynclm_tui.core.settings.config import Settings
from asynclm_tui.core.tools.runners import SILENT_SUCCESS, run_command
from asynclm_tui.lab.bench.contention import (
    TARGETS,
    Cell,
    print_summary,
    run_contention_bench,
    summarise,
    verdicts,
)
from asynclm_tui.lab.bench.contention_side import (
    Decoded,
    Option,
    burn_tool,
    parse_option,
    start_load,
    stop_load,
)


def test_options_parse_and_bad_ones_say_what_is_allowed() -> None:
    assert parse_option("default") == Option("default")
    assert parse_option("fixed").fixed
    assert parse_option("passive").env == (("OMP_WAIT_POLICY", "PASSIVE"),)
    assert parse_option("spin:3000").env == (("GOMP_SPINCOUNT", "3000"),)
    assert parse_option("threads:1").n_threads == 1
    for bad in ("spin", "spin:x", "threads:0", "turbo"):
        with pytest.raises(ValueError, match="use default, fixed, passive, spin:N or threads:N"):
            parse_option(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"options": ("default", "turbo")}, "'turbo' is not an option"),
        ({"options": ("default", "default")}, "an option is named twice"),
        ({"seconds": 0}, "--seconds and --tool-seconds must be above 0"),
        ({"rounds": 0}, "--rounds must be at least 1"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    kwargs: dict[str, object], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_contention_bench(Settings(), **kwargs) == 2  # type: ignore[arg-type]
    out, err = capsys.readouterr()
    assert out == "" and message in err and len(err.strip().splitlines()) == 1


def d(tok_s: float, threads: int = 2, busy: bool = False) -> Decoded:
    return Decoded(tok_s, int(tok_s * 6), busy, threads)


def cells() -> list[Cell]:
    """Two rounds: the default keeps half its speed beside others, fixed collapses."""
    out = []
    for r, scale in ((1, 1.0), (2, 0.5)):  # the machine got busier in round 2
        out += [
            Cell(r, "default", "solo", (d(40 * scale),)),
            Cell(r, "default", "pair", (d(20 * scale, 1, True), d(24 * scale, 1, True))),
            Cell(r, "default", "tool", (d(30 * scale, 1, True),)),
            Cell(r, "default", "busy", (d(16 * scale, 1, True),)),
            Cell(r, "fixed", "solo", (d(41 * scale),)),
            Cell(r, "fixed", "pair", (d(0.2 * scale, 2, True), d(0.4 * scale, 2, True))),
            Cell(r, "fixed", "tool", (d(12 * scale, 2, True),)),
            Cell(r, "fixed", "busy", (d(2 * scale, 2, True),)),
        ]
    return out


def test_ratios_are_to_the_same_options_solo_in_the_same_round() -> None:
    options = [Option("default"), Option("fixed", fixed=True)]
    summary = summarise(cells(), options)
    default, fixed = summary["default"], summary["fixed"]
    assert default["pair_ratio"] == 0.5  # the slower of the two, 20/40 and 10/20
    assert default["tool_ratio"] == 0.75 and default["busy_ratio"] == 0.4
    assert default["solo_vs_fixed"] == round(40 / 41, 4)
    assert fixed["pair_ratio"] == round(0.2 / 41, 4)
    assert default["pair_threads"] == 1 and default["pair_cpu_busy"] == 4
    assert default["solo_tok_s"] == 30.0  # the median of 40 and 20
    assert verdicts(summary) == {"pair": True, "tool": True, "solo_vs_fixed": True}
    assert verdicts({}) == dict.fromkeys(TARGETS)


def test_table_and_verdicts_are_printed(capsys: pytest.CaptureFixture[str]) -> None:
    options = [Option("default"), Option("fixed", fixed=True)]
    summary = summarise(cells(), options)
    data = {
        "options": summary,
        "rounds_run": 2,
        "seconds": 6.0,
        "machine": {"cpu": "Test CPU", "cpus": 2},
        "background_cpus": [0.1, None],
        "load_before": "0.10 0.20 0.30",
        "load_after": "0.20 0.20 0.30",
        "targets_met": verdicts(summary),
    }
    json.dumps(data, allow_nan=False)  # what --json prints must be plain JSON
    print_summary(data)
    out = capsys.readouterr().out
    assert "default" in out and "50%" in out and "98%" in out
    assert "other work kept 0.10 CPUs busy" in out
    assert "default, pair: target >= 35%: met" in out


def test_the_compile_like_load_runs_in_its_own_group_and_ends_with_it() -> None:
    load = start_load(1, time.time() + 60)
    try:
        pgid = os.getpgid(load.pid)
        assert pgid == load.pid != os.getpgid(0)  # a session of its own
    finally:
        stop_load(load)
    assert load.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)  # nothing of it is left


def test_the_burn_tool_computes_and_returns() -> None:
    started = time.perf_counter()
    out = asyncio.run(run_command(burn_tool(), {"seconds": 0.2}))
    assert out == SILENT_SUCCESS and time.perf_counter() - started >= 0.2
