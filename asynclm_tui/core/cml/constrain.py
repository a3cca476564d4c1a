"""Character-level grammar for what a model may write inside a CML block.

When ``constrain_calls`` is on, the engine only lets the model pick tokens that
keep the text after ``[CALL]`` a viable prefix of the canonical call form::

    " " (ID " [HEAD] ")? TOOL_NAME "(" ARGS? ") [END]"
    ARGS  = ARG (", " ARG)*
    ARG   = LITERAL | PARAM "=" LITERAL      (positional ones first)

with TOOL_NAME a registered tool, PARAM one of its parameters (each at most
once, required ones before ``)``; a positional literal binds the parameters in
order) and LITERAL a Python literal whose first character fits the
parameter's JSON-Schema type.  After ``[TRAP]`` only ``[END]`` is allowed.

Whitespace outside literals is fixed (one space where the form shows one,
none elsewhere), as the system prompt and the training data write calls: so
wherever only one continuation is possible the grammar knows it, and
:meth:`BlockGrammar.forced` gives it (jump-forward decoding).  Inside list,
tuple and dict literals a little whitespace stays free.  The recognizer is a
small pushdown automaton whose state is cheap to copy, so candidate tokens
can be tested one at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asynclm_tui.core.cml.syntax import END, HEAD, RESERVED_IDS

_WS = " \t\n"
_ID_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_ID_CHARS = _ID_START | set("0123456789")
_DIGITS = set("0123456789")
_KEYWORDS = ("True", "False", "None")
_TYPE_STARTS: dict[str, frozenset[str]] = {
    "string": frozenset("'\""),
    "integer": frozenset("-0123456789"),
    "number": frozenset("-0123456789."),
    "boolean": frozenset("TF"),
    "array": frozenset("[("),
    "object": frozenset("{"),
    "null": frozenset("N"),
}
_ANY_START = frozenset("'\"-0123456789.TFN[({")
_CLOSERS = {"[": "]", "(": ")", "{": "}"}
MAX_WHITESPACE = 2
"""Consecutive whitespace characters allowed inside container literals."""
MAX_STRING_CHARS = 1000
"""Longest string literal a constrained call may write."""
MAX_ID_CHARS = 48
"""Longest call id (a tool name may be longer): a small model sampling hot
can otherwise extend an id forever."""
MAX_FORCED_CHARS = 256
"""Longest forced continuation computed at once."""
_PRINTABLE = "".join(chr(c) for c in range(32, 127)) + "\n\t"
_ONE_SPACE = {
    "pre": "pre1",
    "post_head": "post_head1",
    "comma": "args_next",
    "post_call": "post_call1",
}
"""Modes that take exactly one space, and the mode after it."""


@dataclass(frozen=True)
class ToolShape:
    """What the grammar needs to know about one tool."""

    params: Mapping[str, str | None]
    """Parameter name to JSON-Schema type (None when untyped or a union), in
    the order positional arguments bind them."""
    required: frozenset[str] = frozenset()


def tool_shape(schema: Mapping[str, Any]) -> ToolShape:
    """Build a :class:`ToolShape` from a tool's JSON-Schema ``parameters``."""
    props = schema.get("properties") or {}
    params: dict[str, str | None] = {}
    for name, prop in props.items():
        typ = prop.get("type") if isinstance(prop, Mapping) else None
        params[name] = typ if isinstance(typ, str) and typ in _TYPE_STARTS else None
    return ToolShape(params=params, required=frozenset(schema.get("required") or ()))


@dataclass
class _State:
    mode: str = "pre"  # see BlockGrammar._step_fsm
    word: str = ""  # identifier / marker / keyword being read
    name: str = ""  # tool name once known
    used: tuple[str, ...] = ()  # parameters given so far
    param: str = ""  # current parameter
    stack: list[str] = field(default_factory=list)  # open containers
    quote: str = ""
    escape: bool = False
    num: str = ""  # number sub-state
    ws: int = 0  # consecutive whitespace inside containers
    chars: int = 0  # length of the current string literal
    keyword_args: bool = False  # a PARAM= argument was written (no positional after)

    def copy(self) -> _State:
        return _State(
            self.mode,
            self.word,
            self.name,
            self.used,
            self.param,
            list(self.stack),
            self.quote,
            self.escape,
            self.num,
            self.ws,
            self.chars,
            self.keyword_args,
        )


class BlockGrammar:
    """Recognizer for the text of one open block (after its opener)."""

    def __init__(self, tools: Mapping[str, ToolShape], kind: str = "[CALL]") -> None:
        self.tools = tools
        self._names = tuple(tools)
        self.state = _State(mode="trap" if kind == "[TRAP]" else "pre")

    # ------------------------------------------------------------- public

    def feed(self, text: str) -> bool:
        """Advance over ``text``; False (state unchanged) when not viable."""
        trial = self.state.copy()
        for ch in text:
            if trial.mode == "done":
                break
            if not self._step(trial, ch):
                return False
        self.state = trial
        return True

    def clone(self) -> BlockGrammar:
        """An independent copy at the same point."""
        twin = BlockGrammar(self.tools)
        twin.state = self.state.copy()
        return twin

    def accepts(self, text: str) -> bool:
        """True when ``text`` would keep the block viable (state unchanged)."""
        trial = self.state.copy()
        for ch in text:
            if trial.mode == "done":
                return True
            if not self._step(trial, ch):
                return False
        return True

    @property
    def done(self) -> bool:
        """True once the closing ``[END]`` has been read."""
        return self.state.mode == "done"

    def forced(self, limit: int = MAX_FORCED_CHARS) -> str:
        """The text every viable continuation starts with, up to where a
        choice exists again or the block closes ('' at a choice); the state
        is unchanged."""
        state = self.state.copy()
        out: list[str] = []
        while len(out) < limit and state.mode != "done":
            candidates = self._candidates(state)
            if candidates is None:
                break
            viable: list[tuple[str, _State]] = []
            for ch in set(candidates):
                trial = state.copy()
                if self._step(trial, ch):
                    viable.append((ch, trial))
            if len(viable) != 1:
                break
            ch, state = viable[0]
            out.append(ch)
        return "".join(out)

    def viable_after(self, text: str) -> str | None:
        """The printable characters viable right after ``text`` ('' when
        ``text`` itself is not viable; None once it closes the block, when
        anything may follow)."""
        trial = self.state.copy()
        for ch in text:
            if trial.mode == "done":
                return None
            if not self._step(trial, ch):
                return ""
        if trial.mode == "done":
            return None
        return "".join(ch for ch in _PRINTABLE if self._step(trial.copy(), ch))

    # ------------------------------------------------------------- forcing

    def _candidates(self, s: _State) -> str | None:  # noqa: C901 - one case per mode
        """A superset of the characters viable in ``s``; None when it is open
        (an identifier, a literal's content, a container's whitespace)."""
        mode = s.mode
        if mode in _ONE_SPACE:
            return " "
        if mode in ("id_ws", "post_call1", "trap"):
            return "["
        if mode == "head":
            return HEAD[len(s.word)]
        if mode == "end":
            return END[len(s.word)]
        if mode == "keyword":
            return self._next_of(_KEYWORDS, s.word, "")
        if mode == "name" or (mode == "ident" and "." in s.word):  # a dot: not an id
            return self._next_of(self._names, s.word, "(.")
        if mode == "ident" and len(s.word) >= MAX_ID_CHARS:  # the id must end here
            return self._next_of(self._names, s.word, " (.")
        if mode == "post_head1":
            return self._next_of(self._names, "", "")
        if mode == "param":
            return self._next_of(self._free_params(s), s.word, "=")
        if mode in ("args", "args_next"):
            if self._positional(s) is not None:
                return None
            return self._next_of(self._free_params(s), "", ")")
        if mode == "value":
            return "".join(self._param_starts(s))
        if mode == "after_value" and not s.stack:
            return ",)"
        return None

    @staticmethod
    def _next_of(words: Sequence[str], prefix: str, extra: str) -> str:
        """Characters that extend ``prefix`` towards one of ``words``, plus ``extra``."""
        n = len(prefix)
        return "".join({w[n] for w in words if len(w) > n and w.startswith(prefix)}) + extra

    # ------------------------------------------------------------- automaton

    def _step(self, s: _State, ch: str) -> bool:
        # Bounded whitespace and string length: without them a small model can
        # loop on spaces or an endless string and never close the call.
        if s.mode == "string":
            s.chars += 1
            if s.chars > MAX_STRING_CHARS:
                return False
        elif ch in _WS:
            s.ws += 1
            if s.ws > MAX_WHITESPACE:
                return False
        else:
            s.ws = 0
        return self._step_fsm(s, ch)

    def _step_fsm(self, s: _State, ch: str) -> bool:  # noqa: C901 - one FSM
        mode = s.mode
        if mode in _ONE_SPACE:
            if ch != " ":
                return False
            s.mode = _ONE_SPACE[mode]
            return True
        if mode in ("pre1", "post_head1"):
            if ch not in _ID_START:
                return False
            s.mode, s.word = ("ident" if mode == "pre1" else "name"), ch
            return self._name_ok(s) if mode == "post_head1" else True
        if mode in ("id_ws", "post_call1", "trap"):
            if ch != "[":
                return False
            s.mode, s.word = ("head" if mode == "id_ws" else "end"), "["
            return True
        if mode == "end":
            s.word += ch
            if not END.startswith(s.word):
                return False
            if s.word == END:
                s.mode = "done"
            return True
        if mode == "head":
            s.word += ch
            if not HEAD.startswith(s.word):
                return False
            if s.word == HEAD:
                s.mode, s.word = "post_head", ""
            return True
        if mode in ("ident", "name"):
            return self._step_ident(s, ch)
        if mode in ("args", "args_next"):
            return self._step_args(s, ch)
        if mode == "param":
            return self._step_param(s, ch)
        if mode == "value":
            return self._start_value(s, ch, self._param_starts(s))
        if mode in ("container_start", "value_in"):
            return self._step_container(s, ch)
        if mode == "after_value":
            return self._step_after_value(s, ch)
        if mode == "string":
            return self._step_string(s, ch)
        if mode == "number":
            return self._step_number(s, ch)
        if mode == "keyword":
            s.word += ch
            if not any(k.startswith(s.word) for k in _KEYWORDS):
                return False
            if s.word in _KEYWORDS:
                s.mode = "after_value"
            return True
        return False

    def _name_ok(self, s: _State) -> bool:
        return any(n.startswith(s.word) for n in self._names)

    def _step_ident(self, s: _State, ch: str) -> bool:
        if ch in _ID_CHARS or (ch == "." and s.word[-1:] != "."):
            s.word += ch
            if s.mode == "name" or "." in s.word or len(s.word) > MAX_ID_CHARS:
                return self._name_ok(s)
            return True
        if ch == "(":
            if s.word not in self.tools:
                return False
            s.name, s.mode, s.word = s.word, "args", ""
            return True
        if s.mode == "ident" and ch == " " and "." not in s.word and s.word not in RESERVED_IDS:
            s.mode = "id_ws"
            return True
        return False

    # arguments ------------------------------------------------------------

    def _free_params(self, s: _State) -> list[str]:
        return [p for p in self.tools[s.name].params if p not in s.used]

    def _can_close_call(self, s: _State) -> bool:
        return self.tools[s.name].required <= set(s.used)

    def _positional(self, s: _State) -> str | None:
        """The parameter a positional literal would bind here, if one may."""
        params = list(self.tools[s.name].params)
        if s.keyword_args or len(s.used) >= len(params):
            return None
        return params[len(s.used)]

    def _step_args(self, s: _State, ch: str) -> bool:
        if ch == ")":
            if s.mode != "args" or not self._can_close_call(s):
                return False
            s.mode = "post_call"
            return True
        free = self._free_params(s)
        if ch in _ID_START and any(p.startswith(ch) for p in free):
            s.word = ch
            s.mode = "param"
            return True
        param = self._positional(s)
        if param is None:
            return False
        s.param, s.used = param, (*s.used, param)
        return self._start_value(s, ch, self._param_starts(s))

    def _step_param(self, s: _State, ch: str) -> bool:
        if ch in _ID_CHARS:
            s.word += ch
            return any(p.startswith(s.word) for p in self._free_params(s))
        if ch == "=":
            if s.word not in self._free_params(s):
                return False
            s.param, s.used, s.word = s.word, (*s.used, s.word), ""
            s.mode, s.keyword_args = "value", True
            return True
        return False

    def _param_starts(self, s: _State) -> frozenset[str]:
        if s.stack:
            return _ANY_START
        typ = self.tools[s.name].params.get(s.param)
        return _TYPE_STARTS.get(typ, _ANY_START) if typ else _ANY_START

    def _start_value(self, s: _State, ch: str, allowed: frozenset[str]) -> bool:
        if ch in _WS and s.stack:
            return True
        if ch not in allowed:
            return False
        if ch in "'\"":
            s.mode, s.quote, s.escape, s.chars = "string", ch, False, 0
        elif ch in "-0123456789.":
            s.mode, s.num = "number", ("sign" if ch == "-" else "")
            if ch != "-":
                return self._step_number(s, ch)
        elif ch in "TFN":
            s.mode, s.word = "keyword", ch
        else:
            s.stack.append(ch)
            s.mode = "container_start"
        return True

    def _step_container(self, s: _State, ch: str) -> bool:
        """A value start inside a container, or the container's immediate close."""
        if ch in _WS:
            return True
        if s.mode == "container_start" and ch == _CLOSERS[s.stack[-1][0]]:
            return self._close_container(s, ch)
        return self._start_value(s, ch, _ANY_START)

    def _close_container(self, s: _State, ch: str) -> bool:
        if not s.stack or _CLOSERS[s.stack[-1][0]] != ch:
            return False
        s.stack.pop()
        s.mode = "after_value"
        return True

    def _step_after_value(self, s: _State, ch: str) -> bool:
        if not s.stack:  # back at the call's argument list
            if ch == "," and self._free_params(s):
                s.mode = "comma"
                return True
            if ch == ")" and self._can_close_call(s):
                s.mode = "post_call"
                return True
            return False
        if ch in _WS:
            return True
        top = s.stack[-1]
        if top == "{" and ch == ":":  # key read, now the value
            s.stack[-1] = "{:"
            s.mode = "value_in"
            return True
        if ch == ",":
            if top == "{:":
                s.stack[-1] = "{"
            s.mode = "container_start"
            return True
        if top == "{" and ch == "}":
            return False  # a key with no value
        return self._close_container(s, ch)

    def _step_string(self, s: _State, ch: str) -> bool:
        if ch == "\n":
            return False
        if s.escape:
            s.escape = False
        elif ch == "\\":
            s.escape = True
        elif ch == s.quote:
            s.mode = "after_value"
        return True

    def _step_number(self, s: _State, ch: str) -> bool:
        n = s.num
        if ch in _DIGITS:
            s.num = {"": "int", "sign": "int", "int": "int", "dot": "frac"}.get(n, n)
            if n in ("exp_start", "exp_sign"):
                s.num = "exp"
            return True
        if ch == "." and n in ("", "sign", "int"):
            s.num = "dot" if n != "int" else "frac"
            return True
        if ch in "eE" and n in ("int", "frac"):
            s.num = "exp_start"
            return True
        if ch in "+-" and n == "exp_start":
            s.num = "exp_sign"
            return True
        if n in ("int", "frac", "exp"):
            s.mode = "after_value"
            return self._step_after_value(s, ch)
        return False

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"BlockGrammar({self.state!r})"
