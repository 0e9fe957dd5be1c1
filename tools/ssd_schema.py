"""Derive ``indicators/specifications/ssd/ssd_schema.json`` from the Standard Safeguarding Dataset's v1.4.5 table
definitions and its YAML schema.

Run by hand after the files in ``indicators/specifications/ssd/`` are refreshed (``python tools/ssd_schema.py``),
then commit both; ``tests/collectors/ssd/test_ssd_spec.py`` fails when the JSON and its sources differ. The service
reads the JSON (the standard library reads it; PyYAML is a test dependency only).

The tables, their columns, types and keys are v1.4.5's: the CREATE TABLE statements of D2I's SystemC script
``systemc_sqlserver_v1.4.5_1_20260708.sql`` (data-to-insight/ssd-data-model @ 4987c73, MIT by its pyproject.toml),
shipped verbatim as ``ssd_ddl_create_tables_systemc_v1.4.5.sql`` (:data:`DDL`). The references between tables come
from the YAML schema (data-to-insight/ssd-data-model-next, MIT), which names them; where the YAML is silent or wrong,
the reading is written in :data:`KEYS` and :data:`REFERENCES` with its source. A later SSD version is a new DDL file.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # pyyaml comes with the locked test dependencies

SPEC = Path(__file__).resolve().parents[1] / "indicators" / "specifications" / "ssd"
OUT = SPEC / "ssd_schema.json"
DDL = SPEC / "ssd_ddl_create_tables_systemc_v1.4.5.sql"
#: The script's working tables, not tables of the dataset a council extracts: a calendar (ssd_dim_date), the people
#: the script selects (ssd_cohort) and the form answers ssd_cla_care_plan is built from (ssd_pre_cla_care_plan).
WORKING = frozenset({"ssd_dim_date", "ssd_cohort", "ssd_pre_cla_care_plan"})
#: A table of the YAML schema the v1.4.5 script does not create, kept: an extract's version log, read to refuse an
#: extract of another SSD version (collectors/ssd/service.py).
KEPT_FROM_YAML = frozenset({"ssd_version_log"})

#: The key of a table whose YAML marks none, or marks a column that cannot be one: the key the SSD's v1.4.5
#: SystemC script declares (``systemc_sqlserver_v1.4.5_1_20260708.sql``, data-to-insight/ssd-data-model @ 4987c73,
#: as summarised in the reference bundle's tables.md): a family id is shared by siblings, so it is no row's key.
KEYS: dict[str, list[str]] = {
    "ssd_family": ["fami_table_id"],
    "ssd_mother": ["moth_table_id"],
    "ssd_pre_proceedings": ["prep_table_id"],
    "ssd_department": ["dept_team_id"],
    "ssd_involvements": ["invo_involvements_id"],
}
#: References the YAML names wrongly, read as the SSD means them: the placement an episode names is a row of
#: ssd_cla_placement (the YAML writes the table ``ssd_cla_placements`` and the column ``clap_placement_id``,
#: neither of which exists).
REFERENCES: dict[str, dict[str, str]] = {
    "ssd_cla_episodes": {"clae_cla_placement_id": "ssd_cla_placement.clap_cla_placement_id"},
}
#: The person table and its key: every ``*_person_id`` column names a person of ssd_person (the YAML points a few
#: at another table's column, e.g. perm_person_id at clae_cla_episode_id, which is an episode id, not a person's).
PERSON = "ssd_person.pers_person_id"
TYPES = {"nvarchar": "text", "nchar": "text", "varchar": "text", "datetime": "date", "date": "date", "int": "integer",
         "tinyint": "integer", "float": "number", "bit": "bit"}  # fmt: skip
_TABLE = re.compile(r"CREATE TABLE ssd_development\.(ssd_\w+)\s*\((.*?)\n\s*\);", re.DOTALL)
_COLUMN = re.compile(r"(\w+)\s+(\w+)")
_KEY = re.compile(r"PRIMARY KEY(?: CLUSTERED)?\s*\(([^)]*)\)", re.IGNORECASE)


def ddl_tables(text: str) -> dict[str, tuple[dict[str, str], list[str]]]:
    """Each table the DDL creates (but the script's working tables): its columns with their types, and its key."""
    found: dict[str, tuple[dict[str, str], list[str]]] = {}
    for name, body in _TABLE.findall(text):
        if name in WORKING:
            continue
        columns: dict[str, str] = {}
        key: list[str] = []
        for line in body.split("\n"):
            code = line.split("--")[0].strip().rstrip(",")
            declared = _KEY.search(code)
            if code.upper().startswith("CONSTRAINT") and declared:
                key = [c.strip() for c in declared[1].split(",")]
                continue
            column = _COLUMN.match(code)
            if column is None:
                continue
            columns[column[1].lower()] = TYPES[column[2].lower()]
            if "PRIMARY KEY" in code.upper():
                key = [column[1].lower()]
        found[name] = (columns, key)
    return found


def derive() -> dict[str, Any]:
    """The SSD's tables as the service reads them: columns with their types, the key and the references."""
    tables: dict[str, Any] = {}
    nodes: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(SPEC.glob("ssd_*.yml")):
        for node in yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))[
            "nodes"
        ]:
            fields = nodes[node["name"]] = node["fields"]
            if node["name"] in KEPT_FROM_YAML:
                columns = {f["name"]: TYPES[str(f.get("type") or "nvarchar").lower()] for f in fields}
                key = [f["name"] for f in fields if f.get("primary_key")][:1]
                tables[node["name"]] = {"source": path.name, "columns": columns, "key": key, "references": {}}
    for name, (columns, key) in ddl_tables(DDL.read_text(encoding="utf-8")).items():
        key = KEYS.get(name) or key or [f["name"] for f in nodes.get(name, []) if f.get("primary_key")][:1]
        tables[name] = {"source": DDL.name, "columns": columns, "key": key, "references": {}}
    for name, table in tables.items():
        described = {f["name"]: f for f in nodes.get(name, [])}
        for field in [described.get(c, {"name": c}) for c in table["columns"]]:
            target = REFERENCES.get(name, {}).get(field["name"]) or _reference(field, tables)
            if target is not None and target != f"{name}.{field['name']}":
                table["references"][field["name"]] = target
    return {
        "source": "tables, columns, types and keys: data-to-insight/ssd-data-model deployment_extracts/systemc/live/"
        "ssd_deployment_individual_files/systemc_sqlserver_v1.4.5_1_20260708.sql @ "
        "4987c73f5369395fa873397277fb8a66e9aa5243 (v1.4.5, MIT); references: data-to-insight/ssd-data-model-next "
        "schema/ @ 8e912e6b36f7cfb760d5ca03c6ed9ed8dbef0a60 (MIT)",
        "tables": tables,
    }


def _reference(field: dict[str, Any], tables: dict[str, Any]) -> str | None:
    """The column ``field`` refers to, when it names a column the schema has; a person id always names a person."""
    name = str(field["name"])
    if name.endswith("_person_id") and name != "pers_person_id":
        return PERSON
    target = str(field.get("foreign_key") or "").split(" ")[0]
    table, _, column = target.partition(".")
    return target if column in tables.get(table, {}).get("columns", {}) else None


def text() -> str:
    """The JSON file's text."""
    return json.dumps(derive(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(text(), encoding="utf-8")
    sys.stdout.write(f"wrote {OUT}\n")
