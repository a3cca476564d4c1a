"""The shipped Python tools: exact arithmetic, notes where the user's data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from asynclm_tui.core.tools.builtin import calc, notes_file, save_note


@pytest.mark.parametrize(
    ("expression", "shown"),
    [
        ("0.17 * 2450", "416.5"),  # 17 % of 2450; floats say 416.50000000000006
        ("0.1 + 0.2", "0.3"),
        ("2450 * 17 / 100", "416.5"),
        ("10 / 4", "2.5"),
        ("7 // 2", "3"),
        ("2**100", "1267650600228229401496703205376"),
        ("-(1/2)**3", "-0.125"),
        ("round(2.675, 2)", "2.68"),
        ("1/3", "0.333333333333333"),
        ("2**0.5", "1.4142135623731"),
        ("sqrt(16)", "4"),
        ("2**-64", "5.42101086242752e-20"),
        ("10**400 * 1.5", "1.5e+400"),
        ("factorial(5)", "120"),
    ],
)
def test_calc_is_exact_where_the_arithmetic_is(expression: str, shown: str) -> None:
    assert calc(expression) == shown


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("1/0", "division by zero"),
        ("(-8)**0.5", "not a real number"),
        ("2**100000", "exponent too large"),
        ("factorial(2.5)", "whole numbers"),
        ("__import__('os')", "unsupported expression"),
    ],
)
def test_calc_refuses_with_a_reason(expression: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        calc(expression)


def test_notes_go_to_the_data_dir_of_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert notes_file() == tmp_path / "data" / "asynclm" / "notes.md"
    assert save_note("buy oat milk") == f"saved to {notes_file()}"
    assert "buy oat milk" in notes_file().read_text(encoding="utf-8")
    assert not (tmp_path / "home").exists()
