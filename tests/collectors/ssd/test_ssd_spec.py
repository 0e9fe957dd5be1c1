"""The SSD schema the service reads is the one its YAML files give, and the mapping cites a source for every item."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from collectors.ssd.spec import SPEC_DIR, mapping, tables

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
        if item.ssd_column not in ("pers_upn",):  # v1.4.5's UPN column, not in the newer schema
            assert item.ssd_column in schema[item.ssd_table].columns, item
        if item.kind == "code":
            assert item.codes in year.codes, item
