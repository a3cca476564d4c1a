"""Python implementations behind the shipped YAML tools."""

from __future__ import annotations

import ast
import asyncio
import math
import operator
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from asynclm_tui.core.settings import paths


async def sleep(ms: int) -> str:
    """Wait ``ms`` milliseconds (the demo slow tool)."""
    start = time.perf_counter()
    await asyncio.sleep(ms / 1000)
    return f"slept {round((time.perf_counter() - start) * 1000)} ms"


def clock(timezone: str = "UTC") -> str:
    """The current date and time in ``timezone`` (an IANA name)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}") from None
    return datetime.now(zone).strftime("%Y-%m-%d %H:%M:%S %Z (%A)")


_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCS: dict[str, Callable[..., Any]] = {
    name: getattr(math, name)
    for name in (
        "sqrt",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "log",
        "log10",
        "log2",
        "exp",
        "floor",
        "ceil",
        "factorial",
        "gcd",
        "hypot",
        "radians",
        "degrees",
    )
} | {"abs": abs, "round": round, "min": min, "max": max}
_CONSTS = {"pi": math.pi, "e": math.e, "tau": math.tau}
_MAX_POWER = 10_000


Number = Fraction | float
"""Exact while the arithmetic allows it (a decimal literal is the fraction it
spells, so ``0.17 * 2450`` is 416.5, not ``416.50000000000006``); a float once
an irrational step (sqrt, pi, a fractional power) makes exactness moot."""

_INT_ARGS = {"factorial", "gcd"}
_EXACT_FUNCS = {"abs", "round", "min", "max", "floor", "ceil"}
_MAX_EXACT_DIGITS = 40
"""An exact result longer than this is shown with 15 significant digits."""


def _eval(node: ast.AST) -> Number:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        literal = float(node.value)  # type: ignore[arg-type]  # int or float, checked
        return Fraction(repr(node.value)) if math.isfinite(literal) else literal
    if isinstance(node, ast.Name) and node.id in _CONSTS:
        return _CONSTS[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        if isinstance(left, float) or isinstance(right, float):
            return float(_BINOPS[type(node.op)](float(left), float(right)))
        return Fraction(_BINOPS[type(node.op)](left, right))  # // gives an int
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))  # type: ignore[no-any-return]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCS
        and not node.keywords
    ):
        name = node.func.id
        args = [_eval(a) for a in node.args]
        if name in _INT_ARGS:
            return Fraction(_FUNCS[name](*(_whole(a, name) for a in args)))
        if name in _EXACT_FUNCS and all(isinstance(a, Fraction) for a in args):
            return Fraction(_FUNCS[name](*args))
        return float(_FUNCS[name](*(float(a) for a in args)))
    raise ValueError(f"unsupported expression: {ast.unparse(node)}")


def _power(base: Number, exponent: Number) -> Number:
    if abs(float(exponent)) > _MAX_POWER:
        raise ValueError("exponent too large")
    if isinstance(base, Fraction) and isinstance(exponent, Fraction) and exponent.denominator == 1:
        return Fraction(base ** int(exponent))
    value: float | complex = float(base) ** float(exponent)
    if isinstance(value, complex):
        raise ValueError("the result is not a real number")
    return value


def _whole(value: Number, name: str) -> int:
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"{name} takes whole numbers")


def _show(value: Number) -> str:
    """A result as a person writes it: exact where it is exact and short,
    else 15 significant digits."""
    if isinstance(value, Fraction):
        exact = _decimal_digits(value)
        if exact is not None and len(exact.lstrip("-")) <= _MAX_EXACT_DIGITS:
            return exact
        with localcontext() as ctx:  # a float would overflow past 1e308
            ctx.prec = 15
            rounded = Decimal(value.numerator) / Decimal(value.denominator)
        if abs(rounded) < Decimal("1e15") and rounded == rounded.to_integral_value():
            return str(int(rounded))
        mantissa, _, exponent = f"{rounded:.15g}".lower().partition("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{exponent}" if exponent else mantissa
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}"


def _decimal_digits(value: Fraction) -> str | None:
    """``value`` written out in full, or None when its decimals never end."""
    den, places = value.denominator, 0
    while den % 10 == 0:
        den, places = den // 10, places + 1
    for factor in (2, 5):
        while den % factor == 0:
            den, places = den // factor, places + 1
    if den != 1:
        return None
    scaled = abs(value.numerator) * 10**places // value.denominator
    digits = str(scaled).rjust(places + 1, "0")
    whole, frac = digits[: len(digits) - places], digits[len(digits) - places :].rstrip("0")
    sign = "-" if value < 0 else ""
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def calc(expression: str) -> str:
    """Evaluate arithmetic safely: numbers, + - * / // % **, math functions;
    exact for decimal arithmetic (``0.1 + 0.2`` is 0.3)."""
    if len(expression) > 500:
        raise ValueError("expression too long")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from None
    try:
        value = _eval(tree)
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    except OverflowError:
        raise ValueError("the result is too large") from None
    return _show(value)


def notes_file() -> Path:
    """Where ``save_note`` writes unless told otherwise."""
    return paths.user_data_dir() / "notes.md"


def save_note(text: str, path: str | None = None) -> str:
    """Append ``text`` as a timestamped line to a notes file (by default
    ``notes.md`` in the user's data directory, beside the saved chats)."""
    target = Path(path).expanduser() if path else notes_file()
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M")
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as fh:
        fh.write(f"- {stamp} {text}\n")
    return f"saved to {target}"
