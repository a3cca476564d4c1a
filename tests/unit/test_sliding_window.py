"""Sliding the context window, on a backend whose tokens are characters."""

from __future__ import annotations

from collections.abc import Sequence

from asynclm_tui.core.backends.base import BackendInfo
from asynclm_tui.core.decode.context_window import fit, headroom, slide


class CharBackend:
    """One token per character; a chat renders as ``<role>text`` lines."""

    def __init__(self, n_ctx: int) -> None:
        self.info = BackendInfo("chars", n_ctx, 0, 0, 0, False, 1, {})
        self.kv: list[int] = []
        self.evaluated = 0

    @property
    def tokens(self) -> Sequence[int]:
        return list(self.kv)

    @property
    def n_past(self) -> int:
        return len(self.kv)

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        return [ord(c) for c in text]

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        return "".join(f"<{m['role'][0]}>{m['content']}\n" for m in messages) + "<a>"

    def truncate(self, n: int) -> None:
        del self.kv[n:]

    def append(self, tokens: Sequence[int]) -> None:
        assert len(self.kv) + len(tokens) <= self.info.n_ctx
        self.kv += tokens
        self.evaluated += len(tokens)


def chat(turns: int) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": "S" * 20}]
    for n in range(turns):
        messages += [
            {"role": "user", "content": f"q{n}" * 5},
            {"role": "assistant", "content": f"a{n}" * 10},
        ]
    return [*messages, {"role": "user", "content": "now"}]


def test_a_turn_started_by_results_goes_whole_and_alone() -> None:
    backend = CharBackend(200)
    messages = chat(3)
    # Turn 2 was started by a result: an answer with no user message before it.
    messages.insert(3, {"role": "assistant", "content": "r" * 30})
    fitted = fit(backend, messages, need=60)  # type: ignore[arg-type]
    assert fitted is not None and fitted.dropped_turns >= 2
    roles = [m["role"] for m in messages]
    assert roles[0] == "system" and roles[1] == "user" and roles[-1] == "user"
    assert all(not (a == b == "user") for a, b in zip(roles, roles[1:], strict=False))
    # During a turn that results started, the last answer is an earlier turn's.
    answered = [{"role": "system", "content": "S"}, *chat(2)[1:-1]]
    fitted = fit(backend, answered, tail=[0] * 150, need=20)  # type: ignore[arg-type]
    assert fitted is not None and [m["role"] for m in answered] == ["system"]


def test_fit_drops_the_oldest_whole_turns_only() -> None:
    backend = CharBackend(200)
    messages = chat(5)
    fitted = fit(backend, messages, need=40)  # type: ignore[arg-type]
    assert fitted is not None and fitted.dropped_turns > 0
    assert messages[0]["role"] == "system" and messages[-1]["content"] == "now"
    assert [m["role"] for m in messages[1:-1]] == ["user", "assistant"] * (5 - fitted.dropped_turns)
    assert messages[1]["content"].startswith(f"q{fitted.dropped_turns}")
    assert len(fitted.tokens) + 40 <= 200
    assert fitted.n_full > len(fitted.tokens)


def test_fit_gives_up_only_when_the_prompt_alone_is_too_long() -> None:
    backend = CharBackend(30)
    messages = chat(2)
    assert fit(backend, messages, need=1) is None  # type: ignore[arg-type]
    assert messages == chat(2)  # left as it was


def test_slide_keeps_the_current_turn_and_reuses_the_system_prompt() -> None:
    backend = CharBackend(220)
    messages = chat(3)
    prompt = backend.tokenize(backend.render_chat(messages))
    backend.append(prompt)
    answer = backend.tokenize("partial answer [CALL] a [HEAD] f() [END] more")
    backend.append(answer[: 220 - len(prompt)])
    written = backend.tokens[len(prompt) :]
    before = backend.evaluated
    slid = slide(backend, messages, len(prompt), need=10, spare=30)  # type: ignore[arg-type]
    assert slid is not None and slid.dropped_turns >= 1
    assert backend.n_past + 10 <= 220
    assert backend.tokens[slid.n_prompt :] == written  # the turn so far is intact
    assert backend.tokens[: slid.n_prompt] == backend.tokenize(backend.render_chat(messages))
    # Only what follows the system prompt was evaluated again.
    assert backend.evaluated - before == slid.n_evaluated < slid.n_after - 20


def test_slide_with_nothing_to_drop() -> None:
    backend = CharBackend(60)
    messages = chat(0)
    backend.append(backend.tokenize(backend.render_chat(messages)) + [1] * 20)
    assert slide(backend, messages, 30, need=30, spare=0) is None  # type: ignore[arg-type]


def test_headroom() -> None:
    assert headroom(4096, 1024) == 1024
    assert headroom(512, 1024) == 128
    assert headroom(4096, 100) == 100
