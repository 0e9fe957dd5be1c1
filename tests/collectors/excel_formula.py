"""A tiny evaluator for the Excel data-validation formulas the template writes, so tests can ask Excel's verdict.

Errors propagate as in Excel: AND and OR evaluate every argument, so an error in any of them is the
result, and only IFERROR catches it. It knows exactly what the template uses: OR, AND, ISNUMBER, INT, LEFT, RIGHT, LEN, IFERROR, unary
minus, comparisons (=, <, <=, >, >=, <>), numbers, strings and the one cell reference. Semantics
follow Excel: text compared to text ignores case; a number typed in a cell is a number; LEFT of a
number works on its text; "--" of text that reads as a number is that number, of other text #VALUE!.
"""

from __future__ import annotations

import math
import re
from typing import Any

_TOKEN = re.compile(
    r'\s*(?:(?P<num>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(?P<str>"(?:[^"]|"")*")|(?P<op><=|>=|<>|[-+*/=<>(),])|(?P<name>[A-Za-z_][A-Za-z0-9_.]*))'
)


class ExcelError(Exception):
    """An Excel error value (#VALUE!)."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SyntaxError(f"cannot read {text[pos:]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    return str(v)


def _number(v: Any) -> float:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, float):
        return v
    try:
        return float(str(v).strip())
    except ValueError as exc:
        raise ExcelError("#VALUE!") from exc


def _compare(a: Any, op: str, b: Any) -> bool:
    x: Any
    y: Any
    if isinstance(a, str) and isinstance(b, str):
        x, y = a.lower(), b.lower()
    elif isinstance(a, str) or isinstance(b, str):
        # Excel: text is always greater than any number; never equal.
        x, y = (1, 0) if isinstance(a, str) else (0, 1)
    else:
        x, y = a, b
    return bool({"=": x == y, "<>": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op])


class _Parser:
    def __init__(self, text: str, cell: Any) -> None:
        self.toks = _tokens(text.lstrip("="))
        self.i = 0
        self.cell = cell

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expr(self) -> Any:
        left = self.additive()
        tok = self.peek()
        if tok and tok[1] in ("=", "<", "<=", ">", ">=", "<>"):
            self.take()
            right = self.additive()
            return _compare(left, tok[1], right)
        return left

    def additive(self) -> Any:
        value = self.unary()
        while (tok := self.peek()) and tok[1] in ("+", "-"):
            self.take()
            other = self.unary()
            value = _number(value) + _number(other) if tok[1] == "+" else _number(value) - _number(other)
        return value

    def unary(self) -> Any:
        tok = self.peek()
        if tok and tok[1] == "-":
            self.take()
            return -_number(self.unary())
        return self.atom()

    def atom(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            return float(text)
        if kind == "str":
            return text[1:-1].replace('""', '"')
        if text == "(":
            value = self.expr()
            self.take()
            return value
        if kind == "name" and (self.peek() or ("", ""))[1] == "(":
            return self.call(text.upper())
        if kind == "name" and re.fullmatch(r"[A-Z]+\d+", text):
            return self.cell
        if kind == "name" and text.upper() in ("TRUE", "FALSE"):
            return text.upper() == "TRUE"
        raise SyntaxError(f"unexpected {text!r}")

    def args(self) -> list[Any]:
        """Parse arguments lazily: each as a thunk, since IFERROR and AND must see errors."""
        self.take()  # (
        out: list[Any] = []
        while True:
            start = self.i
            depth = 0
            while True:
                _kind, text = self.toks[self.i]
                if text == "(":
                    depth += 1
                elif text == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif text == "," and depth == 0:
                    break
                self.i += 1
            out.append((start, self.i))
            sep = self.take()[1]
            if sep == ")":
                return out

    def value_of(self, span: tuple[int, int]) -> Any:
        sub = _Parser("", self.cell)
        sub.toks = self.toks[span[0] : span[1]]
        value = sub.expr()
        if sub.i != len(sub.toks):
            raise SyntaxError("trailing tokens")
        return value

    def call(self, name: str) -> Any:
        spans = self.args()
        if name == "IFERROR":
            try:
                return self.value_of(spans[0])
            except ExcelError:
                return self.value_of(spans[1])
        if name == "ISNUMBER":  # the IS functions see an error as a value: FALSE, not the error
            try:
                value = self.value_of(spans[0])
            except ExcelError:
                return False
            return isinstance(value, float)
        values = [self.value_of(s) for s in spans]
        if name == "OR":
            return any(bool(v) for v in values)
        if name == "AND":
            return all(bool(v) for v in values)
        if name == "INT":
            return float(math.floor(_number(values[0])))
        if name == "LEN":
            return float(len(_text(values[0])))
        if name in ("LEFT", "RIGHT"):
            n = int(_number(values[1]))
            if n < 0:
                raise ExcelError("#VALUE!")
            s = _text(values[0])
            return s[:n] if name == "LEFT" else (s[-n:] if n else "")
        raise SyntaxError(f"unknown function {name}")


def evaluate(formula: str, cell: Any) -> bool:
    """Say whether Excel's custom validation ``formula`` accepts ``cell`` (a float for a number, else text)."""
    try:
        return bool(_Parser(formula, cell).expr())
    except ExcelError:
        return False
