"""A small, safe parser for derived-indicator formulas: numbers, indicator ids, + - * / and ()."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from indicators.models import Indicator
from onereturn.errors import InvalidInput

#: The operators of a formula other than division (which needs its zero guarded), for numbers and columns alike.
ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {"+": operator.add, "-": operator.sub, "*": operator.mul}

_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<name>[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)|(?P<op>[-+*/()]))")


@dataclass(frozen=True)
class Num:
    """A literal number."""

    value: float


@dataclass(frozen=True)
class Ref:
    """A reference to another indicator's figure."""

    indicator: str


@dataclass(frozen=True)
class BinOp:
    """A binary operation."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg:
    """A unary minus."""

    operand: Node


Node = Num | Ref | BinOp | Neg


def _tokenise(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        match = _TOKEN.match(stripped, pos)
        if match is None or match.end() == pos:
            raise InvalidInput(f"Formula {text!r}: unexpected {stripped[pos:].strip()[:20]!r} at character {pos + 1}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenise(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise InvalidInput(f"Formula {self.text!r} ends too early")
        self.pos += 1
        return token

    def expression(self) -> Node:
        node = self.term()
        while (token := self.peek()) is not None and token[1] in "+-" and token[0] == "op":
            self.take()
            node = BinOp(token[1], node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while (token := self.peek()) is not None and token[1] in "*/" and token[0] == "op":
            self.take()
            node = BinOp(token[1], node, self.factor())
        return node

    def factor(self) -> Node:
        kind, value = self.take()
        if kind == "number":
            return Num(float(value))
        if kind == "name":
            return Ref(value)
        if value == "-":
            return Neg(self.factor())
        if value == "(":
            node = self.expression()
            if self.take() != ("op", ")"):
                raise InvalidInput(f"Formula {self.text!r}: a '(' is not closed")
            return node
        raise InvalidInput(f"Formula {self.text!r}: unexpected {value!r}")


@lru_cache(maxsize=4096)
def parse_formula(text: str) -> Node:
    """Parse a formula into a tree, or raise InvalidInput saying what is wrong."""
    # Cached: a build asks for the same few hundred formulas once per field and org; the tree is frozen.
    parser = _Parser(text)
    if not parser.tokens:
        raise InvalidInput("Formula is empty")
    node = parser.expression()
    extra = parser.peek()
    if extra is not None:
        raise InvalidInput(f"Formula {text!r}: unexpected {extra[1]!r} after a complete expression")
    return node


def references(node: Node) -> list[str]:
    """List the indicator ids a formula uses, in order of first use."""
    found: list[str] = []

    def walk(n: Node) -> None:
        if isinstance(n, Ref):
            if n.indicator not in found:
                found.append(n.indicator)
        elif isinstance(n, BinOp):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Neg):
            walk(n.operand)

    walk(node)
    return found


def collected_inputs(indicators: dict[str, Indicator], indicator_id: str) -> set[str]:
    """Return the collected indicators an indicator is made from (itself when collected)."""
    ind = indicators[indicator_id]
    if not ind.formula:
        return {indicator_id}
    return {c for term in references(parse_formula(ind.formula)) for c in collected_inputs(indicators, term)}


def evaluate(node: Node, values: Mapping[str, float | None]) -> float | None:
    """Compute a formula from figures; None when a term is missing or a division is by zero."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Ref):
        return values.get(node.indicator)
    if isinstance(node, Neg):
        inner = evaluate(node.operand, values)
        return None if inner is None else -inner
    left, right = evaluate(node.left, values), evaluate(node.right, values)
    if left is None or right is None:
        return None
    if node.op in ARITHMETIC:
        return float(ARITHMETIC[node.op](left, right))
    return None if right == 0 else left / right
