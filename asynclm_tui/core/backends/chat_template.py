"""Which chat template renders the conversation, and why.

``model.chat_format`` is ``auto`` (the GGUF's own template; if it has none or
it fails, the known template for the model's tokenizer or architecture from
llama.cpp's built-ins; else ChatML), a built-in name, or a Jinja file.  A
template that rejects the system role (``raise_exception('System role not
supported')``, as several Gemma and Mistral templates do) gets the system
prompt folded into the first user message.  The choice is made, and tried on
a small conversation, when the model loads, so a template that cannot work is
a load error with one line, never a failure mid-turn.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from asynclm_tui.core.settings.config import looks_like_path

Messages = Sequence[dict[str, str]]
Renderer = Callable[[Messages], str]

FALLBACK_FORMAT = "chatml"

MARKERS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("<|im_start|>", "<|im_end|>"), "chatml"),
    (("<start_of_turn>", "<end_of_turn>"), "gemma"),
    (("<|start_header_id|>", "<|eot_id|>"), "llama3"),
    (("<|user|>", "<|assistant|>", "<|end|>"), "phi3"),
    (("<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>"), "command-r"),
    (("[INST]", "[/INST]"), "mistral-v3"),
)
"""Special tokens in the vocabulary that identify a template family."""

ARCHITECTURES = {
    "gemma": "gemma", "gemma2": "gemma", "gemma3": "gemma", "gemma3n": "gemma",
    "qwen2": "chatml", "qwen2moe": "chatml", "qwen3": "chatml", "qwen3moe": "chatml",
    "phi3": "phi3", "command-r": "command-r", "cohere2": "command-r",
    "deepseek2": "deepseek2", "exaone": "exaone3", "granite": "granite",
    "chatglm": "chatglm4", "llama4": "llama4", "minicpm": "minicpm",
}  # fmt: skip
"""``general.architecture`` to the template its instruct models use."""

END_MARKERS = {
    "chatml": "<|im_end|>",
    "gemma": "<end_of_turn>",
    "llama3": "<|eot_id|>",
    "phi3": "<|end|>",
    "command-r": "<|END_OF_TURN_TOKEN|>",
}
"""The token that closes an assistant turn, for built-ins chosen as fallbacks."""

_PROBE: list[dict[str, str]] = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "U1"},
    {"role": "assistant", "content": "A1"},
    {"role": "user", "content": "U2"},
]


class TemplateError(Exception):
    """No usable chat template; ``str()`` is a one-line reason."""


@dataclass(frozen=True)
class ModelVocab:
    """What the choice needs to know about a loaded model."""

    template: str | None
    architecture: str
    bos: str
    eos: str
    add_bos: bool
    is_token: Callable[[str], bool]
    """Whether a text is one special token of the vocabulary."""


@dataclass(frozen=True)
class TemplateChoice:
    """The template in use, for ``asynclm doctor`` and the TUI's notice."""

    label: str
    why: str
    fallback: bool
    """Not the model's own template although ``auto`` asked for it."""
    fold_system: bool
    end_marker: str | None = None

    def notice(self) -> str:
        """A one-line notice for the user, or '' when nothing is unusual."""
        parts = []
        if self.fallback:
            parts.append(f"chat template: {self.label} ({self.why})")
        if self.fold_system:
            parts.append("the template rejects a system role: instructions go in the first message")
        return "; ".join(parts)


class ChatTemplate:
    """Renders a conversation with the chosen template (generation prompt added)."""

    def __init__(self, render: Renderer, choice: TemplateChoice) -> None:
        self._render = render
        self.choice = choice

    def render(self, messages: Messages) -> str:
        """The prompt text for ``messages``."""
        if self.choice.fold_system:
            messages = fold_system(messages)
        return self._render(messages)


def fold_system(messages: Messages) -> list[dict[str, str]]:
    """The system message's text put in front of the first user message."""
    out = [dict(m) for m in messages]
    system = [m["content"] for m in out if m["role"] == "system"]
    rest = [m for m in out if m["role"] != "system"]
    if not system:
        return out
    text = "\n\n".join(system)
    for m in rest:
        if m["role"] == "user":
            m["content"] = f"{text}\n\n{m['content']}"
            return rest
    return [{"role": "user", "content": text}, *rest]


@cache
def builtin_formats() -> tuple[str, ...]:
    """The chat template names llama.cpp knows."""
    from asynclm_tui.core.backends.llama_library import import_llama_cpp

    lib = import_llama_cpp().llama_cpp
    names = (ctypes.c_char_p * 256)()
    n = int(lib.llama_chat_builtin_templates(names, 256))
    return tuple(sorted((names[i] or b"").decode() for i in range(min(n, 256))))


def check_format(spec: str) -> str | None:
    """Why ``spec`` cannot be a chat format, or None when it can."""
    if spec == "auto":
        return None
    if looks_like_path(spec):
        path = Path(spec).expanduser()
        return None if path.is_file() else f"template file not found: {path}"
    if spec not in builtin_formats():
        return f"unknown chat format {spec!r}; use auto, a Jinja file or one of: " + ", ".join(
            builtin_formats()
        )
    return None


def jinja_renderer(template: str, vocab: ModelVocab) -> Renderer:
    """Render with a Jinja template, as transformers would.

    Raises:
        TemplateError: the template does not compile.
    """
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    try:
        fmt = Jinja2ChatFormatter(template, eos_token=vocab.eos, bos_token=vocab.bos)
    except Exception as exc:  # jinja2 raises many types for a bad template
        raise TemplateError(f"the template does not compile: {exc}") from None

    def render(messages: Messages) -> str:
        return str(fmt(messages=list(messages)).prompt)  # type: ignore[arg-type]

    return render


def builtin_renderer(name: str, vocab: ModelVocab) -> Renderer:
    """Render with one of llama.cpp's built-in templates; BOS added when the
    vocabulary asks for it (the built-ins leave it out)."""
    from asynclm_tui.core.backends.llama_library import import_llama_cpp

    lib: Any = import_llama_cpp().llama_cpp
    bos = vocab.bos if vocab.add_bos else ""

    def render(messages: Messages) -> str:
        n = len(messages)
        chat = (lib.llama_chat_message * max(n, 1))()
        keep = []  # the encoded strings must outlive the call
        for i, m in enumerate(messages):
            role, content = m["role"].encode(), m["content"].encode()
            keep += [role, content]
            chat[i].role, chat[i].content = role, content
        size = 2 * sum(len(b) for b in keep) + 1024
        for _ in range(2):
            buf = ctypes.create_string_buffer(size)
            got = int(lib.llama_chat_apply_template(name.encode(), chat, n, True, buf, size))
            if got < 0:
                raise TemplateError(f"llama.cpp cannot apply the {name!r} template")
            if got <= size:
                text = buf.raw[:got].decode("utf-8", errors="replace")
                return text if not bos or text.startswith(bos) else bos + text
            size = got + 1
        raise TemplateError("the rendered prompt kept growing")

    return render


def _tried(render: Renderer, choice: TemplateChoice) -> ChatTemplate:
    """Try ``render`` on a small conversation, folding the system role if needed.

    Raises:
        TemplateError: it fails even without a system message.
    """
    try:
        render(_PROBE)
        return ChatTemplate(render, choice)
    except Exception as first:
        try:
            render(fold_system(_PROBE))
        except Exception as exc:
            raise TemplateError(f"rendering fails: {exc}") from first
    folded = TemplateChoice(choice.label, choice.why, choice.fallback, True, choice.end_marker)
    return ChatTemplate(render, folded)


def known_format(vocab: ModelVocab) -> tuple[str | None, str]:
    """The built-in template for this tokenizer or architecture, and why."""
    for markers, name in MARKERS:
        if all(vocab.is_token(m) for m in markers):
            return name, f"its vocabulary has {' and '.join(markers)}"
    arch = vocab.architecture
    if arch in ARCHITECTURES:
        return ARCHITECTURES[arch], f"the {arch} architecture uses it"
    return None, "no known template for its tokenizer or architecture"


def _builtin(name: str, vocab: ModelVocab, label: str, why: str, fallback: bool) -> ChatTemplate:
    marker = END_MARKERS.get(name)
    end = marker if marker and vocab.is_token(marker) else None
    return _tried(builtin_renderer(name, vocab), TemplateChoice(label, why, fallback, False, end))


def choose_template(spec: str, vocab: ModelVocab) -> ChatTemplate:
    """The template for ``model.chat_format`` = ``spec`` on this model.

    Raises:
        TemplateError: a named or file template that cannot work (one line).
    """
    if spec == "auto":
        if vocab.template:
            try:
                own = jinja_renderer(vocab.template, vocab)
                return _tried(own, TemplateChoice("the model's own", "from the GGUF", False, False))
            except TemplateError as exc:
                lead = f"the GGUF's template is unusable ({exc}); "
        else:
            lead = "the GGUF has no chat template; "
        name, why = known_format(vocab)
        if name is not None:
            return _builtin(name, vocab, f"{name} (built-in)", lead + why, True)
        return _builtin(FALLBACK_FORMAT, vocab, "chatml (built-in)", lead + why, True)
    problem = check_format(spec)
    if problem:
        raise TemplateError(problem)
    if looks_like_path(spec):
        path = Path(spec).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"{path}: {exc}") from None
        try:
            return _tried(
                jinja_renderer(text, vocab),
                TemplateChoice(f"file {path.name}", "chat_format names this file", False, False),
            )
        except TemplateError as exc:
            raise TemplateError(f"{path}: {exc}") from None
    return _builtin(spec, vocab, f"{spec} (built-in)", "chat_format names it", False)
