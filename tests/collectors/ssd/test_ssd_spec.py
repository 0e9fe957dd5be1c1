"""The SSD schema the service reads is the one its YAML files give, and the mapping cites a source for every item."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from collectors.ssd.intake import read_extract, unpack
from collectors.ssd.spec import SPEC_DIR, mapping, tables
from tests.collectors.ssd.ssd_samples import extract_zip

TOOL = Path(__file__).resolve().parents[3] / "tools" / "ssd_schema.py"


def test_schema_json_is_what_the_yaml_gives() -> None:
    spec = importlib.util.spec_from_file_location("ssd_schema", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (SPEC_DIR / "ssd_schema.json").read_text(encoding="utf-8") == module.text()


def test_schema_has_the_tables_keys_and_references_issue_64_reads() -> None:
    schema = tables()
    assert schema["ssd_person"].key == ("pers_person_id",)
    assert schema["ssd_cin_episodes"].references["cine_person_id"] == "ssd_person.pers_person_id"
    # The YAML names a table that does not exist; the reading is the placement table.
    assert schema["ssd_cla_episodes"].references["clae_cla_placement_id"] == "ssd_cla_placement.clap_cla_placement_id"
    assert schema["ssd_cin_episodes"].columns["cine_referral_date"] == "date"
    assert (SPEC_DIR / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_mapping_cites_a_source_and_names_real_columns_and_code_lists() -> None:
    year = mapping("2024-25")
    schema = tables()
    assert year.items
    for item in year.items:
        assert item.source.strip(), item
        assert item.ssd_column in schema[item.ssd_table].columns, item
        if item.kind == "code":
            assert item.codes in year.codes, item


#: The DDL's CREATE TABLE statements as D2I's v1.4.5 SystemC script gives them (shipped verbatim beside the YAML).
DDL = SPEC_DIR / "ssd_ddl_create_tables_systemc_v1.4.5.sql"
#: The script's working tables, not tables of an extract (tools/ssd_schema.py says why).
WORKING = {"ssd_dim_date", "ssd_cohort", "ssd_pre_cla_care_plan"}


def _ddl_columns() -> dict[str, set[str]]:
    """Each table of the DDL and its columns, read here on their own: the first word of each line of the statement."""
    found: dict[str, set[str]] = {}
    for name, body in re.findall(r"CREATE TABLE ssd_development\.(ssd_\w+)\s*\((.*?)\n\s*\);", DDL.read_text(), re.S):
        words = (line.split("--")[0].split() for line in body.splitlines())
        found[name] = {w[0].lower() for w in words if w and w[0].upper() != "CONSTRAINT"}
    return found


def test_the_tables_and_columns_are_the_v1_4_5_ddls() -> None:
    assert DDL.read_text(encoding="utf-8").splitlines()[3].endswith("commit=4987c73f5369395fa873397277fb8a66e9aa5243  "
                                                                     "(SSD current_version 1.4.5, SystemC/Liquidlogic "
                                                                     "LCS, SQL Server)")  # fmt: skip
    ddl = _ddl_columns()
    schema = tables()
    assert set(schema) - {"ssd_version_log"} == set(ddl) - WORKING
    for name, columns in ddl.items():
        if name not in WORKING:
            assert set(schema[name].columns) == columns, name
    # The issue's cases: v1.4.5's columns are the schema's, one it does not have is not.
    assert {"pers_forename", "pers_surname", "pers_single_unique_id", "pers_upn"} <= set(schema["ssd_person"].columns)
    assert "clar_cla_person_id" in schema["ssd_cla_reviews"].columns
    assert "pers_common_child_id" not in schema["ssd_person"].columns
    assert schema["ssd_cla_immunisations"].key == ("clai_person_id",)


def test_an_extract_of_v1_4_5_headings_is_read_without_calling_them_foreign(tmp_path: Path) -> None:
    person = (
        "pers_legacy_id,pers_person_id,pers_upn,pers_forename,pers_surname,pers_sex,pers_gender,pers_ethnicity,"
        "pers_dob,pers_single_unique_id,pers_upn_unknown,pers_send_flag,pers_expected_dob,pers_death_date,"
        "pers_is_mother,pers_nationality,pers_common_child_id\nL1,C1,,Ann,Ex,F,F,WBRI,2015-06-01,,UN1,N,,,N,,X\n"
    )
    reviews = ("clar_cla_review_id,clar_cla_id,clar_cla_person_id,clar_cla_review_due_date,clar_cla_review_date,"
               "clar_cla_review_cancelled,clar_cla_review_participation\nV1,L1,C1,,2024-06-01,N,PN1\n")  # fmt: skip
    path = extract_zip(tmp_path / "x.zip", {"ssd_person.csv": person, "ssd_cla_reviews.csv": reviews})
    extract = read_extract(unpack(path, path.name, max_unpacked=1 << 20), mapping("2024-25"))
    foreign = [n for n in extract.notes if "not in the SSD's schema" in n]
    assert foreign == ["ssd_person: 1 column(s) not in the SSD's schema, ignored and not kept: pers_common_child_id"]
    assert not any("read as blank" in n and "pers_common_child_id" in n for n in extract.notes)
