"""Small hand-made returns for the writer tests: 2 fields x 3 orgs, a breakdown, every awkward status.

A plain module rather than a conftest so the builder's tests in this folder see none of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from exports.built import CELL_SCHEMA, LINEAGE_SCHEMA, BuiltReturn, FieldInfo

FIELDS = [
    FieldInfo(
        code="1.01",
        label="Care leavers aged 19-21 in education, employment or training",
        indicator_id="cyp.care_leavers_eet_19_21",
        indicator_title="Care leavers in EET",
        definition="Percentage of care leavers aged 19 to 21 in education, employment or training.",
        statistic="percentage",
        unit="percent",
        decimals=1,
        multiplier=100,
        method="DfE SSDA903",
        relation="identical",
        breakdown="sex",
        source="local_authority",
    ),
    FieldInfo(
        code="NI 148",
        label="Children in need referrals",
        indicator_id="cyp.cin_referrals",
        indicator_title="Referrals to children's social care",
        definition="Number of referrals received in the period.",
        statistic="count",
        unit="referrals",
        decimals=0,
        multiplier=1,
        method="CIN census",
        relation="aggregate_of",
        breakdown="",
        source="local_authority",
    ),
]

ORGS = [("E10000024", "Nottinghamshire"), ("E06000018", "Nottingham"), ("E10000007", "Derbyshire")]


def _cell(
    field: str, org: int, breakdown: str, value: float | None, display: str, status: str, **extra: Any
) -> dict[str, Any]:
    info = next(f for f in FIELDS if f.code == field)
    code, name = ORGS[org]
    row: dict[str, Any] = {
        "cell_id": f"{field}|{code}|{breakdown}",
        "field_code": field,
        "indicator_id": info.indicator_id,
        "org_code": code,
        "org_name": name,
        "period": "FY2024-25-Q1",
        "ref_date": None,
        "breakdown": breakdown,
        "value": value,
        "numerator": None,
        "denominator": None,
        "display": display,
        "flag": None,
        "status": status,
        "reason": "",
        "how": "identical",
        "parts": 1,
        "missing_parts": 0,
        "decimals": info.decimals,
        "unit": info.unit,
    }
    row.update(extra)
    return row


CELLS = [
    _cell("1.01", 0, "", 61.5, "61.5", "present", numerator=123.0, denominator=200.0),
    _cell("1.01", 0, "sex=F", 58.0, "58.0", "present"),
    _cell("1.01", 1, "", None, "*", "suppressed", reason="values 1 to 5 shown as *"),
    _cell("1.01", 1, "sex=F", 70.2, "70.2", "present"),
    _cell("1.01", 2, "", -3.5, "-3.5", "present", how="derived"),
    _cell("1.01", 2, "sex=F", None, "", "missing", reason="missing from agency DCC", parts=0, missing_parts=1),
    _cell("NI 148", 0, "", 1204.0, "1204", "present", how="rolled_up", parts=2),
    _cell("NI 148", 1, "", None, "x", "not_available", reason="not collected for unitary authorities", parts=0),
    _cell("NI 148", 2, "", 87.0, "87", "present"),
]


def _lineage(cell_id: str, obs: int, sub: int | None, row: int | None, **extra: Any) -> dict[str, Any]:
    field, org, breakdown = cell_id.split("|")
    base: dict[str, Any] = {
        "cell_id": cell_id,
        "field_code": field,
        "org_code": org,
        "observation_id": obs,
        "indicator_id": next(f.indicator_id for f in FIELDS if f.code == field),
        "figure_org": org,
        "figure_period": "FY2024-25-Q1",
        "figure_breakdown": breakdown,
        "version": 1,
        "weight": 1.0,
        "submission_id": sub,
        "agency_code": "NCC",
        "filename": "q1_upload.xlsx",
        "file_row": row,
    }
    base.update(extra)
    return base


LINEAGE = [
    _lineage("1.01|E10000024|", 101, 12, 5),
    _lineage("1.01|E10000024|sex=F", 102, 12, 6),
    _lineage("1.01|E06000018|", 103, 13, 2, agency_code="NCITY", filename="city.csv"),
    _lineage("1.01|E06000018|sex=F", 104, 13, 3, agency_code="NCITY", filename="city.csv"),
    _lineage("1.01|E10000007|", 105, 14, 9, agency_code="DCC", filename="dcc.json", version=2),
    _lineage("NI 148|E10000024|", 106, 12, 7, figure_org="E07000170", weight=1.0),
    _lineage("NI 148|E10000024|", 107, 15, 4, figure_org="E07000171", agency_code="ASHFIELD", filename="ash.csv"),
    _lineage("NI 148|E10000007|", 108, 14, 10, agency_code="DCC", filename="dcc.json"),
]


def make_built(
    *, layout: str = "list", cells: list[dict[str, Any]] | None = None, fields: list[FieldInfo] | None = None
) -> BuiltReturn:
    """Build the test return (or one with the given cells and fields)."""
    rows = CELLS if cells is None else cells
    frame = pl.DataFrame(rows, schema=CELL_SCHEMA, orient="row") if rows else pl.DataFrame(schema=CELL_SCHEMA)
    ids = set(frame["cell_id"].to_list())
    lineage = pl.DataFrame([r for r in LINEAGE if r["cell_id"] in ids], schema=LINEAGE_SCHEMA, orient="row")
    counts: dict[str, int] = {}
    for status in frame["status"].to_list():
        counts[status] = counts.get(status, 0) + 1
    return BuiltReturn(
        return_id="county_cyp_core",
        title="Children and young people's departmental core data set",
        recipient="Children and Young People's Committee",
        period="FY2024-25-Q1",
        geography_level="upper_tier_la",
        layout=layout,
        generated_at=datetime(2024, 7, 31, 9, 30, 0, tzinfo=UTC),
        catalogue_version="sha256:abc123",
        suppression="values 1 to 5 shown as *; secondary suppression on",
        fields=list(FIELDS if fields is None else fields),
        cells=frame,
        lineage=lineage,
        completeness=counts,
    )


#: Both Data layouts a return can have.
LAYOUTS = ("list", "grid")
