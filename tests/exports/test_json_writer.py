"""JSON export: the return, the definitions used, every cell and the figures behind it."""

from __future__ import annotations

import dataclasses
import json
import math

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from exports.built import LINEAGE_SCHEMA
from exports.writers import json as json_writer
from exports.writers.json import json_document, write_json
from tests.exports.writer_samples import CELLS, FIELDS, LAYOUTS, make_built


@pytest.mark.parametrize("layout", LAYOUTS)
def test_document_shape(layout: str) -> None:
    built = make_built(layout=layout)
    doc = json.loads(write_json(built))
    assert set(doc) == {
        "return",
        "period",
        "generated_at",
        "catalogue_version",
        "suppression",
        "completeness",
        "complete_share",
        "fields",
        "cells",
    }
    assert doc["return"] == {
        "id": "county_cyp_core",
        "title": built.title,
        "recipient": built.recipient,
        "geography_level": "upper_tier_la",
        "layout": built.layout,
    }
    assert doc["period"] == "FY2024-25-Q1"
    assert doc["generated_at"] == "2024-07-31T09:30:00+00:00"
    assert doc["completeness"] == {"present": 6, "suppressed": 1, "missing": 1, "not_available": 1}
    assert math.isclose(doc["complete_share"], 7 / 9)
    assert doc["fields"] == [dataclasses.asdict(f) for f in FIELDS]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_cells_carry_values_statuses_and_provenance(layout: str) -> None:
    built = make_built(layout=layout)
    cells = json.loads(write_json(built))["cells"]
    assert [c["cell_id"] for c in cells] == [c["cell_id"] for c in CELLS]
    assert [c["value"] for c in cells] == [c["value"] for c in CELLS]  # None -> null -> None
    assert [c["display"] for c in cells] == [c["display"] for c in CELLS]
    suppressed = cells[2]
    assert suppressed["status"] == "suppressed"
    assert suppressed["value"] is None
    assert suppressed["display"] == "*"
    rolled_up = cells[6]
    assert rolled_up["how"] == "rolled_up"
    assert rolled_up["parts"] == 2
    assert rolled_up["provenance"] == [
        {
            "agency_code": "NCC",
            "figure_breakdown": "",
            "figure_org": "E07000170",
            "figure_period": "FY2024-25-Q1",
            "file_row": 7,
            "filename": "q1_upload.xlsx",
            "observation_id": 106,
            "published_figure_id": None,
            "submission_id": 12,
            "version": 1,
            "weight": 1.0,
        },
        {
            "agency_code": "ASHFIELD",
            "figure_breakdown": "",
            "figure_org": "E07000171",
            "figure_period": "FY2024-25-Q1",
            "file_row": 4,
            "filename": "ash.csv",
            "observation_id": 107,
            "published_figure_id": None,
            "submission_id": 15,
            "version": 1,
            "weight": 1.0,
        },
    ]
    missing = cells[5]
    assert missing["provenance"] == []
    assert missing["missing_parts"] == 1
    assert set(cells[0]) == {
        "cell_id",
        "field_code",
        "indicator_id",
        "org_code",
        "org_name",
        "period",
        "ref_date",
        "breakdown",
        "value",
        "display",
        "flag",
        "status",
        "reason",
        "how",
        "parts",
        "missing_parts",
        "unit",
        "decimals",
        "provenance",
    }


@pytest.mark.parametrize("layout", LAYOUTS)
def test_bytes_are_deterministic_with_sorted_keys_and_fixed_separators(layout: str) -> None:
    built = make_built(layout=layout)
    data = write_json(built)
    assert data == write_json(built) == write_json(make_built(layout=built.layout))
    doc = json.loads(data)
    assert data.decode("utf-8") == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def test_nan_and_infinity_become_null() -> None:
    cells = [{**CELLS[0], "value": math.nan}, {**CELLS[1], "value": math.inf}]
    doc = json.loads(write_json(make_built(cells=cells)))  # strict JSON: would fail on NaN
    assert [c["value"] for c in doc["cells"]] == [None, None]


def test_non_ascii_is_written_as_utf8() -> None:
    built = make_built(cells=[{**CELLS[0], "org_name": "Ynys Môn"}])
    assert "Ynys Môn".encode() in write_json(built)


@pytest.mark.parametrize("tiny", [False, True], ids=["polars", "json"])
@pytest.mark.parametrize("chunk", [1, 2, 4, 1000])
def test_written_a_slice_of_cells_at_a_time_it_is_one_dump_of_the_whole_document(
    chunk: int, tiny: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(json_writer, "CHUNK", chunk)
    monkeypatch.setattr(json_writer, "_POLARS_CHUNK", chunk)
    # A value below 1e-4 is written by json (polars spells it otherwise): both ways are sliced alike.
    built = make_built(cells=[{**CELLS[0], "value": 2.5e-05}, *CELLS[1:]] if tiny else None)
    assert json_writer._written_alike(built) is not tiny
    whole = json.dumps(json_document(built), sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    assert write_json(built) == whole.encode("utf-8")
    cells = json.loads(write_json(built))["cells"]
    assert len(cells) == built.cells.height
    # Each cell has its own figures whatever slice it fell in; a suppressed cell lists none.
    listed = {c["cell_id"]: {p["observation_id"] for p in c["provenance"]} for c in cells}
    shown = built.released_rows.group_by("cell_id").agg("observation_id")
    assert {k: set(v) for k, v in shown.iter_rows()} == {k: v for k, v in listed.items() if v}


_OPTIONS = json_writer._OPTIONS
#: Numbers at every edge either writer has: none, NaN, infinities, -0.0, below 1e-4, from 1e16, any float.
_NUMBERS = st.one_of(
    st.none(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 1e-05, 2.5e-07, 1e16, 1.5e300]),
    st.floats(),
    st.floats(min_value=-1e6, max_value=1e6),
)
_TEXT = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(['a"b', "back\\slash", "new\nline", "\x01\x1f\x7f", "Ynys Môn", "\u2028 😀"]),
)


@settings(max_examples=150, deadline=None)
@given(
    cells=st.lists(st.tuples(_NUMBERS, _TEXT, _TEXT, st.integers(-(2**40), 2**40)), max_size=8),
    weights=st.lists(_NUMBERS, max_size=10),
)
@example(cells=[(1e-05, "x", None, 0)], weights=[1.0]).via("a value polars writes as 0.00001")
@example(cells=[(12.5, None, "\x00", 3)], weights=[0.5, math.nan]).via("control characters and a NaN weight")
def test_polars_writes_the_cells_byte_for_byte_as_json_does(
    cells: list[tuple[float | None, str | None, str | None, int]], weights: list[float | None]
) -> None:
    rows = [
        {
            **CELLS[k % len(CELLS)],
            "cell_id": f"F|O{k}|",
            "value": value,
            "reason": reason,
            "org_name": name,
            "parts": parts,
        }
        for k, (value, reason, name, parts) in enumerate(cells)
    ]
    built = make_built(cells=rows)
    lineage = [
        {
            **dict.fromkeys(LINEAGE_SCHEMA),
            "cell_id": f"F|O{k % max(len(rows), 1)}|",
            "observation_id": k,
            "weight": weight,
            "filename": f"f{k}.csv",
            "version": 1,
        }
        for k, weight in enumerate(weights)
    ]
    built = dataclasses.replace(built, lineage=pl.DataFrame(lineage, schema=LINEAGE_SCHEMA, orient="row"))
    by_json = ",".join(text for items in json_writer._cells(built) if (text := json.dumps(items, **_OPTIONS)[1:-1]))
    by_polars = ",".join(text for text in json_writer._cell_slices(built) if text)
    if json_writer._written_alike(built):
        assert by_polars == by_json
    else:
        # Only the spelling of a number below 1e-4 differs, which is why write_json then uses json.
        assert json.loads(f"[{by_polars}]") == json.loads(f"[{by_json}]")
    whole = json.dumps(json_document(built), **_OPTIONS) + "\n"
    assert write_json(built) == whole.encode("utf-8")
