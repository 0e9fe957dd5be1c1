"""The export formats a recipient can ask for, and one entry point to write a built return in any of them.

Each writer is pure and deterministic: it reads only the :class:`~exports.built.BuiltReturn` and
the same return always gives byte-identical output, so a snapshot's content hash identifies it.
The writers live in their own modules (``csv_writer``, ``json_writer``, ``xlsx_writer``,
``sdmx_writer``); this module is the registry the API and snapshots use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, cast

from exports.built import BuiltReturn
from exports.sdmx.writer import sdmx_ids, sdmx_structure, write_sdmx_csv
from exports.writers.csv import neutralise, write_csv
from exports.writers.json import write_json
from exports.writers.xlsx import write_xlsx
from onereturn.errors import InvalidInput

__all__ = ["FORMATS", "ExportFormat", "Format", "neutralise", "sdmx_ids", "sdmx_structure", "write", "write_all"]

ExportFormat = Literal["xlsx", "csv", "json", "sdmx-csv"]


@dataclass(frozen=True)
class Format:
    """One export format: its name, file extension, media type and writer."""

    name: ExportFormat
    extension: str
    media_type: str
    write: Callable[[BuiltReturn], bytes]


FORMATS: dict[ExportFormat, Format] = {
    "xlsx": Format("xlsx", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", write_xlsx),
    "csv": Format("csv", "csv", "text/csv; charset=utf-8", write_csv),
    "json": Format("json", "json", "application/json", write_json),
    # The SDMX media type names the SDMX-CSV version, so a client knows which reader to use.
    "sdmx-csv": Format(
        "sdmx-csv", "sdmx.csv", "application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8", write_sdmx_csv
    ),
}


def write(built: BuiltReturn, fmt: ExportFormat) -> bytes:
    """Write the built return in the given format."""
    spec = FORMATS.get(fmt)
    if spec is None:
        known = ", ".join(FORMATS)
        raise InvalidInput(f"Export format {fmt!r} is not known; use one of {known}")
    return spec.write(built)


def write_all(built: BuiltReturn, formats: Iterable[str]) -> dict[str, bytes]:
    """Write the built return in each of the formats (a format named twice is written once), two at a time.

    The first is written here while the others are written one after another in a thread of their own: a writer
    reads only the built return, and polars, zlib and XlsxWriter's Python share the cores (polars and zlib let go of
    the interpreter as they work), so a workbook and the text formats take little more than the workbook alone.
    """
    unique = list(dict.fromkeys(formats))

    def written(names: list[str]) -> dict[str, bytes]:
        return {fmt: write(built, cast(ExportFormat, fmt)) for fmt in names}

    if len(unique) < 2:
        return written(unique)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-writer") as lane:
        rest = lane.submit(written, unique[1:])
        first = written(unique[:1])
        return {**first, **rest.result()}
