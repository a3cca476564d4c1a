"""Token budgets: results injected into the context, and what a prompt spends.

A long result costs context and prefill time (appending a 1,000-token listing
takes seconds on a small CPU), so each result is cut to its tool's budget
before injection, with a marker that tells the model how much it did not see.
The full result stays with the call (the UI shows it).

A prompt that does not fit the window is explained part by part
(:func:`prompt_parts`, :func:`explain`): the system prompt and its tools, the
user's message, the earlier turns, with what to do about the largest.  Tool
sets that would crowd the window are caught before any chat by
:func:`check_tool_budget` (``asynclm tools check``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from asynclm_tui.core.backends.base import ContextFullError
from asynclm_tui.core.cml.prompt import tool_docs
from asynclm_tui.core.tools.spec import ToolSpec

CHARS_PER_TOKEN_MAX = 16
"""Few tokens span more characters than this; text beyond ``budget`` times
this is cut before tokenizing (a 10 MB result must not stall decoding)."""


@dataclass(frozen=True)
class Fitted:
    """A result fitted to its budget."""

    text: str
    """What is injected: the result, or its head plus the truncation marker."""
    n_tokens: int
    """Tokens of the whole result (approximate, ``~``, when it was huge)."""
    n_kept: int
    """Tokens of the result that were kept."""
    exact: bool = True
    """False when ``n_tokens`` was extrapolated from a prefix."""

    @property
    def cut(self) -> int:
        """Tokens left out (0 when the result fitted)."""
        return self.n_tokens - self.n_kept


def truncation_marker(cut: int, total: int, exact: bool = True) -> str:
    """``… [truncated: 812 of 1079 tokens]``: what the model reads at the cut."""
    about = "" if exact else "~"
    return f"… [truncated: {about}{cut} of {about}{total} tokens]"


def fit_result(
    value: str,
    budget: int | None,
    tokenize: Callable[[str], list[int]],
    piece: Callable[[int], bytes],
) -> Fitted:
    """Cut ``value`` to at most ``budget`` tokens (None: no limit).

    The head is decoded from the kept tokens themselves, so the cut falls on a
    token boundary; a character split by it is dropped.
    """
    if budget is None:
        return Fitted(value, 0, 0)
    limit = budget * CHARS_PER_TOKEN_MAX
    probe = value if len(value) <= limit else value[:limit]
    tokens = tokenize(probe)
    exact = probe is value
    total = len(tokens) if exact else max(len(tokens), round(len(tokens) * len(value) / limit))
    if total <= budget:
        return Fitted(value, total, total)
    head = b"".join(piece(t) for t in tokens[:budget]).decode("utf-8", errors="ignore")
    marker = truncation_marker(total - budget, total, exact)
    return Fitted(head.rstrip() + marker, total, budget, exact)


@dataclass(frozen=True)
class PromptParts:
    """Where the tokens of a prompt went."""

    total: int
    """The whole rendered conversation (the chat template included)."""
    n_ctx: int
    system: int
    """The system prompt."""
    tools: int
    """Tools described in it."""
    tool_tokens: int
    """Its tool descriptions, together."""
    largest_tool: tuple[str, int] | None
    """The tool whose description takes the most tokens, and how many."""
    message: int
    """The user's newest message."""
    extra: int = 0
    """Of the system prompt, the user's own text (``generation.system_prompt``)."""
    earlier: int = 0
    """Earlier turns in the conversation."""

    @property
    def history(self) -> int:
        """Earlier turns, with the chat template's own tokens."""
        return max(0, self.total - self.system - self.message)


def prompt_parts(
    total: int,
    n_ctx: int,
    messages: Sequence[dict[str, str]],
    tools: Iterable[ToolSpec],
    estimate: Callable[[str], float],
    count: Callable[[str], int],
    extra: str = "",
) -> PromptParts:
    """Count each part of ``messages`` (system first, the newest last) with
    ``count``; ``tools``, ``estimate`` and ``extra`` (the configured system
    prompt) are what the system prompt was written from."""
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    message = messages[-1]["content"] if messages and messages[-1]["role"] == "user" else ""
    sizes = [(spec.name, count(tool_docs([spec], estimate))) for spec in tools]
    largest = max(sizes, key=lambda s: s[1]) if sizes else None
    return PromptParts(
        total=total,
        n_ctx=n_ctx,
        system=count(system) if system else 0,
        tools=len(sizes),
        tool_tokens=sum(n for _, n in sizes),
        largest_tool=largest,
        message=count(message) if message else 0,
        extra=count(extra) if extra.strip() else 0,
        earlier=max(0, sum(m["role"] == "user" for m in messages) - 1),
    )


MOST = 0.5
"""A share of a whole above which one part is named as the cause."""


def explain(parts: PromptParts) -> str:
    """Which part of a prompt is too big, and what to do about it (one line,
    after ``the conversation (N tokens) does not fit ...``)."""
    p = parts
    tools = f"{p.tools} tool{'' if p.tools == 1 else 's'}"
    breakdown = (
        f"system prompt {p.system:,} tokens ({tools}: {p.tool_tokens:,}), message {p.message:,}"
    )
    sizes = [("system", p.system), ("message", p.message)]
    if p.earlier:
        breakdown += f", earlier turns {p.history:,}"
        sizes.append(("history", p.history))
    biggest = max(sizes, key=lambda kv: kv[1])[0]
    if biggest == "message":
        cause = f"your message alone takes {p.message:,} tokens"
        advice = "shorten the message or send it in parts"
    elif biggest == "history":
        cause = f"the earlier turns take {p.history:,} tokens"
        advice = "start a new chat"
    elif p.tool_tokens > MOST * p.system and p.largest_tool is not None:
        name, size = p.largest_tool
        if size > MOST * p.tool_tokens:
            cause = f"the tool {name!r} alone takes {size:,} tokens of the system prompt"
            advice = f"shorten its description or disable it (tools.disabled: [{name}])"
        else:
            cause = (
                f"the system prompt describes {tools} in {p.tool_tokens:,} tokens "
                f"(the largest: {name!r}, {size:,})"
            )
            advice = "disable some tools (tools.disabled) or pass fewer --tools"
    elif p.extra > MOST * p.system:
        cause = f"generation.system_prompt takes {p.extra:,} tokens of the system prompt"
        advice = "shorten generation.system_prompt"
    else:
        cause = f"the system prompt takes {p.system:,} tokens"
        advice = "set generation.prompt_style: compact (shorter instructions)"
    return f"{cause}; {advice}, or raise model.n_ctx [{breakdown}]"


CHARS_PER_TOKEN_ESTIMATE = 3
"""Characters per token when no tokenizer is at hand: fewer than most
tokenizers average on English (about 4), so counts err on the large side."""
TOOL_SHARE = 0.10
"""One tool's description above this share of the context is a warning: a
typical tool takes a few dozen tokens, so a dozen of them together stay
under a tenth of a small model's window; one tool alone taking a tenth
crowds out the conversation in every prompt."""
TOOLSET_SHARE = 0.50
"""The whole tool set above this share is a warning: the rules, the
conversation and the answer (up to a quarter of the window) need the rest."""
TOOLSET_LIMIT = 0.75
"""The tool set above this share is an error: with the rules and room for an
answer, hardly any message fits, and every prompt fails or slides at once."""


def estimate_tokens(text: str) -> int:
    """Tokens of ``text`` without a tokenizer (see :data:`CHARS_PER_TOKEN_ESTIMATE`)."""
    return -(-len(text) // CHARS_PER_TOKEN_ESTIMATE)


def _doc_line(spec: ToolSpec) -> str:
    """The tool's line in the system prompt, with its declared estimate."""
    declared = spec.expected_ms()
    return tool_docs([spec], lambda _name: declared)


@dataclass(frozen=True)
class BudgetProblem:
    """A tool set that takes too much of the context."""

    error: bool
    """True: no chat can work this way (``tools check`` fails); else a warning."""
    message: str
    """One line, naming the tool's file when it is one tool."""
    tokens: int
    share: float
    """Of the context window."""


def check_tool_budget(
    tools: Iterable[ToolSpec],
    n_ctx: int,
    count: Callable[[str], int] = estimate_tokens,
) -> list[BudgetProblem]:
    """Tools whose descriptions take more than :data:`TOOL_SHARE` of an
    ``n_ctx``-token window, then the whole set against :data:`TOOLSET_SHARE`
    and :data:`TOOLSET_LIMIT` (``count``: tokens of a text; estimated from
    its length by default)."""
    specs = list(tools)
    problems: list[BudgetProblem] = []
    total = 0
    for spec in specs:
        n = count(_doc_line(spec))
        total += n
        share = n / n_ctx
        if share > TOOL_SHARE:
            where = f"{spec.source}: " if spec.source is not None else ""
            problems.append(
                BudgetProblem(
                    share > TOOLSET_LIMIT,
                    f"{where}tool {spec.name!r}: its description takes ~{n:,} tokens, "
                    f"{share:.0%} of the {n_ctx:,}-token context (more than "
                    f"{TOOL_SHARE:.0%}); shorten it: every prompt carries it",
                    n,
                    share,
                )
            )
    share = total / n_ctx
    if share > TOOLSET_SHARE:
        problems.append(
            BudgetProblem(
                share > TOOLSET_LIMIT,
                f"the {len(specs)} tools take ~{total:,} tokens, {share:.0%} of the "
                f"{n_ctx:,}-token context (more than {TOOLSET_SHARE:.0%}); disable some "
                "(tools.disabled) or pass fewer --tools, or raise model.n_ctx",
                total,
                share,
            )
        )
    return problems


PROMPT_TOO_LONG = "the conversation ("
"""How a :class:`PromptTooLong` message begins (it carries its own advice)."""


class PromptTooLong(ContextFullError):
    """The conversation alone does not fit the context window; the message
    says which part is too big and what to do (see :func:`explain`)."""

    def __init__(self, n_prompt: int, n_ctx: int, parts: PromptParts | None = None) -> None:
        self.parts = parts
        why = f": {explain(parts)}" if parts is not None else ""
        Exception.__init__(
            self,
            f"{PROMPT_TOO_LONG}{n_prompt:,} tokens) does not fit the context window "
            f"({n_ctx:,} tokens){why}",
        )
