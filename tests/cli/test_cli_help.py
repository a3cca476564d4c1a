"""The CLI's help, version, choices and stdin prompt, as a new user meets them."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.cli.test_cli import asynclm

COMMANDS = [
    [],
    ["chat"],
    ["run"],
    ["doctor"],
    ["tools", "list"],
    ["tools", "check"],
    ["sessions"],
    ["sessions", "list"],
    ["sessions", "show"],
    ["sessions", "export"],
    ["sessions", "rename"],
    ["sessions", "delete"],
    ["bench", "ui"],
    ["bench", "bfcl"],
    ["bench", "decode"],
    ["soak"],
    ["traces"],
    ["bench", "tools"],
    ["train"],
    ["train", "data"],
    ["train", "run"],
]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_no_type_placeholders(command: list[str]) -> None:
    short = asynclm(*command, "-h")
    assert short.returncode == 0, short.stderr
    assert short.stdout == asynclm(*command, "--help").stdout
    for placeholder in ("{prompt}", "{PROMPT}"):
        assert placeholder not in short.stdout, placeholder
    # Typer's type labels: <bool>, <str>, <int range>, <list[Path]>, <path> ...
    assert re.search(r"<[a-z][^>]*>", short.stdout) is None, short.stdout


def test_mode_and_theme_list_choices_and_reject_alike() -> None:
    help_text = asynclm("chat", "-h").stdout
    assert "[async|sync|parallel]" in help_text
    assert "asynclm-high-contrast" in help_text
    for args, name in [(["--mode", "bogus"], "--mode"), (["--theme", "nope"], "--theme")]:
        proc = asynclm("chat", *args)
        assert proc.returncode == 2
        [line] = proc.stderr.strip().splitlines()
        assert line.startswith(f"asynclm: {name}: ") and "is not one of" in line


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(flag: str) -> None:
    proc = asynclm(flag)
    assert proc.returncode == 0 and proc.stdout.startswith("asynclm-tui ")


def test_run_without_a_prompt_reads_stdin_or_says_what_is_missing() -> None:
    proc = subprocess.run(  # an empty pipe: nothing to send
        [sys.executable, "-m", "asynclm_tui", "run", "-"],
        input="  \n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.strip() == "asynclm: the prompt is empty"
