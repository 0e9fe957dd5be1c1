"""Derive ``indicators/specifications/ssd/ssd_schema.json`` from the Standard Safeguarding Dataset's own YAML schema.

Run by hand after the YAML files in ``indicators/specifications/ssd/`` are refreshed (``python tools/ssd_schema.py``),
then commit both; ``tests/collectors/ssd/test_spec.py`` fails when the JSON and the YAML differ. The service reads
the JSON (the standard library reads it; PyYAML is a test dependency only).

Every table, column, type, key and reference comes from the YAML. Where the YAML is silent or contradicts the
SSD's own v1.4.5 table definitions, the reading is written in :data:`KEYS` and :data:`REFERENCES` with its source.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # pyyaml comes with the locked test dependencies

SPEC = Path(__file__).resolve().parents[1] / "indicators" / "specifications" / "ssd"
OUT = SPEC / "ssd_schema.json"

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
TYPES = {"nvarchar": "text", "nchar": "text", "datetime": "date", "int": "integer", "float": "number", "bit": "bit"}


def derive() -> dict[str, Any]:
    """The SSD's tables as the service reads them: columns with their types, the key and the references."""
    tables: dict[str, Any] = {}
    nodes: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(SPEC.glob("ssd_*.yml")):
        for node in yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))[
            "nodes"
        ]:
            fields = nodes[node["name"]] = node["fields"]
            columns = {f["name"]: TYPES[str(f.get("type") or "nvarchar").lower()] for f in fields}
            key = KEYS.get(node["name"]) or [f["name"] for f in fields if f.get("primary_key")][:1]
            tables[node["name"]] = {"source": path.name, "columns": columns, "key": key, "references": {}}
    for name, table in tables.items():
        for field in nodes[name]:
            target = REFERENCES.get(name, {}).get(field["name"]) or _reference(field, tables)
            if target is not None and target != f"{name}.{field['name']}":
                table["references"][field["name"]] = target
    return {
        "source": "data-to-insight/ssd-data-model-next schema/ @ 8e912e6b36f7cfb760d5ca03c6ed9ed8dbef0a60 (MIT)",
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
