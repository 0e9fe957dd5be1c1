"""Blades written by hand from a year's and term's schema (every column it gives, in its order, the cells a test
names), for the readers' tests."""

from __future__ import annotations

import csv
from pathlib import Path

from collectors.census.schema import schema_for
from collectors.census.synthetic import made_upn

YEAR, TERM = 2025, "autumn"
#: Two pupils of one school of council 891 (made up), as COLLECT writes them.
ADA, BEN = made_upn("891", 1), made_upn("891", 2)


def write_blade(
    folder: Path,
    module: str,
    rows: list[dict[str, str]],
    *,
    year: int = YEAR,
    term: str = TERM,
    name: str | None = None,
) -> tuple[str, Path]:
    """A blade of ``module`` holding ``rows`` (cells by column, the rest blank), named as COLLECT names it."""
    columns = list(schema_for(year, term)[module].columns)
    path = folder / (name or f"{year}_{term}_la_{module}.csv")
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, columns, lineterminator="\r\n")
        writer.writeheader()
        for number, row in enumerate(rows, start=1):
            ids = {
                f"{module}tableid": f"{module[:3]}{number}",
                f"{module}orderseqcolumn": str(number),
                "sourceid": "S1",
                "NativeId": "8912001",
            }
            writer.writerow({**ids, **row})
    return path.name, path


def pupil(table_id: str, upn: str, **cells: str) -> dict[str, str]:
    """A pupil on roll at school 8912001, born 2014, with SEN support unless told otherwise."""
    return {
        "pupilonrolltableid": table_id,
        "schoolcensustableid": "SC1",
        "upn": upn,
        "surname": "Name-of-pupil",
        "forename": "Given",
        "dob": "2014-Mar-02 00:00:00",
        "sex": "F",
        "enrolstatus": "C",
        "senprovision": "K",
        "ncyearactual": "6",
        "termlysessionspossible": "120",
        "summerhalfterm2sessionspossible": "60",
        "entrydate": "2021-Sep-01 00:00:00",
        **cells,
    }


def census(folder: Path, **changed: list[dict[str, str]]) -> list[tuple[str, Path]]:
    """A small census of school 8912001 (council 891) for 2025's autumn: two pupils, their sessions, an exclusion
    and a free meals period; ``changed`` replaces a module's rows."""
    modules: dict[str, list[dict[str, str]]] = {
        "schoolcensus": [
            {
                "schoolcensustableid": "SC1",
                "lea": "891",
                "estab": "2001",
                "urn": "122001",
                "referencedate": "2025-Oct-02 00:00:00",
                "softwarecode": "X",
                "term": "AUT",
            }
        ],
        "school": [{"schoolcensustableid": "SC1", "schoolname": "A school", "phase": "PS"}],
        "pupilonroll": [pupil("P1", ADA), pupil("P2", BEN, sex="M", senprovision="E")],
        "termlysessiondetailsonroll": [
            {"pupilonrolltableid": "P1", "attendancereason": "I", "sessions": "4"},
            {"pupilonrolltableid": "P1", "attendancereason": "/", "sessions": "58"},
            {"pupilonrolltableid": "P1", "attendancereason": "\\", "sessions": "58"},
            {"pupilonrolltableid": "P2", "attendancereason": "O", "sessions": "10"},
            {"pupilonrolltableid": "P2", "attendancereason": "G", "sessions": "6"},
        ],
        "summerhalfterm2sessiondetailsonroll": [{"pupilonrolltableid": "P2", "attendancereason": "M", "sessions": "2"}],
        "termlyexclusionsonroll": [
            {
                "pupilonrolltableid": "P2",
                "startdate": "2025-May-06 00:00:00",
                "sessions": "4",
                "category": "SUSP",
                "reason1": "PA",
            }
        ],
        "fsmperiodsonroll": [{"pupilonrolltableid": "P1", "fsmstartdate": "2023-Jan-09 00:00:00", "ukcountry": "ENG"}],
    }
    modules.update(changed)
    return [write_blade(folder, module, rows) for module, rows in modules.items()]
