"""Censuses made by hand for the door's tests: a few pupils in the tables every census reader answers
(``collectors.census.records``), and a read of them as a reader would answer it (every pupil, its refusals)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from collectors.census.blades import CensusRead
from collectors.census.records import TABLES, CensusRecords, conformed, empty

#: A reader's refusals: where and by which rule, never the value.
REFUSALS = {"file": pl.String(), "table": pl.String(), "row": pl.Int64(), "column": pl.String(), "rule": pl.String()}


def answered(records: CensusRecords, refused: pl.DataFrame | None = None) -> CensusRead:
    """A census as the reader answers it: every pupil read, and each cell refused (none unless given)."""
    return CensusRead(records, pl.DataFrame(schema=REFUSALS) if refused is None else refused, records.pupils.height)


def refusals(*found: tuple[str, str, int, str, str]) -> pl.DataFrame:
    """Refusals as a reader gives them: file, table, row, column and rule each."""
    return pl.DataFrame(list(found), schema=REFUSALS, orient="row")


def pupil(number: int, upn: str | None, provision: str = "N", **more: Any) -> dict[str, Any]:
    """One pupil's enrolment: its key, UPN and SEN provision; the other items as given, else blank."""
    row: dict[str, Any] = dict.fromkeys(TABLES["pupils"])
    return {**row, "pupil": number, "on_roll": True, "upn": upn, "senprovision": provision, "laestab": "8912001",
            "urn": "100001", "enrolstatus": "C", "born": date(2014, 5, 1), **more}  # fmt: skip


def census(
    pupils: list[dict[str, Any]], *, day: date = date(2024, 10, 3), term: str = "autumn", source: str = "la"
) -> CensusRecords:
    """A census of these pupils, each with sessions possible and missed, one exclusion and a free meals period."""
    keys = [p["pupil"] for p in pupils]
    tables: dict[str, pl.DataFrame] = {
        "pupils": pl.DataFrame(pupils, schema=TABLES["pupils"]),
        "possible": pl.DataFrame({"pupil": keys, "period": ["summer"] * len(keys), "sessions": [120] * len(keys),
                                  "authorised": [None] * len(keys), "unauthorised": [None] * len(keys)},
                                 schema=TABLES["possible"]),
        "sessions": pl.DataFrame({"pupil": keys, "period": ["summer"] * len(keys), "code": ["I"] * len(keys),
                                  "sessions": [4] * len(keys)}, schema=TABLES["sessions"]),
        "exclusions": pl.DataFrame({"pupil": keys[:1], "category": ["SUSP"], "started": [date(2024, 6, 3)],
                                    "sessions": [2], "reason": ["PP"]}, schema=TABLES["exclusions"]),
        "fsm": pl.DataFrame({"pupil": keys, "started": [date(2022, 9, 1)] * len(keys), "ended": [None] * len(keys)},
                            schema=TABLES["fsm"]),
        "schools": pl.DataFrame(pupils, schema=TABLES["pupils"]).select("laestab", "urn").unique()
        .with_columns(name=pl.lit("A made-up school"), phase=pl.lit("PS")),
        "premium": empty("premium"),
    }  # fmt: skip
    return conformed(CensusRecords(day.year, term, day, source, **tables))


def sent(folder: Path, name: str = "2024_autumn_la_pupilonroll.csv", body: bytes = b"pupilonrolltableid\n1\n") -> Path:
    """A file standing for what the council sent (the door hashes its bytes; the read is handed in)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(body)
    return path
