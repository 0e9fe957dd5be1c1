"""The column of DfE's EHC plan tables a GIAS establishment type is counted in (``gias/dfe_placement_columns.csv``),
each with what settles it: DfE's data guidance and GIAS's type group, or a reading where no stored text does."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from mappings.establishments.gias import FOLDER

#: The mainstream columns DfE splits by SEN2's SEN unit and resourced provision flags (items 4.7e-f, 5.7g-h):
#: ``mainstream_academy`` becomes ``mainstream_academy_senunit`` or ``mainstream_academy_resourced_provision``.
SPLIT_BY_UNIT = ("mainstream_la_maintained", "mainstream_academy", "mainstream_free_school")


@dataclass(frozen=True)
class TypeColumn:
    """One GIAS type's DfE column and what settles it (``source: ...`` or ``reading: ...``)."""

    type_code: int
    type_name: str
    column: str
    settled_by: str

    @property
    def reading(self) -> bool:
        """True when no stored text settles the mapping and it is the service's reading."""
        return self.settled_by.startswith("reading")


@cache
def type_columns() -> dict[int, TypeColumn]:
    """Every GIAS type's DfE column, by type code."""
    with (FOLDER / "dfe_placement_columns.csv").open(encoding="utf-8", newline="") as f:
        return {
            int(row["type_code"]): TypeColumn(
                int(row["type_code"]), row["type_name"], row["dfe_column"], row["settled_by"]
            )
            for row in csv.DictReader(f)
        }
