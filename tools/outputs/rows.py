"""Outputs as text rows that compare exactly: values normalised where a run honestly differs, files read as cells."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

#: A timestamp written as text (ISO 8601 or SQL's spelling, with or without its zone).
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2})?")
RUN_TIME = "<run-time>"
RUN_DAY = "<run-day>"
#: The moment the clock (``onereturn.clock.now``) is held at while the demo loads and every output is read.
FIXED_NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@dataclass
class Run:
    """The window a dump ran in: a timestamp inside it (or the fixed clock's) was written by the run (when, not
    what), and so was its day."""

    start: datetime
    end: datetime
    #: Opens a value sealed under the dump's fixed records keys (Fernet's bytes differ on each sealing).
    unseal: Callable[[bytes], bytes | None]

    @functools.cached_property
    def days(self) -> frozenset[str]:
        """The days (UTC) the run touched and the fixed clock's, as ISO dates."""
        return frozenset(d.date().isoformat() for d in (self.start, datetime.now(UTC), FIXED_NOW))

    def during(self, moment: datetime) -> bool:
        """Whether ``moment`` (naive: UTC) falls inside the run."""
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return self.start <= aware <= self.end or aware == FIXED_NOW

    def text(self, value: str) -> str:
        """``value`` with the run's own timestamps and day put as markers."""
        if "-" not in value:
            return value

        def stamp(found: re.Match[str]) -> str:
            try:
                moment = datetime.fromisoformat(found.group(0).replace("Z", "+00:00"))
            except ValueError:
                return found.group(0)
            return RUN_TIME if self.during(moment) else found.group(0)

        value = STAMP.sub(stamp, value)
        for day in self.days:
            value = value.replace(day, RUN_DAY)
        return value

    def value(self, value: Any) -> str:
        """One stored or read value as text: timestamps of the run, sealed bytes and blobs normalised."""
        if value is None:
            return "NULL"
        if isinstance(value, datetime):
            return RUN_TIME if self.during(value) else value.isoformat()
        if isinstance(value, date):
            return RUN_DAY if value.isoformat() in self.days else value.isoformat()
        if isinstance(value, memoryview):
            value = value.tobytes()
        if isinstance(value, bytes):
            return self.blob(value)
        if isinstance(value, float | Decimal):
            return repr(float(value))
        if isinstance(value, dict | list):
            return self.text(json.dumps(value, sort_keys=True, default=str))
        text = str(value)
        if text.startswith("gAAAAA"):
            opened = self.unseal(text.encode("ascii", "replace"))
            if opened is not None:
                return "sealed:" + self.digest(opened)
        return self.text(text)

    def blob(self, data: bytes) -> str:
        """Bytes by their digest: sealed ones by what they open to, a workbook by its cells (its zip has dates)."""
        opened = self.unseal(data)
        if opened is not None:
            return "sealed:" + self.digest(opened)
        return "bytes:" + self.digest(data)

    def digest(self, data: bytes) -> str:
        """A digest of ``data`` read as the rows it holds, where it is a format read here; else of its bytes."""
        kind = sniff(data)
        if kind != "bytes":
            return hashlib.sha256("\n".join(file_rows(data, kind, self)).encode()).hexdigest()[:16]
        return hashlib.sha256(data).hexdigest()[:16]


def sniff(data: bytes) -> str:
    """The kind of a file by its first bytes: xlsx, zip, json, text or bytes."""
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return "xlsx" if "xl/workbook.xml" in z.namelist() else "zip"
        except zipfile.BadZipFile:
            return "bytes"
    if data[:1] in (b"{", b"["):
        try:
            json.loads(data)
        except ValueError:
            return "bytes"
        return "json"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes"
    return "text"


def file_rows(data: bytes, kind: str, run: Run) -> list[str]:
    """A file's content as rows: a workbook's cells, a JSON document's leaves, a zip's members, text's lines."""
    if kind == "xlsx":
        return list(xlsx_rows(data, run))
    if kind == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return [
                f"{info.filename}\t{line}"
                for info in sorted(z.infolist(), key=lambda i: i.filename)
                for line in text_rows(z.read(info), run)
            ]
    if kind == "json":
        return list(json_rows(json.loads(data), run))
    if kind == "bytes":
        return [f"bytes\t{hashlib.sha256(data).hexdigest()}"]
    return text_rows(data, run)


def text_rows(data: bytes, run: Run) -> list[str]:
    """Text's lines, normalised (a CSV's rows stay as written: its bytes are the output)."""
    text = data.decode("utf-8-sig", errors="backslashreplace")
    return [run.text(line) for line in text.splitlines()]


def csv_rows(data: bytes, run: Run) -> list[str]:
    """A CSV's rows, each cell named by its column's heading."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    heading = next(reader, [])
    rows = ["\t".join(heading)]
    for number, row in enumerate(reader, start=2):
        cells = (f"{heading[i] if i < len(heading) else i}={run.text(v)}" for i, v in enumerate(row))
        rows.append(f"row {number}\t" + "\t".join(cells))
    return rows


def json_rows(value: Any, run: Run, path: str = "$") -> Iterator[str]:
    """A JSON document's leaves, one row each, by their path."""
    if isinstance(value, dict):
        if not value:
            yield f"{path}\t{{}}"
        for key, inner in value.items():
            yield from json_rows(inner, run, f"{path}.{key}")
    elif isinstance(value, list):
        if not value:
            yield f"{path}\t[]"
        for index, inner in enumerate(value):
            yield from json_rows(inner, run, f"{path}[{index}]")
    elif path.endswith(".request_id"):
        # The log's id of the request, made at random for each: what it names is the same.
        yield f"{path}\t<request-id>"
    else:
        yield f"{path}\t{run.value(value) if isinstance(value, str) else json.dumps(value)}"


def xlsx_rows(data: bytes, run: Run) -> Iterator[str]:
    """A workbook's cells, sheet by sheet (formulas as written), and each sheet's merged ranges."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), data_only=False)
    for sheet in book.worksheets:
        yield f"{sheet.title}\tdimensions={sheet.dimensions}"
        for merged in sorted(str(r) for r in sheet.merged_cells.ranges):
            yield f"{sheet.title}\tmerged {merged}"
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is not None:
                    yield f"{sheet.title}!{cell.coordinate}\t{run.value(cell.value)}"
