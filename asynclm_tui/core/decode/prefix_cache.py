"""A saved KV cache for the system prompt, so the first answer starts at once.

Every launch would otherwise evaluate the whole system prompt (tool docs, CML
rules, an example) before the first answer token.  After that evaluation the
model's state is saved under the XDG cache dir, keyed by everything that shapes
it: the model file (path, size, mtime), context size and KV type, the llama.cpp
build, and the exact prompt tokens (which cover the tool set, the prompt text
and the chat template).  A later launch restores it instead.  A file that is
missing, stale, truncated or altered is ignored with a log line and replaced;
it can never crash a launch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from asynclm_tui.core.backends.base import Backend
from asynclm_tui.core.settings import paths

LOG = logging.getLogger("asynclm.prefix_cache")

KEEP_FILES = 8
"""Saved states kept (least recently used ones are deleted)."""


@dataclass(frozen=True)
class Warmed:
    """What :func:`warm_prefix` did."""

    how: str
    """``restored``, ``evaluated`` (and saved), ``kept`` (already in the KV
    cache) or ``stopped`` (the engine closed first)."""
    n_tokens: int


def prefix_tokens(backend: Backend, system_text: str) -> list[int]:
    """The tokens every first turn starts with: the rendered system prompt up to
    where the user's words begin (found by rendering two different messages)."""
    renders = [
        backend.tokenize(
            backend.render_chat(
                [{"role": "system", "content": system_text}, {"role": "user", "content": text}]
            ),
            special=True,
        )
        for text in ("A", "Z")
    ]
    n = 0
    for a, b in zip(*renders, strict=False):
        if a != b:
            break
        n += 1
    return renders[0][:n]


def cache_key(identity: str, tokens: Sequence[int]) -> str:
    """A file-name-safe hash of the model identity and the prompt tokens."""
    h = hashlib.sha256(identity.encode())
    h.update(b"\0" + ",".join(map(str, tokens)).encode())
    return h.hexdigest()[:32]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _prune(folder: Path) -> None:
    states = sorted(folder.glob("*.state"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in states[KEEP_FILES:]:
        for p in (old, old.with_suffix(".json")):
            p.unlink(missing_ok=True)


def _restore(backend: Backend, state: Path, meta: Path, tokens: list[int]) -> bool:
    """Load a saved state after checking its checksum; False (logged) if unusable."""
    try:
        info = json.loads(meta.read_text())
        if info.get("tokens") != len(tokens) or info.get("sha256") != _sha256(state):
            LOG.warning("ignoring %s: checksum or length does not match", state.name)
            return False
    except (OSError, ValueError, AttributeError) as exc:
        LOG.warning("ignoring %s: %s", state.name, exc)
        return False
    if not backend.load_state(state, tokens):
        LOG.warning("ignoring %s: llama.cpp could not restore it", state.name)
        return False
    os.utime(state)  # most recently used
    return True


WARM_CHUNK = 256
"""Tokens evaluated between checks for shutdown while warming."""


def warm_prefix(
    backend: Backend,
    system_text: str,
    *,
    folder: Path | None = None,
    closing: Callable[[], bool] = lambda: False,
) -> Warmed:
    """Make the KV cache hold the system prompt: restored if saved, else
    evaluated and saved for the next launch.  Evaluation stops early (nothing
    saved, ``how`` "stopped") once ``closing()`` is true, so quitting during a
    first launch's warm-up does not wait for it."""
    identity = backend.state_identity()
    if not identity:  # this backend saves no states (a server keeps its own cache)
        return Warmed("kept", 0)
    tokens = prefix_tokens(backend, system_text)
    if len(tokens) < 2:
        return Warmed("kept", 0)
    if list(backend.tokens[: len(tokens)]) == tokens:
        return Warmed("kept", len(tokens))
    folder = folder or paths.user_cache_dir() / "states"
    key = cache_key(identity, tokens)
    state, meta = folder / f"{key}.state", folder / f"{key}.json"
    if state.is_file():
        if _restore(backend, state, meta, tokens):
            LOG.info("restored %d prompt tokens from %s", len(tokens), state.name)
            return Warmed("restored", len(tokens))
        for p in (state, meta):
            p.unlink(missing_ok=True)
    backend.truncate(0)
    for start in range(0, len(tokens), WARM_CHUNK):
        if closing():
            backend.truncate(0)
            return Warmed("stopped", 0)
        backend.append(tokens[start : start + WARM_CHUNK])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = state.with_suffix(".tmp")
        backend.save_state(tmp)
        meta.write_text(json.dumps({"tokens": len(tokens), "sha256": _sha256(tmp)}))
        tmp.replace(state)
        _prune(folder)
        LOG.info("saved %d prompt tokens to %s", len(tokens), state.name)
    except OSError as exc:
        LOG.warning("cannot save the prompt state in %s: %s", folder, exc)
    return Warmed("evaluated", len(tokens))


def warm_start(
    backend: Backend, system_text: str, closing: Callable[[], bool] = lambda: False
) -> Warmed:
    """:func:`warm_prefix` at engine start, never fatal: it is only an
    optimisation, so a failure is logged and the first turn evaluates everything."""
    try:
        return warm_prefix(backend, system_text, closing=closing)
    except Exception:  # noqa: BLE001 - see above
        LOG.exception("warming the system prompt failed")
        backend.truncate(0)
        return Warmed("failed", 0)
