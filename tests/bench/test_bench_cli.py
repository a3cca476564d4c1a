"""Bad input to ``asynclm bench bfcl`` and ``asynclm traces``: one line, no
traceback, non-zero exit (no model is loaded for these)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from asynclm_tui.cli.app import app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "bfcl", "--dataset", "nope"], "unknown dataset 'nope'"),
        (["bench", "bfcl", "--limit", "0"], "--limit must be at least 1"),
        (["bench", "bfcl", "--strategy", "fast"], "unknown strategy 'fast'"),
        (["bench", "bfcl", "--backend", "vllm"], "not one of llama, openai"),
        (["bench", "wire"], "bench wire needs --base-url URL"),
        (["bench", "bfcl", "--driver", "dream"], "unknown driver 'dream'"),
        (["traces", "--count", "0"], "--count must be at least 1"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert message in result.output
    assert len([ln for ln in result.output.splitlines() if ln.strip()]) == 1
