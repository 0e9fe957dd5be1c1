"""SDMX export: SDMX-CSV 2.0 and its SDMX-ML 2.1 structure, read back with sdmx1 as a regulator would."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import sdmx
from sdmx.message import DataMessage, StructureMessage

from exports.built import BuiltReturn
from exports.sdmx.ml import ATTRIBUTES
from exports.sdmx.writer import (
    FLAG_STATUS,
    OBS_STATUS,
    SDMX_CSV_COLUMNS,
    sdmx_ids,
    sdmx_structure,
    sdmx_time_period,
    write_sdmx_csv,
)
from tests.exports.writer_samples import CELLS, FIELDS, LAYOUTS, make_built

DATAFLOW = "DF_COUNTY_CYP_CORE"


def _structure(built: BuiltReturn, tmp_path: Path) -> StructureMessage:
    path = tmp_path / "structure.xml"
    path.write_bytes(sdmx_structure(built))
    message = sdmx.read_sdmx(path)
    assert isinstance(message, StructureMessage)
    return message


def _data(built: BuiltReturn, tmp_path: Path) -> tuple[StructureMessage, DataMessage]:
    structure = _structure(built, tmp_path)
    path = tmp_path / "data.sdmx.csv"
    path.write_bytes(write_sdmx_csv(built))
    data = sdmx.read_sdmx(path, structure=structure.dataflow[DATAFLOW])
    assert isinstance(data, DataMessage)
    return structure, data


def _original(structure: StructureMessage, codelist: str) -> dict[str, str]:
    """Map each code of a codelist back to the spelling it stands for (its ORIGINAL_CODE annotation)."""
    found: dict[str, str] = {}
    for code in structure.codelist[codelist]:
        titles = [str(a.title) for a in code.annotations if a.type == "ORIGINAL_CODE"]
        found[code.id] = titles[0] if titles else code.id
    return found


def test_ids() -> None:
    assert sdmx_ids(make_built()) == ("ONERETURN", DATAFLOW, "1.0")


def test_exact_text_for_a_tiny_return() -> None:
    rolled_up = {**CELLS[6], "reason": "=1+1"}  # neutralised like any CSV text
    built = make_built(cells=[CELLS[1], CELLS[2], rolled_up])
    assert write_sdmx_csv(built).decode("utf-8") == (
        "STRUCTURE,STRUCTURE_ID,ACTION,FIELD,REF_AREA,TIME_PERIOD,BREAKDOWN,OBS_VALUE,REF_DATE,OBS_STATUS,CONF_STATUS,"
        "UNIT_MEASURE,UNIT_MULT,DECIMALS,COMMENT_OBS,PROVENANCE\r\n"
        "dataflow,ONERETURN:DF_COUNTY_CYP_CORE(1.0),I,1_01,E10000024,2024-04-01/P3M,sex_F,58.0,,A,F,"
        "percent,0,1,,submission 12 row 6\r\n"
        "dataflow,ONERETURN:DF_COUNTY_CYP_CORE(1.0),I,1_01,E06000018,2024-04-01/P3M,_T,NaN,,Q,C,"
        "percent,0,1,values 1 to 5 shown as *,\r\n"
        "dataflow,ONERETURN:DF_COUNTY_CYP_CORE(1.0),I,NI_148,E10000024,2024-04-01/P3M,_T,1204,,A,F,"
        "referrals,0,0,'=1+1,submission 12 row 7; submission 15 row 4\r\n"
    )
    assert tuple(write_sdmx_csv(built).decode().split("\r\n")[0].split(",")) == SDMX_CSV_COLUMNS


@pytest.mark.parametrize("layout", LAYOUTS)
def test_read_back_with_sdmx1_gives_the_built_cells(layout: str, tmp_path: Path) -> None:
    built = make_built(layout=layout)
    structure, data = _data(built, tmp_path)
    (dataset,) = data.data  # one data set: every row has ACTION "I"
    assert dataset.action is not None
    assert dataset.action.name == "information"

    frame = sdmx.to_pandas(dataset, attributes="o")
    assert frame.index.names == ["FIELD", "REF_AREA", "TIME_PERIOD", "BREAKDOWN"]
    fields = _original(structure, "CL_COUNTY_CYP_CORE_FIELD")
    breakdowns = _original(structure, "CL_COUNTY_CYP_CORE_BREAKDOWN")
    got = {
        (fields[f], area, period, "" if b == "_T" else breakdowns[b]): row
        for (f, area, period, b), row in frame.iterrows()
    }
    # Every cell is an observation (none dropped); a cell without a number has OBS_VALUE NaN.
    assert len(got) == len(CELLS) == frame.shape[0]
    for cell in CELLS:
        row = got[(cell["field_code"], cell["org_code"], "2024-04-01/P3M", cell["breakdown"])]
        if cell["value"] is None:
            assert math.isnan(row["value"])
        else:
            assert row["value"] == cell["value"]
        assert row["OBS_STATUS"] == OBS_STATUS[cell["status"]]
        assert row["CONF_STATUS"] == ("C" if cell["status"] == "suppressed" else "F")
        assert row["UNIT_MEASURE"] == cell["unit"]
        assert row["UNIT_MULT"] == "0"
        assert row["DECIMALS"] == str(cell["decimals"])
        assert row["COMMENT_OBS"] == cell["reason"]
    provenance = {key[:2] + key[3:]: row["PROVENANCE"] for key, row in got.items()}
    assert provenance[("NI 148", "E10000024", "")] == "submission 12 row 7; submission 15 row 4"
    assert provenance[("1.01", "E10000007", "sex=F")] == ""


def test_statuses_mean_what_sdmx_says(tmp_path: Path) -> None:
    _, data = _data(make_built(), tmp_path)
    by_key = {
        (o.dimension["FIELD"].value, o.dimension["REF_AREA"].value, o.dimension["BREAKDOWN"].value): o
        for o in data.data[0].obs
    }
    suppressed = by_key[("1_01", "E06000018", "_T")]
    assert suppressed.value == "NaN"
    assert suppressed.attached_attribute["OBS_STATUS"].value == "Q"  # Missing value; suppressed
    assert suppressed.attached_attribute["CONF_STATUS"].value == "C"  # Confidential statistical information
    assert by_key[("1_01", "E10000007", "sex_F")].attached_attribute["OBS_STATUS"].value == "O"  # Missing value
    assert by_key[("NI_148", "E06000018", "_T")].attached_attribute["OBS_STATUS"].value == "L"  # not collected
    assert by_key[("1_01", "E10000007", "_T")].value == "-3.5"


def test_structure_message_describes_the_dataflow(tmp_path: Path) -> None:
    built = make_built()
    structure = _structure(built, tmp_path)
    flow = structure.dataflow[DATAFLOW]
    dsd = structure.structure["DSD_COUNTY_CYP_CORE"]
    assert flow.structure is dsd
    assert str(flow.name) == built.title
    assert [d.id for d in dsd.dimensions.components] == ["FIELD", "REF_AREA", "TIME_PERIOD", "BREAKDOWN"]
    assert [m.id for m in dsd.measures.components] == ["OBS_VALUE"]
    assert [a.id for a in dsd.attributes.components] == list(ATTRIBUTES)
    # Codelists hold exactly the codes the return uses, named with the original spelling.
    assert [c.id for c in structure.codelist["CL_COUNTY_CYP_CORE_FIELD"]] == ["1_01", "NI_148"]
    assert [c.id for c in structure.codelist["CL_COUNTY_CYP_CORE_REF_AREA"]] == ["E10000024", "E06000018", "E10000007"]
    assert [c.id for c in structure.codelist["CL_COUNTY_CYP_CORE_BREAKDOWN"]] == ["_T", "sex_F"]
    assert str(structure.codelist["CL_COUNTY_CYP_CORE_REF_AREA"]["E06000018"].name) == "Nottingham"
    assert str(structure.codelist["CL_COUNTY_CYP_CORE_FIELD"]["NI_148"].name) == "NI 148: Children in need referrals"
    assert sorted(c.id for c in structure.codelist["CL_OBS_STATUS"]) == sorted(
        {*OBS_STATUS.values(), *FLAG_STATUS.values()}
    )
    enumerated = dsd.dimensions.get("FIELD").local_representation.enumerated
    assert enumerated is structure.codelist["CL_COUNTY_CYP_CORE_FIELD"]
    # Every observation's key is a code of its dimension's codelist.
    _, data = _data(built, tmp_path)
    for obs in data.data[0].obs:
        for dim in ("FIELD", "REF_AREA", "BREAKDOWN"):
            codes = {c.id for c in structure.codelist[f"CL_COUNTY_CYP_CORE_{dim}"]}
            assert obs.dimension[dim].value in codes


def test_structure_is_plain_sdmx_ml_21() -> None:
    root = ET.fromstring(sdmx_structure(make_built()))
    assert root.tag == "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message}Structure"
    structures = root.find("{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message}Structures")
    assert structures is not None
    # SDMX-ML 2.1 fixes the order of the structure collections.
    assert [child.tag.split("}")[1] for child in structures] == ["Dataflows", "Codelists", "Concepts", "DataStructures"]


def test_field_codes_and_breakdowns_become_distinct_sdmx_ids(tmp_path: Path) -> None:
    cells = [
        {**CELLS[0], "cell_id": "a", "field_code": "1.01"},
        {**CELLS[0], "cell_id": "b", "field_code": "1_01"},
        {**CELLS[0], "cell_id": "c", "field_code": "=cmd", "breakdown": "age=19-21;sex=F"},
        {**CELLS[0], "cell_id": "d", "field_code": "=cmd", "breakdown": "age=19_21;sex=F"},
    ]
    built = make_built(cells=cells, fields=[])
    structure, data = _data(built, tmp_path)
    fields = _original(structure, "CL_COUNTY_CYP_CORE_FIELD")
    breakdowns = _original(structure, "CL_COUNTY_CYP_CORE_BREAKDOWN")
    assert fields == {"1_01": "1.01", "1_01_2": "1_01", "_cmd": "=cmd"}
    # "-" is allowed in SDMX ids and kept; "=" and ";" are not.
    assert breakdowns == {"_T": "_T", "age_19-21_sex_F": "age=19-21;sex=F", "age_19_21_sex_F": "age=19_21;sex=F"}
    keys = [(o.dimension["FIELD"].value, o.dimension["BREAKDOWN"].value) for o in data.data[0].obs]
    assert keys == [("1_01", "_T"), ("1_01_2", "_T"), ("_cmd", "age_19-21_sex_F"), ("_cmd", "age_19_21_sex_F")]


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("2024-06", "2024-06"),
        ("2024-03-31", "2024-03-31"),
        ("CY2024", "2024"),
        ("FY2024-25", "2024-04-01/P1Y"),
        ("FY2024-25-Q1", "2024-04-01/P3M"),
        ("FY2024-25-Q4", "2025-01-01/P3M"),
        ("AY2023-24", "2023-09-01/P1Y"),
        ("not a period", "not a period"),
    ],
)
def test_time_period_in_sdmx_syntax(period: str, expected: str) -> None:
    assert sdmx_time_period(period) == expected


def _all_bytes(built: BuiltReturn) -> tuple[Any, ...]:
    return write_sdmx_csv(built), sdmx_structure(built)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_same_return_gives_the_same_bytes(layout: str) -> None:
    assert _all_bytes(make_built(layout=layout)) == _all_bytes(make_built(layout=layout))


def test_empty_return_reads_back_empty(tmp_path: Path) -> None:
    built = make_built(cells=[])
    structure, data = _data(built, tmp_path)
    assert [c.id for c in structure.codelist["CL_COUNTY_CYP_CORE_FIELD"]] == [
        f.code.replace(".", "_").replace(" ", "_") for f in FIELDS
    ]
    assert sum(len(ds.obs) for ds in data.data) == 0
