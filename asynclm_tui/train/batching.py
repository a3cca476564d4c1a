"""Training records on disk, and their batches: no torch here, so it is testable anywhere.

A record is one line of ``train.jsonl`` (or ``heldout.jsonl``)::

    {"id": "...", "kind": "...", "tokens": [int, ...], "train_spans": [[start, end], ...]}

``tokens`` are the ids llama.cpp sees at run time; each span is a half-open range
of positions whose tokens are model-written and go into the loss.  Position 0 has
nothing before it to predict it from, so a span starting there loses its first
token (the usual causal shift).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


class DataError(Exception):
    """A data file is missing or a line is not a valid record (``path:line: why``)."""


@dataclass(frozen=True)
class Record:
    """One training sequence: tokens and the spans that are trained on."""

    id: str
    kind: str
    tokens: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]

    def targets(self) -> list[bool]:
        """Per position: is this token a target (inside a span, not position 0)?"""
        out = [False] * len(self.tokens)
        for start, end in self.spans:
            for i in range(max(start, 1), end):
                out[i] = True
        return out

    def n_targets(self) -> int:
        """How many positions go into the loss."""
        return sum(self.targets())

    def truncated(self, seq_len: int) -> Record:
        """The first ``seq_len`` tokens (spans clipped, empty ones dropped)."""
        if len(self.tokens) <= seq_len:
            return self
        spans = tuple((a, min(b, seq_len)) for a, b in self.spans if a < seq_len)
        return Record(self.id, self.kind, self.tokens[:seq_len], spans)


def _parse(line: str, where: str, vocab_size: int | None) -> Record:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{where}: not a JSON object")
    tokens = obj.get("tokens")
    spans = obj.get("train_spans")
    if not isinstance(tokens, list) or not tokens:
        raise DataError(f"{where}: 'tokens' must be a non-empty list of ints")
    if not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in tokens):
        raise DataError(f"{where}: 'tokens' must hold non-negative ints")
    if vocab_size is not None and max(tokens) >= vocab_size:
        raise DataError(f"{where}: token id {max(tokens)} is outside the vocabulary")
    if not isinstance(spans, list):
        raise DataError(f"{where}: 'train_spans' must be a list of [start, end]")
    clean: list[tuple[int, int]] = []
    for span in spans:
        ok = (
            isinstance(span, list)
            and len(span) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in span)
        )
        if not ok or not 0 <= span[0] < span[1] <= len(tokens):
            raise DataError(f"{where}: bad span {span!r} for {len(tokens)} tokens")
        clean.append((span[0], span[1]))
    return Record(
        id=str(obj.get("id", where)),
        kind=str(obj.get("kind", "")),
        tokens=tuple(tokens),
        spans=tuple(sorted(clean)),
    )


def read_records(
    path: Path, *, limit: int | None = None, vocab_size: int | None = None
) -> list[Record]:
    """The records of a JSONL file (blank lines skipped), at most ``limit`` of them.

    Raises:
        DataError: the file is missing or a line is not a valid record.
    """
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: {exc.strerror or exc}") from None
    out: list[Record] = []
    with handle:
        for n, line in enumerate(handle, 1):
            if limit is not None and len(out) >= limit:
                break
            if line.strip():
                out.append(_parse(line, f"{path}:{n}", vocab_size))
    return out


@dataclass(frozen=True)
class Batch:
    """Indices of the records in one step and the padded length they share."""

    indices: tuple[int, ...]
    length: int

    @property
    def padded_tokens(self) -> int:
        """What the step costs: rows x the longest row."""
        return len(self.indices) * self.length


PAD_TO = 64
"""Batch lengths are rounded up to a multiple of this: fewer distinct shapes, so
torch's CPU kernels (oneDNN's bf16 ones above all) are set up once per shape and
reused, for at most 63 padding tokens a row."""


def padded_length(n: int, pad_to: int = PAD_TO) -> int:
    """``n`` rounded up to a multiple of ``pad_to``."""
    return -(-n // pad_to) * pad_to


def make_batches(
    lengths: Sequence[int], *, batch_tokens: int, seed: int, pad_to: int = PAD_TO
) -> list[Batch]:
    """Group records of similar length so that rows x padded length <= ``batch_tokens``.

    Records are sorted by length (equal lengths in a seeded random order, so
    each epoch's seed groups them differently), cut greedily into batches, and
    the batches are shuffled with the same seed: a step sees one length bucket,
    the epoch sees them in random order.  A record longer than the budget gets
    a batch of its own.
    """
    rng = random.Random(seed)
    keys = [rng.random() for _ in lengths]
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], keys[i]))
    batches: list[Batch] = []
    current: list[int] = []
    longest = 0
    for i in order:
        # sorted ascending, so the newcomer is the longest row of the batch
        length = padded_length(lengths[i], pad_to)
        if current and (len(current) + 1) * length > batch_tokens:
            batches.append(Batch(tuple(current), longest))
            current = []
        current.append(i)
        longest = length
    if current:
        batches.append(Batch(tuple(current), longest))
    rng.shuffle(batches)
    return batches


def epoch_batches(
    lengths: Sequence[int], *, batch_tokens: int, seed: int, epochs: int
) -> Iterator[Batch]:
    """All steps of a run: each epoch bucketed and shuffled with its own seed."""
    for epoch in range(epochs):
        yield from make_batches(lengths, batch_tokens=batch_tokens, seed=seed * 1000 + epoch)
