"""Read catalogue TOML files keeping the line of every table and key, so problems point at lines."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_.\-]+)\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\"]+)\s*\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")
_SYNTAX_LINE = re.compile(r"at line (\d+)")


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in the catalogue, located at a file and line."""

    file: str
    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}: {self.message}"


@dataclass
class Block:
    """Where one table sits in its file, and the line of each of its keys."""

    line: int
    keys: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: str | None) -> int:
        """Return the line of ``key`` in this table, or the table's own line."""
        return self.keys.get(key, self.line) if key else self.line


@dataclass
class TomlFile:
    """A parsed TOML file with the lines of its tables."""

    path: Path
    label: str
    data: dict[str, Any]
    tables: dict[str, Block]
    arrays: dict[str, list[Block]]

    def array_block(self, name: str, index: int) -> Block:
        """Return the block of the ``index``-th ``[[name]]`` table."""
        blocks = self.arrays.get(name, [])
        return blocks[index] if index < len(blocks) else Block(1)

    def table_block(self, name: str) -> Block:
        """Return the block of ``[name]``, or one at line 1 when there is none."""
        return self.tables.get(name, Block(1))


def _index_lines(text: str) -> tuple[dict[str, Block], dict[str, list[Block]]]:
    tables: dict[str, Block] = {"": Block(1)}
    arrays: dict[str, list[Block]] = {}
    current = tables[""]
    in_multiline = False
    for number, raw in enumerate(text.splitlines(), start=1):
        # A line inside a multi-line string may look like a key; skip until the string closes.
        quotes = raw.count('"""') + raw.count("'''")
        if in_multiline:
            if quotes % 2 == 1:
                in_multiline = False
            continue
        if match := _ARRAY_HEADER.match(raw):
            current = Block(number)
            arrays.setdefault(match.group(1), []).append(current)
        elif match := _TABLE_HEADER.match(raw):
            current = Block(number)
            tables[match.group(1).replace('"', "")] = current
        elif match := _KEY.match(raw):
            current.keys.setdefault(match.group(1), number)
        if quotes % 2 == 1:
            in_multiline = True
    return tables, arrays


def read_toml(path: Path, label: str) -> TomlFile | Problem:
    """Parse one file, or return the syntax problem with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Problem(label, 1, "unreadable-file", str(exc))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _SYNTAX_LINE.search(str(exc))
        return Problem(label, int(match.group(1)) if match else 1, "syntax-error", str(exc))
    tables, arrays = _index_lines(text)
    return TomlFile(path=path, label=label, data=data, tables=tables, arrays=arrays)


class _Placed(Protocol):
    @property
    def file(self) -> str: ...

    @property
    def line(self) -> int: ...


def defined_twice(known: Mapping[str, _Placed], ident: str, kind: str, label: str, line: int) -> Problem | None:
    """The duplicate-id problem at ``label``:``line`` when ``ident`` is already in ``known``, naming where it was
    first defined; None for an id not seen before."""
    first = known.get(ident)
    if first is None:
        return None
    return Problem(label, line, "duplicate-id", f"{kind} {ident!r} is also defined at {first.file}:{first.line}")
