"""The base model's own answers to prompts that need no tool.

No-tool examples, and the stories and lists steering messages land in, are
answered as the base model answers them (its chat template, no tools,
temperature 0.6), so the adapter learns "answer as before" rather than new
knowledge.  Answers are cached per model file, prompt, seed and variant
under the user's cache folder: building the set again (another ``--count``)
does not generate them again.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

SENTENCE_ENDS = (". ", ".\n", "! ", "? ")


def cache_file(model: Path) -> Path:
    """Where the answers of ``model`` are cached."""
    from asynclm_tui.core.settings.paths import user_cache_dir

    size = model.stat().st_size if model.is_file() else 0
    return user_cache_dir() / "train-distill" / f"{model.stem}-{size}.json"


def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _save(path: Path, data: dict[str, str]) -> None:
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)


def answer_once(backend: Any, prompt: str, seed: int, max_tokens: int) -> str:
    """One sampled answer; '' when it is unusable (CML in it, or cut off
    before a sentence ended)."""
    from asynclm_tui.core.backends.base import SamplingParams

    eos = backend.eos_tokens()
    backend.truncate(0)
    messages = [{"role": "user", "content": prompt}]
    backend.append(backend.tokenize(backend.render_chat(messages), special=True))
    backend.start_sampling(SamplingParams(temperature=0.6, seed=seed))
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pieces: list[str] = []
    finished = False
    for _ in range(max_tokens):
        token = backend.sample()
        if token in eos:
            finished = True
            break
        pieces.append(decoder.decode(backend.piece(token)))
        backend.append([token])
    text = "".join(pieces).strip()
    if not finished:  # cut at the last sentence end rather than mid-thought
        cut = max(text.rfind(end) for end in SENTENCE_ENDS)
        text = text[: cut + 1] if cut > 20 else ""
    if "[CALL]" in text or "[INTR]" in text or "[TRAP]" in text:
        return ""
    return text


def distill(
    prompts: Sequence[str],
    backend: Any,
    seed: int,
    variants: int = 2,
    progress: Callable[[int, int], None] | None = None,
    *,
    max_tokens: int = 160,
    cache: Path | None = None,
) -> dict[str, list[str]]:
    """``variants`` answers of the base model per prompt (the unusable ones
    left out).  ``backend`` is a
    :class:`~asynclm_tui.core.backends.llama_cpp.LlamaCppBackend` with no adapter."""
    store = _load(cache) if cache is not None else {}
    out: dict[str, list[str]] = {}
    fresh = 0
    for done, prompt in enumerate(prompts, start=1):
        answers: list[str] = []
        for v in range(variants):
            key = f"{seed}|{v}|{max_tokens}|{prompt}"
            if key not in store:
                store[key] = answer_once(backend, prompt, seed * 1000 + v, max_tokens)
                fresh += 1
                if cache is not None and fresh % 20 == 0:
                    _save(cache, store)
            if store[key]:
                answers.append(store[key])
        out[prompt] = answers
        if progress is not None:
            progress(done, len(prompts))
    backend.truncate(0)
    if cache is not None and fresh:
        _save(cache, store)
    return out
