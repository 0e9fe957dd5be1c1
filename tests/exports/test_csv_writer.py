"""CSV export: exact text, one row per cell, and the formula-injection guard on every text cell."""

from __future__ import annotations

import csv
import io

import pytest

from exports.built import BuiltReturn, FieldInfo
from exports.writers.csv import CSV_COLUMNS, neutralise, write_csv
from tests.exports.writer_samples import CELLS, FIELDS, LAYOUTS, make_built


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("http://evil.example","click")', '\'=HYPERLINK("http://evil.example","click")'),
        ("@SUM(1)", "'@SUM(1)"),
        ("+1", "'+1"),
        ("-1+2", "'-1+2"),
        ("-A1", "'-A1"),
        ("-", "-"),  # the nil symbol alone: nothing follows it to run
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("-3.5", "-3.5"),
        ("-12", "-12"),
        ("-1,234.5", "-1,234.5"),
        ("-3.5\n=1", "'-3.5\n=1"),
        ("12.5", "12.5"),
        ("*", "*"),
        ("", ""),
        ("Nottingham = city", "Nottingham = city"),
    ],
)
def test_neutralise(text: str, expected: str) -> None:
    assert neutralise(text) == expected


def _tiny() -> BuiltReturn:
    cells = [CELLS[0], CELLS[2], CELLS[4]]  # present, suppressed, a negative number
    return make_built(cells=cells)


def test_exact_text_for_a_tiny_return() -> None:
    label = '"Care leavers aged 19-21 in education, employment or training"'  # quoted: it holds commas
    expected = (
        "return_id,period,reference_date,field_code,field_label,indicator_id,org_code,org_name,breakdown,value,flag,unit,status,reason\r\n"
        f"county_cyp_core,FY2024-25-Q1,,1.01,{label},cyp.care_leavers_eet_19_21,E10000024,Nottinghamshire,,"
        "61.5,,percent,present,\r\n"
        f"county_cyp_core,FY2024-25-Q1,,1.01,{label},cyp.care_leavers_eet_19_21,E06000018,Nottingham,,"
        "*,,percent,suppressed,values 1 to 5 shown as *\r\n"
        f"county_cyp_core,FY2024-25-Q1,,1.01,{label},cyp.care_leavers_eet_19_21,E10000007,Derbyshire,,"
        "-3.5,,percent,present,\r\n"
    )
    assert write_csv(_tiny()).decode("utf-8") == expected


@pytest.mark.parametrize("layout", LAYOUTS)
def test_one_row_per_cell_in_cell_order(layout: str) -> None:
    built = make_built(layout=layout)
    rows = list(csv.DictReader(io.StringIO(write_csv(built).decode("utf-8"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["field_code"], r["org_code"], r["breakdown"]) for r in rows] == [
        (c["field_code"], c["org_code"], c["breakdown"]) for c in CELLS
    ]
    assert [r["value"] for r in rows] == [c["display"] for c in CELLS]
    assert [r["status"] for r in rows] == [c["status"] for c in CELLS]
    assert {r["field_label"] for r in rows} == {f.label for f in FIELDS}


def test_hostile_text_is_neutralised_and_negative_numbers_stay_numbers() -> None:
    hostile_field = FieldInfo(**{**FIELDS[0].__dict__, "label": "@SUM(1)"})
    cell = {
        **CELLS[4],
        "org_name": '=HYPERLINK("http://evil.example","click")',
        "reason": "+1",
        "unit": "-cmd|' /C calc'!A0",
    }
    built = make_built(cells=[cell], fields=[hostile_field, FIELDS[1]])
    (row,) = list(csv.DictReader(io.StringIO(write_csv(built).decode("utf-8"))))
    assert row["org_name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert row["field_label"] == "'@SUM(1)"
    assert row["reason"] == "'+1"
    assert row["unit"] == "'-cmd|' /C calc'!A0"
    assert row["value"] == "-3.5"
    for value in row.values():
        assert not value.startswith(("=", "+", "@", "\t", "\r")), value


@pytest.mark.parametrize("layout", LAYOUTS)
def test_same_return_gives_the_same_bytes(layout: str) -> None:
    built = make_built(layout=layout)
    assert write_csv(built) == write_csv(built)
    assert write_csv(built) == write_csv(make_built(layout=built.layout))


def test_empty_return_is_just_the_header() -> None:
    assert write_csv(make_built(cells=[])) == (",".join(CSV_COLUMNS) + "\r\n").encode()


def test_quoting_is_the_csv_modules_for_awkward_text() -> None:
    # The file is made by polars, which quotes an empty text where the csv module writes nothing: every awkward
    # text here must come out as the csv module writes it, field for field and byte for byte.
    awkward = ["", "a,b", 'say "hi"', "two\nlines", "cr\rhere", " lead", "tail ", "é ü", "'quoted'", "x;y"]
    cells = [
        {**CELLS[i % len(CELLS)], "cell_id": f"c{i}", "org_name": text, "reason": awkward[-1 - i], "unit": ""}
        for i, text in enumerate(awkward)
    ]
    built = make_built(cells=cells)
    labels = {f.code: f.label for f in FIELDS}
    expected = io.StringIO(newline="")
    writer = csv.writer(expected, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for c in cells:
        row = (
            built.return_id,
            *(c[k] for k in ("period", "ref_date", "field_code")),
            labels.get(c["field_code"], ""),
            *(c[k] for k in ("indicator_id", "org_code", "org_name", "breakdown", "display", "flag", "unit")),
            *(c[k] for k in ("status", "reason")),
        )
        writer.writerow([neutralise(text or "") for text in row])
    assert write_csv(built) == expected.getvalue().encode("utf-8")
