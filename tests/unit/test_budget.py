"""Result budgets: cut at a token boundary, with a marker saying how much."""

from __future__ import annotations

from asynclm_tui.core.decode.budget import CHARS_PER_TOKEN_MAX, fit_result, truncation_marker


class ByteTokens:
    """A byte-level tokenizer: one token per UTF-8 byte (like a tiny BPE)."""

    def tokenize(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def piece(self, token: int) -> bytes:
        return bytes([token])


def fit(value: str, budget: int | None):  # type: ignore[no-untyped-def]
    t = ByteTokens()
    return fit_result(value, budget, t.tokenize, t.piece)


def test_a_result_within_budget_is_untouched() -> None:
    fitted = fit("hello", 5)
    assert (fitted.text, fitted.n_tokens, fitted.cut) == ("hello", 5, 0)


def test_no_budget_means_no_cut() -> None:
    assert fit("x" * 10_000, None).text == "x" * 10_000


def test_a_long_result_keeps_its_head_and_says_what_was_cut() -> None:
    fitted = fit("abcdefghij" * 10, 30)
    assert fitted.n_tokens == 100 and fitted.n_kept == 30 and fitted.cut == 70
    assert fitted.text == "abcdefghij" * 3 + "… [truncated: 70 of 100 tokens]"


def test_a_character_split_by_the_cut_is_dropped() -> None:
    fitted = fit("é" * 10, 5)  # two bytes each: the fifth byte is half an é
    assert fitted.text.startswith("éé…")


def test_a_huge_result_is_not_tokenized_whole() -> None:
    seen: list[int] = []
    t = ByteTokens()

    def tokenize(text: str) -> list[int]:
        seen.append(len(text))
        return t.tokenize(text)

    value = "y" * 10_000_000
    fitted = fit_result(value, 10, tokenize, t.piece)
    assert seen == [10 * CHARS_PER_TOKEN_MAX]
    assert fitted.text.endswith(truncation_marker(10_000_000 - 10, 10_000_000, exact=False))
    assert "~9999990 of ~10000000" in fitted.text
