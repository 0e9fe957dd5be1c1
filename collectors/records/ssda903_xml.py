"""The SSDA903 XML a council sends DfE read into the same tables as its CSVs, row for row as DfE's library reads it.

DfE's 903 library (``lac_validator.ingress.read_xml_from_text``) makes one Header row per ``CHILD``, one
Episodes row per ``EPISODE``, and one row per ``AREVIEW`` (Reviews), ``AMISSING`` (Missing), ``OC2``,
``PERMANENCE`` (PrevPerm) and ``AD_PLACED`` (PlacedAdoption) in the child's ``HEADER``, plus a UASC, OC3 or
AD1 row for a child carrying ``UASC``, ``IN_TOUCH`` or ``DATE_INT``; ``CHILDID`` becomes ``CHILD`` and ``PL``
becomes ``PLACE``. Reading the same way keeps our row numbers those of DfE's findings. Each row carries the
child's own values (DOB and the like) beside its block's, as the library's do.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import polars as pl

from collectors.records.safexml import check_bounded, parse_bounded
from collectors.records.ssda903_tables import COLUMNS, OPTIONAL_COLUMNS
from onereturn.errors import InvalidInput

#: A large county's 903 XML is a few megabytes.
MAX_BYTES = 200 * 1024 * 1024
#: The 903 XML nests four levels below its root.
MAX_DEPTH = 10
_RENAMED = {"CHILDID": "CHILD", "PL": "PLACE"}
#: Blocks inside HEADER that make a row of a table of their own.
_HEADER_BLOCKS = {
    "AREVIEW": "Reviews",
    "AMISSING": "Missing",
    "OC2": "OC2",
    "PERMANENCE": "PrevPerm",
    "AD_PLACED": "PlacedAdoption",
}
#: A child carrying this leaf has a row in this table.
_MARKED = {"UASC": "UASC", "IN_TOUCH": "OC3", "DATE_INT": "AD1"}


def check_903_xml(data: bytes) -> None:
    """Refuse a 903 XML file that :func:`parse_903_xml` would refuse as unsafe or malformed, without its tree."""
    check_bounded(data, "the SSDA903 XML", max_bytes=MAX_BYTES, max_depth=MAX_DEPTH)


def parse_903_xml(data: bytes) -> ET.Element:
    """Parse a 903 XML file, refusing DOCTYPEs, entities, oversized and over-deep documents."""
    return parse_bounded(data, "the SSDA903 XML", max_bytes=MAX_BYTES, max_depth=MAX_DEPTH)


def _leaves(block: ET.Element) -> dict[str, str | None]:
    """Every leaf below ``block`` by its (renamed) tag, the later one winning, as DfE's library reads them."""
    found: dict[str, str | None] = {}
    for node in block.iter():
        if len(node) == 0:
            text = (node.text or "").strip()
            found[_RENAMED.get(node.tag, node.tag)] = text or None
    return found


def _row(table: str, values: dict[str, str | None]) -> dict[str, str | None]:
    return {c: values.get(c) for c in (*COLUMNS[table], *OPTIONAL_COLUMNS.get(table, ()))}


def read_903_xml(data: bytes) -> dict[str, pl.DataFrame]:
    """Read a 903 XML file into the SSDA903 tables it holds (every cell as text; tables with no rows left out)."""
    root = parse_903_xml(data)
    rows: dict[str, list[dict[str, str | None]]] = {name: [] for name in COLUMNS}
    for child in root:
        whole = _leaves(child)
        if not whole.get("CHILD"):
            raise InvalidInput(f"SSDA903 XML child {len(rows['Header']) + 1} has no CHILDID")
        rows["Header"].append(_row("Header", whole))
        for leaf, table in _MARKED.items():
            if whole.get(leaf) is not None:
                rows[table].append(_row(table, whole))
        for block in child:
            if block.tag == "EPISODE":
                rows["Episodes"].append(_row("Episodes", whole | _leaves(block)))
            elif block.tag == "HEADER":
                for inner in block:
                    block_table = _HEADER_BLOCKS.get(inner.tag)
                    if block_table is not None:
                        rows[block_table].append(_row(block_table, whole | _leaves(inner)))
    tables = {}
    for name, found in rows.items():
        if found:
            columns = list(found[0])
            if "PL_DISTANCE" in columns and all(r.get("PL_DISTANCE") is None for r in found):
                columns.remove("PL_DISTANCE")
            values = {c: [r[c] for r in found] for c in columns}
            tables[name] = pl.DataFrame(values, schema=dict.fromkeys(columns, pl.String))
    return tables
