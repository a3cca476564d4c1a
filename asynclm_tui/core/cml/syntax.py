"""CML (Context Markup Language): markers, an incremental parser and formatting.

The model writes ``[CALL] id [HEAD] fn(args) [END]`` (a call whose result it
wants), ``[CALL] fn(args) [END]`` (fire and forget) and ``[TRAP][END]`` (pause
until the next interrupt).  The system writes ``[INTR] id [HEAD] value [END]``.

:class:`CMLParser` is fed decoded text one piece at a time.  Markers may be
split across pieces, fused with neighbouring characters or followed by
newlines.  The parser never raises on model output: malformed blocks become
:class:`BlockError` events that the engine turns into error interrupts.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

CALL = "[CALL]"
TRAP = "[TRAP]"
INTR = "[INTR]"
HEAD = "[HEAD]"
END = "[END]"
MARKERS = (CALL, TRAP, INTR, HEAD, END)
OPENERS = (CALL, TRAP, INTR)

USER_ID = "user"
"""Reserved interrupt id for messages typed by the user."""
ERROR_ID = "error"
"""Reserved interrupt id for errors about blocks that carried no id."""
RESERVED_IDS = frozenset({USER_ID, ERROR_ID})

MAX_BLOCK_CHARS = 4000
"""A block longer than this is abandoned so the critical section cannot stall
interrupts forever."""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


class CallSyntaxError(ValueError):
    """A call body that is not ``name(literal args)``."""


@dataclass(frozen=True)
class ParsedCall:
    """A call body parsed with :mod:`ast` (never evaluated)."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        """Render the call back to Python call syntax."""
        parts = [repr(a) for a in self.args]
        parts += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"


def _dotted_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted_name(node.value)}.{node.attr}"
    raise CallSyntaxError("the function must be a plain or dotted name")


def parse_call_body(body: str) -> ParsedCall:
    """Parse ``fn(a, b=1)`` into a :class:`ParsedCall`.

    Arguments must be literals (strings, numbers, booleans, None, and lists,
    tuples, dicts or sets of them).  Nothing is evaluated.

    Raises:
        CallSyntaxError: the body is not a call with literal arguments.
    """
    text = body.strip()
    if not text:
        raise CallSyntaxError("empty call body")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise CallSyntaxError(f"not Python call syntax: {exc.msg}") from None
    node = tree.body
    if not isinstance(node, ast.Call):
        raise CallSyntaxError("expected a function call like name(arg=value)")
    name = _dotted_name(node.func)
    args: list[Any] = []
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise CallSyntaxError("*args is not allowed")
        args.append(_literal(arg))
    kwargs: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise CallSyntaxError("**kwargs is not allowed")
        if kw.arg in kwargs:
            raise CallSyntaxError(f"argument {kw.arg!r} given twice")
        kwargs[kw.arg] = _literal(kw.value)
    return ParsedCall(name=name, args=tuple(args), kwargs=kwargs)


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise CallSyntaxError(f"argument {ast.unparse(node)!r} is not a literal value") from None


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class CallBlock:
    """A complete ``[CALL] ... [END]`` block."""

    call_id: str | None
    call: ParsedCall
    raw: str


@dataclass(frozen=True)
class TrapBlock:
    """A complete ``[TRAP][END]`` block."""

    raw: str


@dataclass(frozen=True)
class BlockError:
    """A malformed, duplicate or forbidden block; never raised, only reported."""

    call_id: str | None
    message: str
    raw: str


ParseEvent = CallBlock | TrapBlock | BlockError


# ---------------------------------------------------------------- parser


def _marker_prefix_len(text: str) -> int:
    """Length of the longest suffix of ``text`` that could start a marker."""
    start = text.rfind("[")
    while start != -1:
        tail = text[start:]
        if len(tail) < 6 and any(m.startswith(tail) for m in MARKERS):
            return len(tail)
        start = text.rfind("[", 0, start)
    return 0


class CMLParser:
    """Incremental CML parser fed with decoded text pieces.

    After each :meth:`feed` the caller may read :attr:`in_block`: True while a
    block is open or a marker may be forming, i.e. the critical section in which
    no interrupt may be injected.
    """

    def __init__(self, *, known_ids: set[str] | None = None) -> None:
        self._pending = ""  # text that may be the start of a marker
        self._block: str | None = None  # opener of the open block
        self._body = ""
        self._raw = ""
        self.known_ids: set[str] = known_ids if known_ids is not None else set()
        """Ids used so far in the session (shared with the engine)."""
        self.block_serial = 0
        """Incremented each time a block opens."""
        self._space_before = True  # the visible text so far ends in whitespace
        self._after_block = False  # a block just ended; no text since

    @property
    def in_block(self) -> bool:
        """True inside a block or while a marker may be forming."""
        return self._block is not None or bool(self._pending)

    @property
    def block_kind(self) -> str | None:
        """The opener of the open block, if any."""
        return self._block

    @property
    def block_tail(self) -> str:
        """Everything written since the open block's marker, held-back
        partial markers included."""
        return self._body + self._pending

    def _open(self, opener: str) -> None:
        self._after_block = True
        self._block, self._body, self._raw = opener, "", opener
        self.block_serial += 1

    def feed(self, piece: str) -> tuple[str, list[ParseEvent]]:
        """Feed one decoded piece.

        Returns:
            The plain text (outside blocks) that this piece made final, and the
            events completed by it.
        """
        visible: list[str] = []
        events: list[ParseEvent] = []
        text = self._pending + piece
        self._pending = ""
        while text:
            if self._block is None:
                text = self._scan_text(text, visible)
            else:
                text = self._scan_block(text, events)
        return "".join(visible), events

    def flush(self) -> tuple[str, list[ParseEvent]]:
        """End of stream: release pending text and close an open block."""
        events: list[ParseEvent] = []
        visible = ""
        if self._block is not None:
            events.append(self._abandon("block was not closed with [END]"))
        elif self._pending:
            visible, self._pending = self._pending, ""
        return visible, events

    def _scan_text(self, text: str, visible: list[str]) -> str:
        if self._after_block:
            # "wait [TRAP][END] then": the removed block leaves one space, not two.
            if self._space_before:
                text = text.lstrip(" ")
            if not text:
                return ""
            self._after_block = False
        idx = text.find("[")
        while idx != -1:
            for opener in OPENERS:
                if text.startswith(opener, idx):
                    self._show(text[:idx], visible)
                    self._open(opener)
                    return text[idx + len(opener) :]
            tail = text[idx:]
            if len(tail) < 6 and any(m.startswith(tail) for m in OPENERS):
                self._show(text[:idx], visible)
                self._pending = tail
                return ""
            idx = text.find("[", idx + 1)
        self._show(text, visible)
        return ""

    def _show(self, text: str, visible: list[str]) -> None:
        if text:
            visible.append(text)
            self._space_before = text[-1].isspace()

    def _scan_block(self, text: str, events: list[ParseEvent]) -> str:
        hits = [(text.find(m), m) for m in (END, *OPENERS) if m in text]
        if not hits:
            keep = _marker_prefix_len(text)
            chunk = text[: len(text) - keep]
            self._pending = text[len(text) - keep :]
            self._body += chunk
            self._raw += chunk
            if len(self._body) > MAX_BLOCK_CHARS:
                self._pending = ""
                events.append(self._abandon("block is too long"))
            return ""
        pos, marker = min(hits)
        self._body += text[:pos]
        self._raw += text[: pos + len(marker)] if marker == END else text[:pos]
        rest = text[pos + len(marker) :]
        if marker == END:
            events.append(self._close())
            return rest
        # A new opener inside an open block: report the old one, open the new.
        events.append(self._abandon(f"{marker} inside an open block"))
        self._open(marker)
        return rest

    def _abandon(self, message: str) -> BlockError:
        call_id = None
        if self._block == CALL and HEAD in self._body:
            maybe = self._body.split(HEAD, 1)[0].strip()
            if _IDENT.match(maybe) and maybe not in self.known_ids:
                call_id = maybe
                self.known_ids.add(maybe)
        err = BlockError(call_id=call_id, message=message, raw=self._raw)
        self._block, self._body, self._raw = None, "", ""
        return err

    def _close(self) -> ParseEvent:
        kind, body, raw = self._block, self._body, self._raw
        self._block, self._body, self._raw = None, "", ""
        if kind == TRAP:
            if body.strip():
                return BlockError(None, "a trap must be exactly [TRAP][END]", raw)
            return TrapBlock(raw=raw)
        if kind == INTR:
            return BlockError(None, "only the system may write [INTR] blocks", raw)
        return self._close_call(body, raw)

    def _close_call(self, body: str, raw: str) -> ParseEvent:
        call_id: str | None = None
        if HEAD in body:
            head, body = body.split(HEAD, 1)
            call_id = head.strip()
            if HEAD in body:
                return BlockError(None, "a call may have only one [HEAD]", raw)
            if not _IDENT.match(call_id):
                return BlockError(None, f"call id {call_id!r} is not a valid identifier", raw)
            if call_id in RESERVED_IDS:
                return BlockError(None, f"call id {call_id!r} is reserved", raw)
            if call_id in self.known_ids:
                return BlockError(
                    call_id,
                    f"id {call_id!r} was already used in this session; the call was not run",
                    raw,
                )
            self.known_ids.add(call_id)
        try:
            call = parse_call_body(body)
        except CallSyntaxError as exc:
            return BlockError(call_id, f"malformed call: {exc}", raw)
        return CallBlock(call_id=call_id, call=call, raw=raw)


# ---------------------------------------------------------------- formatting


def escape_value(value: str) -> str:
    """Break CML markers inside an interrupt value so it cannot close early."""
    for marker in MARKERS:
        if marker in value:
            value = value.replace(marker, "[\\" + marker[1:])
    return value


def format_interrupt(call_id: str, value: str) -> str:
    """Render the system-written interrupt block for ``value``.

    One leading space and no newlines: every token of the frame costs a
    prefill step, and newlines would add two per interrupt.
    """
    return f" {INTR} {call_id} {HEAD} {escape_value(value)} {END}"


def is_dotted_name(text: str) -> bool:
    """True when ``text`` is a valid (possibly dotted) function name."""
    return bool(_DOTTED.match(text))
