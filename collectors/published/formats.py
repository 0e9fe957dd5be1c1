"""A publisher's file read by the reader of its source's format, from one table of the formats there are.

Each format's name and reader live with the reader (``read.py``: EES and Fingertips; ``viewit.py``: NDTMS's
ViewIt export; ``lait.py``: DfE's local authority compendium); this table lists them, written out here rather than
filled as modules are imported, so the formats a data set may name are the rows below. A new format is a reader and a row.
"""

from __future__ import annotations

import polars as pl

from collectors.published.fingertips import FINGERTIPS
from collectors.published.lait import LAIT
from collectors.published.read import EES, AreaLookup, FormatReader
from collectors.published.sources import SourceSpec
from collectors.published.viewit import VIEWIT, WithoutGeography
from onereturn.errors import InvalidInput

#: The formats a publisher's data set may name, by name.
READERS: dict[str, FormatReader] = {reader.name: reader for reader in (EES, FINGERTIPS, VIEWIT, LAIT)}


def no_areas(_name: str, period: str) -> str:
    """For a file read without the store's geography: a format that names its areas cannot be read so."""
    raise WithoutGeography(f"an area named in {period} was read without the store's geography")


def read_published(
    spec: SourceSpec, data: bytes, *, areas: AreaLookup = no_areas, readers: dict[str, FormatReader] = READERS
) -> tuple[pl.DataFrame, int]:
    """Read a publisher's file in whichever of its source's formats it is: a JSON document is the publisher's API
    answer (EES ``/meta`` with ``/query`` results, or a FingertipsNext ``/data`` response), anything else its CSV;
    ``areas`` resolves an area's name, for a format that names its areas (the store's: ``viewit.area_lookup``)."""
    reader = readers.get(spec.format)
    if reader is None:
        raise InvalidInput(f"source {spec.id!r}: no reader reads the format {spec.format!r} ({', '.join(readers)})")
    is_json = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")
    read = reader.json if is_json and reader.json is not None else reader.csv
    return read(spec, data, areas)
