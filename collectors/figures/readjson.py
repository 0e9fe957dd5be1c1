"""Read a JSON upload into text cells, streamed in batches: each item numbered by its position in the list."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Generator, Iterator
from typing import Any, NoReturn

import polars as pl

from collectors.figures.rawtable import ROW, UTF8_BOM, drop_empty_rows, format_float, normalise_header, tidy
from onereturn.errors import InvalidInput


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _json_int(text: str) -> int | float:
    # JSON reads -0 as the integer 0; keep its sign so validation can refuse it.
    return -0.0 if text.startswith("-") and not text.strip("-0") else int(text)


#: How deeply a JSON upload may nest brackets; a file of figures needs three ({"figures": [{...}]}).
MAX_JSON_DEPTH = 32
#: JSON items turned into a frame at a time, so an upload never exists as a million Python dicts at once.
JSON_BATCH = 50_000
_BRACKET_STEP = [0] * 256


for _open, _close in (b"[]", b"{}"):
    _BRACKET_STEP[_open], _BRACKET_STEP[_close] = 1, -1


#: Every byte but the brackets (and, for the exact count, the quote), for bytes.translate to delete.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_SURROGATE = re.compile("[\\ud800-\\udfff]")
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def json_depth(data: bytes) -> int:
    """How deeply a JSON text nests brackets (up to one past the limit), found without parsing it, in little memory.

    Counting every bracket is one pass in C; only when that passes the limit are brackets inside strings
    told apart (a note may hold "[[["), with escapes removed first so an escaped quote ends no string.
    """
    rough = max(itertools.accumulate(map(_BRACKET_STEP.__getitem__, data.translate(None, _NOT_BRACKETS))), default=0)
    if rough <= MAX_JSON_DEPTH:
        return rough
    depth = deepest = 0
    inside = False
    for byte in data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE):
        if byte == 34:  # "
            inside = not inside
        elif not inside:
            depth += _BRACKET_STEP[byte]
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    break  # past the limit: no need to read on
    return deepest


class _JsonItems:
    """Walk a JSON upload's list of figures one item at a time (the list itself, or the "figures" key of an object)."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.decoder = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_json_int)

    def _skip(self, pos: int) -> int:
        match = _WHITESPACE.match(self.text, pos)
        return match.end() if match else pos

    def _expect(self, pos: int, what: str) -> int:
        pos = self._skip(pos)
        if not self.text.startswith(what, pos):
            named = {",": "',' delimiter", ":": "':' delimiter"}.get(what, repr(what))
            raise json.JSONDecodeError(f"Expecting {named}", self.text, pos)
        return pos + 1

    def items(self) -> Iterator[object]:
        """Yield each item of the list of figures, checking the whole text is well formed."""
        expected = 'must hold a list of objects, or an object with the key "figures" holding that list'
        pos = self._skip(0)
        if self.text.startswith("[", pos):
            pos = yield from self._list(pos)
        elif self.text.startswith("{", pos):
            pos = yield from self._object(pos, expected)
        else:
            value, pos = self.decoder.raw_decode(self.text, pos)
            raise InvalidInput(f'"{self.filename}" {expected}; found {_json_kind(value)}')
        pos = self._skip(pos)
        if pos != len(self.text):
            raise json.JSONDecodeError("Extra data", self.text, pos)

    def _list(self, pos: int) -> Generator[object, None, int]:
        pos = self._skip(pos + 1)
        if self.text.startswith("]", pos):
            return pos + 1
        while True:
            item, pos = self.decoder.raw_decode(self.text, self._skip(pos))
            yield item
            pos = self._skip(pos)
            if self.text.startswith("]", pos):
                return pos + 1
            pos = self._expect(pos, ",")

    def _object(self, pos: int, expected: str) -> Generator[object, None, int]:
        keys: list[str] = []
        pos = self._skip(pos + 1)
        closed = self.text.startswith("}", pos)
        pos += closed
        while not closed:
            if not self.text.startswith('"', pos):
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", self.text, pos)
            key, pos = self.decoder.raw_decode(self.text, pos)
            pos = self._skip(self._expect(pos, ":"))
            if key != "figures":
                _, pos = self.decoder.raw_decode(self.text, pos)
            elif "figures" in keys:
                raise InvalidInput(f'"{self.filename}" has the key "figures" twice; give the list of figures once')
            elif self.text.startswith("[", pos):
                pos = yield from self._list(pos)
            else:
                value, pos = self.decoder.raw_decode(self.text, pos)
                raise InvalidInput(f'"{self.filename}" {expected}; found {_json_kind(value)}')
            keys.append(key)
            pos = self._skip(pos)
            closed = self.text.startswith("}", pos)
            pos = pos + 1 if closed else self._skip(self._expect(pos, ","))
        if "figures" not in keys:
            listed = ", ".join(f'"{k}"' for k in keys[:10]) or "none"
            raise InvalidInput(f'"{self.filename}" {expected}; found an object with the keys {listed}')
        return pos


def read_json(data: bytes, filename: str) -> pl.DataFrame:
    """Read a JSON upload in bounded batches, after checking its nesting depth without parsing it."""
    if json_depth(data) > MAX_JSON_DEPTH:
        raise InvalidInput(
            f'"{filename}" nests brackets deeper than the limit of {MAX_JSON_DEPTH} '
            '(a file of figures needs 3: {"figures": [{...}]})'
        )
    try:
        text = data.removeprefix(UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f'"{filename}" is not valid JSON: {exc}; expected UTF-8 JSON') from exc
    batches: list[pl.DataFrame] = []
    rows: list[dict[str, str | None]] = []
    columns: dict[str, None] = {}
    number = 0
    try:
        for number, item in enumerate(_JsonItems(text, filename).items(), start=1):
            rows.append(_json_row(item, number, filename))
            columns.update(dict.fromkeys(rows[-1]))
            if len(rows) == JSON_BATCH:
                batches.append(_json_batch(rows, number))
                rows = []
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f'"{filename}" is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}'
        ) from exc
    except ValueError as exc:
        raise InvalidInput(f'"{filename}" is not valid JSON: {exc}; expected UTF-8 JSON') from exc
    except RecursionError as exc:
        # Brackets inside strings can hide nesting from the count above; the parser's own limit still holds.
        raise InvalidInput(f'"{filename}" nests brackets deeper than the limit of {MAX_JSON_DEPTH}') from exc
    if ROW in columns:
        raise InvalidInput(f'"{filename}": the key "{ROW}" is reserved; rename it in every item')
    if rows or not batches:
        batches.append(_json_batch(rows, number))
    # One chunk, as the other readers give: polars 2.1 can panic filtering a frame of many unaligned chunks.
    frame = pl.concat(batches, how="diagonal").select(*columns, ROW).rechunk()
    return drop_empty_rows(tidy(frame))


def _json_batch(rows: list[dict[str, str | None]], last: int) -> pl.DataFrame:
    """One batch of items as a frame of text cells, numbered by their position in the list."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    schema = dict.fromkeys(seen, pl.String)
    frame = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    first = last - len(rows) + 1
    return frame.with_columns(pl.int_range(first, last + 1, dtype=pl.Int64).alias(ROW))


def _json_row(item: object, number: int, filename: str) -> dict[str, str | None]:
    if not isinstance(item, dict):
        raise InvalidInput(f'"{filename}" item {number} is {_json_kind(item)}; expected an object of key: value pairs')
    row: dict[str, str | None] = {}
    for key, value in item.items():
        name = normalise_header(_without_surrogates(key))
        if not name:
            raise InvalidInput(f'"{filename}" item {number} has a key with no name; give every value a key')
        if name in row:
            raise InvalidInput(
                f'"{filename}" item {number}: keys that differ only in case, spaces or hyphens both read as "{name}"; '
                "use each key once"
            )
        row[name] = _json_cell(value, number, key, filename)
    return row


def _without_surrogates(text: str) -> str:
    """Show a lone UTF-16 surrogate (JSON allows "\\ud800" on its own) as U+FFFD: no UTF-8 store can hold it; and a
    NUL (JSON allows "\\u0000"), which PostgreSQL refuses in text, alike."""
    text = text.replace("\x00", "\ufffd")
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _json_cell(value: Any, number: int, key: str, filename: str) -> str | None:
    if value is None:
        return value
    if isinstance(value, str):
        return _without_surrogates(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    raise InvalidInput(
        f'"{filename}" item {number}, key "{_without_surrogates(key)}": the value is {_json_kind(value)}; '
        "expected a number, a string or null"
    )


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"a {type(value).__name__.replace('str', 'string').replace('float', 'number').replace('int', 'number')}"
