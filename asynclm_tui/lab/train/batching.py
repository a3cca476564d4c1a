"""Training records on disk, and their batches: no torch here, so it is testable anywhere.

A record is one line of ``train.jsonl`` (or ``heldout.jsonl``)::

    {"id": "...", "kind": "...", "tokens": [int, ...], "train_spans": [[start, end], ...],
     "prefix_len": int}

``tokens`` are the ids llama.cpp sees at run time; each span is a half-open range
of positions whose tokens are model-written and go into the loss.  Position 0 has
nothing before it to predict it from, so a span starting there loses its first
token (the usual causal shift).  ``prefix_len`` (optional) counts the leading
tokens the record shares with every record of the same system prompt: a batch
of such records runs that prefix once (see :func:`make_batches`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Hashable, Iterator, Sequence
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
    prefix_len: int = 0
    """Leading tokens shared with the records of the same system prompt."""

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
        prefix = min(self.prefix_len, seq_len)
        return Record(self.id, self.kind, self.tokens[:seq_len], spans, prefix)

    def shared_prefix(self) -> int:
        """How many leading tokens a batch may compute once for all its rows:
        the declared prefix, stopping before the position that predicts the first
        target (its hidden state must be computed per row, with gradients)."""
        first = min((max(a, 1) for a, b in self.spans if max(a, 1) < b), default=len(self.tokens))
        return max(0, min(self.prefix_len, first - 1))


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
    prefix = obj.get("prefix_len", 0)
    if not isinstance(prefix, int) or isinstance(prefix, bool) or not 0 <= prefix <= len(tokens):
        raise DataError(f"{where}: 'prefix_len' must be an int from 0 to {len(tokens)}")
    return Record(
        id=str(obj.get("id", where)),
        kind=str(obj.get("kind", "")),
        tokens=tuple(tokens),
        spans=tuple(sorted(clean)),
        prefix_len=prefix,
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
    """Indices of the records in one step, the padded length they share, and
    how many leading tokens all of them share (computed once, for row 0)."""

    indices: tuple[int, ...]
    length: int
    prefix: int = 0

    @property
    def positions(self) -> int:
        """What the step computes: the shared prefix once, then rows x the rest."""
        return self.prefix + len(self.indices) * (self.length - self.prefix)


PAD_TO = 64
"""Batch lengths are rounded up to a multiple of this: fewer distinct shapes, so
torch's CPU kernels (oneDNN's bf16 ones above all) are set up once per shape and
reused, for at most 63 padding tokens a row."""


def padded_length(n: int, pad_to: int = PAD_TO) -> int:
    """``n`` rounded up to a multiple of ``pad_to``."""
    return -(-n // pad_to) * pad_to


def make_batches(
    lengths: Sequence[int],
    *,
    batch_tokens: int,
    seed: int,
    pad_to: int = PAD_TO,
    prefixes: Sequence[tuple[Hashable, int]] | None = None,
) -> list[Batch]:
    """Group records of similar length so that each step computes at most
    ``batch_tokens`` positions.

    ``prefixes`` gives each record a group (records whose first tokens are the
    same, such as one system prompt) and how many of those tokens it shares; a
    batch holds one group only and computes the shared tokens once, so it fits
    more rows.  Without it every record is its own group of no shared tokens.

    Records are sorted by group and length (equal lengths in a seeded random
    order, so each epoch's seed groups them differently), cut greedily into
    batches, and the batches are shuffled with the same seed: a step sees one
    length bucket, the epoch sees them in random order.  A record longer than
    the budget gets a batch of its own.
    """
    rng = random.Random(seed)
    keys = [rng.random() for _ in lengths]
    groups: list[Hashable] = [0] * len(lengths) if prefixes is None else [g for g, _ in prefixes]
    shared = [0] * len(lengths) if prefixes is None else [n for _, n in prefixes]
    rank = {g: n for n, g in enumerate(dict.fromkeys(groups))}
    order = sorted(range(len(lengths)), key=lambda i: (rank[groups[i]], lengths[i], keys[i]))
    batches: list[Batch] = []
    current: list[int] = []
    longest = 0

    def close() -> None:
        # one group shares one prefix (its key is those tokens); alone, nothing is shared
        prefix = shared[current[0]] if len(current) > 1 else 0
        batches.append(Batch(tuple(current), longest, prefix))

    for i in order:
        # sorted ascending within a group, so the newcomer is the longest row
        length = padded_length(lengths[i], pad_to)
        if current:
            same = groups[i] == groups[current[0]]
            grown = Batch((*current, i), length, shared[i]).positions
            if not same or grown > batch_tokens:
                close()
                current = []
        current.append(i)
        longest = length
    if current:
        close()
    rng.shuffle(batches)
    return batches


def epoch_batches(
    lengths: Sequence[int],
    *,
    batch_tokens: int,
    seed: int,
    epochs: int,
    prefixes: Sequence[tuple[Hashable, int]] | None = None,
) -> Iterator[Batch]:
    """All steps of a run: each epoch bucketed and shuffled with its own seed."""
    for epoch in range(epochs):
        yield from make_batches(
            lengths, batch_tokens=batch_tokens, seed=seed * 1000 + epoch, prefixes=prefixes
        )


def prefix_groups(records: Sequence[Record], *, min_shared: int = 32) -> list[tuple[Hashable, int]]:
    """Each record's group (its shared tokens themselves) and how many tokens it
    shares; records sharing fewer than ``min_shared`` go alone."""
    out: list[tuple[Hashable, int]] = []
    for n, rec in enumerate(records):
        k = rec.shared_prefix()
        out.append((rec.tokens[:k], k) if k >= min_shared else (("alone", n), 0))
    return out
