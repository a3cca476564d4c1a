"""``asynclm run`` as people read it: the answer's text with a line per call
and result by default, the CML stream with ``--raw``, warnings on stderr, and
nothing from the model or a tool that a terminal would obey."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import asynclm
from tests.conftest import ROOT

ESCAPES = "[CALL] e [HEAD] echo(text='\\x1b]0;pwned\\x07 done') [END]"
"""A call whose result carries an escape sequence (OSC 0 sets the window title)."""


@pytest.fixture
def echo_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.yaml"
    echo = ROOT / "tools" / "echo.yaml"
    cfg.write_text(f"model: {{n_ctx: 2048}}\ntools: {{shipped: false, dirs: ['{echo}']}}\n")
    return cfg


def script(tmp_path: Path, text: str) -> str:
    path = tmp_path / "script.txt"
    path.write_text(text)
    return str(path)


@pytest.mark.model
def test_run_prints_the_answer_as_text_with_a_line_per_call_and_result(
    tmp_path: Path, echo_config: Path
) -> None:
    answer = f"Let me echo it. {ESCAPES} Echoing. [TRAP][END] Bye \x1b[2J now."
    proc = asynclm(
        "run", "Go", "--script", script(tmp_path, answer), "-c", str(echo_config), "--no-save"
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "[CALL]" not in out and "[INTR]" not in out and "[END]" not in out
    lines = out.splitlines()
    assert lines[:2] == ["Let me echo it.", "⚙ e = echo(text='␛]0;pwned␇ done')"]
    # The result lands whenever the call returns: at the end of the sentence
    # it landed in, or after the pause (a line too) if the model got there first.
    (landed,) = [i for i, line in enumerate(lines) if line.startswith("↩ ")]
    assert lines[landed].startswith("↩ e → ␛]0;pwned␇ done · took ")
    prose = [line for line in lines[2:] if line[:2] not in ("↩ ", "⏸ ")]
    assert prose == ["Echoing.", "Bye ␛[2J now."]
    assert "\x1b" not in out and "\x07" not in out
    assert "tok/s" in proc.stderr and "[INTR]" not in proc.stderr


@pytest.mark.model
def test_raw_run_is_the_cml_stream_with_escape_sequences_made_visible(
    tmp_path: Path, echo_config: Path
) -> None:
    answer = f"Title \x1b]0;pwned\x07 set. {ESCAPES} Bye."
    proc = asynclm(
        "run", "Go", "--script", script(tmp_path, answer), "--raw",
        "-c", str(echo_config), "--no-save",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Title ␛]0;pwned␇ set. [CALL] e [HEAD] echo(" in out
    assert "[INTR] e [HEAD] ␛]0;pwned␇ done [END]" in out
    assert "\x1b" not in out and "\x07" not in out


def test_raw_and_json_together_is_a_usage_error() -> None:
    proc = asynclm("run", "Go", "--raw", "--json")
    assert proc.returncode == 2
    assert proc.stderr == "asynclm: --raw and --json: give one of them\n"
    assert proc.stdout == ""


@pytest.mark.model
def test_a_skipped_tool_file_is_named_on_stderr_and_the_run_goes_on(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "echo.yaml").write_text((ROOT / "tools" / "echo.yaml").read_text())
    (tools / "bad.yaml").write_text("name: bad\ndescription: d\ncommand: [ls]\ntimeout: 3\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"model: {{n_ctx: 2048}}\ntools: {{shipped: false, dirs: ['{tools}']}}\n")
    proc = asynclm("run", "Go", "--script", script(tmp_path, "Hi."), "-c", str(cfg), "--no-save")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Hi.\n"
    assert f"asynclm: tool skipped: {tools / 'bad.yaml'}:4: timeout: unknown field" in proc.stderr
