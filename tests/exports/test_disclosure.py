"""Disclosure control, property-based: whatever small counts and totals a return shows, nothing a
regulator can pull (any export format, its lineage) lets it work out a suppressed figure, not even
as the difference of published totals shown in other fields."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exports.build import with_display
from exports.built import CELL_SCHEMA, LINEAGE_SCHEMA, BuiltReturn, FieldInfo
from exports.disclosure import SUPPRESSED_LINEAGE, released_lineage, suppress_cells, suppression_groups
from exports.writers import write
from mappings.transforms import SECONDARY_REASON

RULE = {"low": 1, "high": 5, "symbol": "c", "secondary": True}
PRIMARY_REASON = "values from 1 to 5 are suppressed"
IND = "drugs.new_presentations"

#: One org's figures: breakdown key -> value (the total under "").
Figures = dict[str, int]


@st.composite
def partition(draw: st.DrawFn, total: int, parts: int) -> list[int]:
    cuts = sorted(draw(st.lists(st.integers(0, total), min_size=parts - 1, max_size=parts - 1)))
    bounds = [0, *cuts, total]
    return [b - a for a, b in itertools.pairwise(bounds)]


small = st.one_of(st.integers(0, 7), st.integers(0, 40))


@st.composite
def returns(draw: st.DrawFn) -> tuple[dict[str, Figures], list[tuple[str, list[str]]]]:
    """Orgs with a total and its parts by sex (and maybe by age), and the fields that show them."""
    orgs: dict[str, Figures] = {}
    n_sex = draw(st.integers(2, 3))
    n_age = draw(st.sampled_from([0, 2, 3]))
    for o in range(draw(st.integers(1, 2))):
        sex = draw(st.lists(small, min_size=n_sex, max_size=n_sex))
        figures: Figures = {"": sum(sex)}
        figures |= {f"sex={code}": v for code, v in zip("FMX", sex, strict=False)}
        if n_age:
            figures |= {f"age={a}": v for a, v in enumerate(draw(partition(sum(sex), n_age)))}
        orgs[f"ORG-{o}"] = figures
    keys = list(next(iter(orgs.values())))
    # Field A shows every breakdown; a return may also show the total, or single parts, in fields of their own.
    fields: list[tuple[str, list[str]]] = [("A", keys)]
    if draw(st.booleans()):
        fields.append(("B", [""]))
    for key in keys[1:]:
        if draw(st.booleans()):
            fields.append((f"P {key}", [key]))
    return orgs, fields


def _cells(orgs: dict[str, Figures], fields: list[tuple[str, list[str]]]) -> pl.DataFrame:
    rows = [
        {
            "cell_id": f"{code}|{org}|{key}",
            "field_code": code,
            "indicator_id": IND,
            "org_code": org,
            "org_name": org,
            "period": "2024-06",
            "ref_date": None,
            "breakdown": key,
            "value": float(figures[key]),
            "numerator": None,
            "denominator": None,
            "symbol": None,
            "status": "present",
            "reason": None,
            "how": "identical",
            "parts": 1,
            "missing_parts": 0,
            "decimals": 0,
            "unit": "people",
            "statistic": "count",
        }
        for code, keys in fields
        for org, figures in orgs.items()
        for key in keys
    ]
    return pl.DataFrame(rows, schema={**CELL_SCHEMA, "symbol": pl.String, "statistic": pl.String})


def _lineage(cells: pl.DataFrame, ids: dict[tuple[str, str], int]) -> pl.DataFrame:
    rows = [
        {
            "cell_id": c["cell_id"],
            "field_code": c["field_code"],
            "org_code": c["org_code"],
            "observation_id": ids[(c["org_code"], c["breakdown"])],
            "indicator_id": IND,
            "figure_org": c["org_code"],
            "figure_period": "2024-06",
            "figure_breakdown": c["breakdown"],
            "version": 1,
            "weight": 1.0,
            "submission_id": 7,
            "agency_code": "lewisham_drugs",
            "filename": "drugs.csv",
            "file_row": ids[(c["org_code"], c["breakdown"])],
        }
        for c in cells.iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=LINEAGE_SCHEMA)


def _rank(rows: list[list[Fraction]]) -> int:
    matrix = [row[:] for row in rows]
    rank, col = 0, 0
    width = len(matrix[0]) if matrix else 0
    while rank < len(matrix) and col < width:
        pivot = next((r for r in range(rank, len(matrix)) if matrix[r][col] != 0), None)
        if pivot is None:
            col += 1
            continue
        matrix[rank], matrix[pivot] = matrix[pivot], matrix[rank]
        for r in range(len(matrix)):
            if r != rank and matrix[r][col] != 0:
                factor = matrix[r][col] / matrix[rank][col]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[rank], strict=True)]
        rank += 1
        col += 1
    return rank


def determined(orgs: dict[str, Figures], published: dict[tuple[str, str], float]) -> list[tuple[str, str]]:
    """Return the hidden figures a reader can work out exactly from the published ones and the sums they obey."""
    hidden = [(org, key) for org, figures in orgs.items() for key in figures if (org, key) not in published]
    if not hidden:
        return []
    index = {fig: i for i, fig in enumerate(hidden)}
    equations: list[list[Fraction]] = []
    for org, figures in orgs.items():
        for dim in sorted({k.split("=")[0] for k in figures if k}):
            row = [Fraction(0)] * len(hidden)
            if (org, "") in index:
                row[index[(org, "")]] += 1
            for key in figures:
                if key.startswith(dim + "=") and (org, key) in index:
                    row[index[(org, key)]] -= 1
            if any(row):
                equations.append(row)
    base = _rank(equations)
    found = []
    for fig, i in index.items():
        unit = [Fraction(int(j == i)) for j in range(len(hidden))]
        if _rank([*equations, unit]) == base:
            found.append(fig)
    return found


def _published_csv(data: bytes) -> dict[str, str]:
    return {
        f"{r['field_code']}|{r['org_code']}|{r['breakdown']}": r["value"]
        for r in csv.DictReader(io.StringIO(data.decode()))
    }


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(returns())
def test_no_suppressed_figure_can_be_recovered_from_anything_released(
    case: tuple[dict[str, Figures], list[tuple[str, list[str]]]],
) -> None:
    orgs, fields = case
    cells = with_display(suppress_cells(_cells(orgs, fields), RULE), "c")
    ids = {(org, key): 100 + n for n, (org, key) in enumerate((o, k) for o, f in orgs.items() for k in f)}
    built = BuiltReturn(
        return_id="ndtms_adult_monthly",
        title="NDTMS",
        recipient="OHID",
        period="2024-06",
        geography_level="provider",
        layout="list",
        generated_at=datetime(2024, 7, 31, tzinfo=UTC),
        catalogue_version="v",
        suppression="c",
        fields=[
            FieldInfo(code, code, IND, "New presentations", "", "count", "people", 0, 1, "", "identical", "", "")
            for code, _ in fields
        ],
        cells=cells.select(list(CELL_SCHEMA)),
        lineage=_lineage(cells, ids),
    )
    hidden_cells = set(cells.filter(pl.col("status") == "suppressed")["cell_id"].to_list())

    # What each format shows for each cell, read back: every format agrees and no hidden cell has a number.
    shown = _published_csv(write(built, "csv"))
    doc = json.loads(write(built, "json"))
    assert {c["cell_id"]: c["display"] for c in doc["cells"]} == shown
    sdmx = list(csv.DictReader(io.StringIO(write(built, "sdmx-csv").decode())))
    for cell, row in zip(cells.iter_rows(named=True), sdmx, strict=True):
        hidden = cell["cell_id"] in hidden_cells
        assert (row["OBS_VALUE"] == "NaN") == hidden
        assert row["PROVENANCE"] == "" or not hidden
    xlsx = pl.read_excel(io.BytesIO(write(built, "xlsx")), sheet_name="Data", infer_schema_length=0)
    assert dict(zip(xlsx["Cell id"].to_list(), xlsx["Value"].to_list(), strict=True)) == shown
    for c in doc["cells"]:
        if c["cell_id"] in hidden_cells:
            assert (c["display"], c["value"], c["provenance"]) == ("c", None, [])
            # A reason never names another cell (nor its value).
            assert c["reason"] in (PRIMARY_REASON, SECONDARY_REASON)

    # Lineage as a regulator reads it: no stored value anywhere, no figure behind a hidden cell.
    with_values = [{**row, "value": orgs[row["org_code"]][row["figure_breakdown"]]} for row in built.lineage.to_dicts()]
    statuses = dict(zip(cells["cell_id"].to_list(), cells["status"].to_list(), strict=True))
    released = released_lineage(with_values, statuses, kind="regulator")
    assert all("value" not in row for row in released)
    for row in released:
        if row["cell_id"] in hidden_cells:
            assert row == {
                "cell_id": row["cell_id"],
                "field_code": row["field_code"],
                "org_code": row["org_code"],
                "status": "suppressed",
                "reason": SUPPRESSED_LINEAGE,
            }

    # Nothing published lets a reader work a hidden figure out, differences of totals included.
    published = {
        (c["org_code"], c["breakdown"]): float(shown[c["cell_id"]])
        for c in cells.iter_rows(named=True)
        if c["cell_id"] not in hidden_cells
    }
    for (org, key), value in published.items():
        assert value == orgs[org][key]
    assert determined(orgs, published) == []
    # And every small number is hidden wherever it appears.
    for org, figures in orgs.items():
        for key, value in figures.items():
            if 1 <= value <= 5:
                assert (org, key) not in published


def test_a_total_in_one_field_and_parts_in_others_add_up_together() -> None:
    # Field B shows the total, fields "P sex=..." each show one part: a reader who sees 20 and 17 knows the 3.
    cells = _cells({"ORG-0": {"": 20, "sex=F": 3, "sex=M": 17}}, [("B", [""]), ("P F", ["sex=F"]), ("P M", ["sex=M"])])
    groups = suppression_groups(cells)
    assert groups.filter(pl.col("group_id").str.starts_with("sum|"))["cell_id"].sort().to_list() == [
        "B|ORG-0|",
        "P F|ORG-0|sex=F",
        "P M|ORG-0|sex=M",
    ]
    out = suppress_cells(cells, RULE)
    assert out.filter(pl.col("status") == "suppressed")["cell_id"].sort().to_list() == [
        "P F|ORG-0|sex=F",
        "P M|ORG-0|sex=M",
    ]


def test_the_same_figure_in_two_fields_is_hidden_in_both() -> None:
    cells = _cells({"ORG-0": {"": 20, "sex=F": 3, "sex=M": 17}}, [("A", ["", "sex=F", "sex=M"]), ("P M", ["sex=M"])])
    out = suppress_cells(cells, RULE)
    hidden = set(out.filter(pl.col("status") == "suppressed")["cell_id"].to_list())
    assert {"A|ORG-0|sex=M", "P M|ORG-0|sex=M"} <= hidden


def test_the_checker_finds_a_difference_of_published_totals() -> None:
    # Guard on the property test's own oracle: a total and one part published give the other part away.
    orgs = {"ORG-0": {"": 20, "sex=F": 3, "sex=M": 17}}
    assert determined(orgs, {("ORG-0", ""): 20.0, ("ORG-0", "sex=M"): 17.0}) == [("ORG-0", "sex=F")]
    assert determined(orgs, {("ORG-0", ""): 20.0}) == []


def released(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cut rows as a regulator reads them (helper for the officer/regulator contrast)."""
    return released_lineage(rows, {"a": "suppressed", "b": "present"}, kind="regulator")


def test_an_officer_reads_all_lineage_and_a_regulator_no_values() -> None:
    rows = [
        {"cell_id": "a", "field_code": "A", "org_code": "X", "observation_id": 1, "value": 3.0},
        {"cell_id": "b", "field_code": "A", "org_code": "X", "observation_id": 2, "value": 17.0},
    ]
    assert released_lineage(rows, {"a": "suppressed"}, kind="officer") == rows
    assert released(rows) == [
        {"cell_id": "a", "field_code": "A", "org_code": "X", "status": "suppressed", "reason": SUPPRESSED_LINEAGE},
        {"cell_id": "b", "field_code": "A", "org_code": "X", "observation_id": 2},
    ]
