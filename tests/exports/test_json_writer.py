"""JSON export: the return, the definitions used, every cell and the figures behind it."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from exports import json_writer
from exports.json_writer import json_document, write_json
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


@pytest.mark.parametrize("chunk", [1, 2, 4, 1000])
def test_written_a_slice_of_cells_at_a_time_it_is_one_dump_of_the_whole_document(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(json_writer, "CHUNK", chunk)
    built = make_built()
    whole = json.dumps(json_document(built), sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    assert write_json(built) == whole.encode("utf-8")
    cells = json.loads(write_json(built))["cells"]
    assert len(cells) == built.cells.height
    # Each cell has its own figures whatever slice it fell in; a suppressed cell lists none.
    listed = {c["cell_id"]: {p["observation_id"] for p in c["provenance"]} for c in cells}
    shown = built.released_rows.group_by("cell_id").agg("observation_id")
    assert {k: set(v) for k, v in shown.iter_rows()} == {k: v for k, v in listed.items() if v}
