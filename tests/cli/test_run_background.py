"""``asynclm run`` with a call that outlives the answer, end to end on the
bundled model: by default the answer waits for it; ``--no-wait`` ends the
answer at once, and the turn the result starts follows in the same run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import asynclm, events, small_config

__all__ = ["small_config"]  # the fixture, used by name

ANSWER = "Starting the nap. [CALL] s [HEAD] sleep(ms=1500) [END] I will tell you when I wake."
REPORT = "I slept well."


def script(tmp_path: Path, *turns: str) -> str:
    path = tmp_path / "script.txt"
    path.write_text("\n=== turn ===\n".join(turns))
    return str(path)


def story(evs: list[dict[str, object]]) -> list[str]:
    """Turns (and what started them), calls, background notices, held
    results, results and ends, in order."""
    out = []
    for e in evs:
        match e["event"]:
            case "turn":
                started_by = e["started_by"]
                assert isinstance(started_by, list)
                out.append(f"turn {e['turn']} by {','.join(started_by) or 'user'}")
            case "call" | "background" | "result":
                out.append(f"{e['event']} {e['id']}")
            case "result_held":
                out.append(f"held {e['id']}")
            case "interrupt":
                out.append(f"interrupt {e['id']} {e['kind']}")
            case "done":
                out.append(f"done {e['reason']}")
    return out


@pytest.mark.model
def test_no_wait_json_ends_the_answer_and_the_result_turn_follows(
    tmp_path: Path, small_config: Path
) -> None:
    proc = asynclm(
        "run", "Nap.", "--no-wait", "--json", "--no-save",
        "--script", script(tmp_path, ANSWER, REPORT), "-c", str(small_config),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    evs = events(proc.stdout)
    told = story(evs)
    assert told == [
        "turn 1 by user",
        "call s",
        "background s",
        "interrupt s background",
        "done eos",
        "result s",
        "held s",
        "turn 2 by s",
        "interrupt s tool",
        "done eos",
    ]
    turns = [e for e in evs if e["event"] == "turn"]
    assert turns[1]["text"] == "" and turns[1]["started_by"] == ["s"]
    assert evs[-1]["event"] == "done"


@pytest.mark.model
def test_run_waits_for_the_call_by_default_and_prints_one_answer(
    tmp_path: Path, small_config: Path
) -> None:
    proc = asynclm(
        "run", "Nap.", "--no-save", "--script", script(tmp_path, ANSWER + " " + REPORT),
        "-c", str(small_config),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Starting the nap."
    assert lines[1] == "⚙ s = sleep(ms=1500)"
    assert lines[2] == f"I will tell you when I wake. {REPORT}"
    # The answer waited at its end for the nap, and the model read its result.
    assert lines[3] == "⏸ finished writing; waiting for s …"
    assert lines[4].startswith("↩ s → slept ") and len(lines) == 5
    assert proc.stderr.count("tok/s") == 1  # one answer
