"""The rows Annex A keeps from a council's SSD extract: their tables and types, packed as one ZIP of CSVs and read
back typed. The SSD's intake derives them (``collectors.ssd.annex_a``); Annex A keeps them encrypted and builds from
them at an inspection date (``collectors.annex_a.from_ssd``). The values are children's: nothing here logs them.
"""

from __future__ import annotations

import io
import zipfile

import polars as pl

#: The reduced tables kept, each with its columns and types: what Annex A is built from at an inspection date.
KEPT: dict[str, dict[str, type[pl.DataType]]] = {
    "people": {"child": pl.String, "sex": pl.String, "ethnicity": pl.String, "dob": pl.Date, "expected": pl.Date},
    "contacts": {"child": pl.String, "date": pl.Date, "source": pl.String},
    "early_help": {"child": pl.String, "start": pl.Date, "end": pl.Date, "organisation": pl.String},
    "involvements": {"child": pl.String, "start": pl.Date, "end": pl.Date, "team": pl.String, "worker": pl.String},
    "assessments": {"child": pl.String, "start": pl.Date, "seen": pl.String},
    "visits": {"child": pl.String, "kind": pl.String, "date": pl.Date, "seen": pl.String, "alone": pl.String},
    "iro": {"child": pl.String, "date": pl.Date},
    "care_plans": {"child": pl.String, "start": pl.Date, "end": pl.Date, "plan": pl.String},
    "health": {"child": pl.String, "kind": pl.String, "date": pl.Date},
    "missing": {"child": pl.String, "start": pl.Date, "offered": pl.String, "accepted": pl.String},
    "care_leavers": {
        "child": pl.String, "adviser": pl.String, "pathway": pl.Date, "contact": pl.Date, "team": pl.String,
        "worker": pl.String,
    },
    "family": {"child": pl.String, "family": pl.String},
    "worker_roles": {"role": pl.String},
    # The record-level files made from the same extract, by the name they are kept under and their upload: Annex A
    # reads these, and only these, with the extract's rows (one set of children).
    "made_files": {"file": pl.String, "submission_id": pl.Int64},
}  # fmt: skip


def pack(tables: dict[str, pl.DataFrame]) -> bytes:
    """The reduced tables as one ZIP of CSVs (``<name>.csv``), dates ISO: the file kept, encrypted."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, frame in sorted(tables.items()):
            # A fixed time in each member: the same tables are the same bytes, so a repeat is known by its hash.
            member = zipfile.ZipInfo(f"{name}.csv", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(member, frame.write_csv(), compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def unpack_kept(data: bytes) -> dict[str, pl.DataFrame]:
    """The reduced tables :func:`pack` wrote, typed again; a member of another name is not read."""
    found: dict[str, pl.DataFrame] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.namelist():
            name = member.removesuffix(".csv")
            if name in KEPT:
                found[name] = pl.read_csv(archive.read(member), schema=KEPT[name])
    return found
