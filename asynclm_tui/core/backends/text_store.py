"""The token sequence a remote server should hold, with its exact text.

A text-prompt server needs the exact text of every token the engine
appended.  Tokens come from three places: chunks the server streamed (their
text is known, they get local ids from :data:`PSEUDO_BASE`), tokenizations
done through the server (their text is remembered per tokenization, so a
prompt's special tokens keep their text, which a detokenize would drop), and
anything else (looked up one id at a time through the server, then cached).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

PSEUDO_BASE = 1 << 24
"""Local ids of streamed chunks start here (far above any vocabulary)."""
_REMEMBERED = 512
"""Tokenizations kept for text lookups (a turn makes a few dozen)."""


class TextStore:
    """Ids in order, the bytes they stand for, and the tokenizations seen."""

    def __init__(self, detokenize: Callable[[int], bytes]) -> None:
        self._detokenize = detokenize
        self.ids: list[int] = []
        self._segments: list[tuple[int, bytes | None]] = []
        """(end index, bytes of ids[previous end:end]); None: not known yet."""
        self._pieces: dict[int, bytes] = {}
        self._chunks: dict[str, int] = {}
        self._by_text: dict[str, list[int]] = {}
        self._texts: dict[tuple[int, ...], bytes] = {}
        self._by_first: dict[int, set[tuple[int, ...]]] = {}
        self.max_real_id = -1

    def __len__(self) -> int:
        return len(self.ids)

    # ------------------------------------------------------------ vocabulary

    def remember(self, text: str, ids: Sequence[int]) -> None:
        """Record that ``text`` tokenizes to ``ids``."""
        key = tuple(ids)
        self._by_text[text] = list(ids)
        self._texts[key] = text.encode("utf-8")
        if key:
            self._by_first.setdefault(key[0], set()).add(key)
            self.max_real_id = max(self.max_real_id, *key)
        if len(key) == 1:
            self._pieces[key[0]] = self._texts[key]
        if len(self._by_text) > _REMEMBERED:
            old_text = next(iter(self._by_text))
            old = tuple(self._by_text.pop(old_text))
            self._texts.pop(old, None)
            if old:
                self._by_first.get(old[0], set()).discard(old)

    def known_ids(self, text: str) -> list[int] | None:
        """The remembered tokenization of ``text``, if any."""
        ids = self._by_text.get(text)
        return list(ids) if ids is not None else None

    def pseudo(self, text: str) -> int:
        """The local id of a streamed chunk."""
        token = self._chunks.get(text)
        if token is None:
            token = self._chunks[text] = PSEUDO_BASE + len(self._chunks)
            self._pieces[token] = text.encode("utf-8")
        return token

    def piece(self, token: int) -> bytes:
        """The bytes of one token."""
        found = self._pieces.get(token)
        if found is None:
            found = self._pieces[token] = self._detokenize(token)
        return found

    # ------------------------------------------------------------ sequence

    def extend(self, tokens: Sequence[int]) -> None:
        """Append ``tokens``, working out the text they stand for."""
        if not tokens:
            return
        whole = self._texts.get((*self.ids, *tokens))
        self.ids.extend(tokens)
        if whole is not None:  # a prompt's suffix: its own tokenization says all
            self._segments = [(len(self.ids), whole)]
            return
        start = len(self.ids) - len(tokens)
        i = 0
        while i < len(tokens):
            span = self._longest_known(tokens, i)
            if span:
                text = self._texts[span]
                i += len(span)
            else:
                text = self.piece(tokens[i])
                i += 1
            self._segments.append((start + i, text))

    def _longest_known(self, tokens: Sequence[int], i: int) -> tuple[int, ...]:
        if tokens[i] >= PSEUDO_BASE:
            return ()
        best: tuple[int, ...] = ()
        for cand in self._by_first.get(tokens[i], ()):
            if len(cand) > len(best) and tuple(tokens[i : i + len(cand)]) == cand:
                best = cand
        return best

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` tokens."""
        if n >= len(self.ids):
            return
        del self.ids[n:]
        kept: list[tuple[int, bytes | None]] = []
        begin = 0
        for end, text in self._segments:
            if begin >= n:
                break
            kept.append((end, text) if end <= n else (n, None))
            begin = end
        self._segments = kept

    def text(self) -> str:
        """The exact text of the whole sequence."""
        parts: list[bytes] = []
        begin = 0
        for end, text in self._segments:
            if text is None:  # cut inside a tokenization: piece by piece
                text = b"".join(self.piece(t) for t in self.ids[begin:end])
            parts.append(text)
            begin = end
        return b"".join(parts).decode("utf-8", errors="replace")
