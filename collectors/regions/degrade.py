"""What a use case may do further to its pooled tables, beyond each column's own policy (``degrade`` in
``mappings/regions/use_cases.toml``), each to make its children harder to tell apart:

- ``dates_to_month``: every date a table holds (an episode's start, a referral, an assessment ...) to the first of
  its month, as a birth date already is;
- ``ethnicity_to_main_group``: each DfE ethnicity code to its main group (WBRI and WIRI to WHIT ...), by the code
  table kept beside SEN2's (``collectors/sen2/dfe/ethnicity.csv``: derived, not DfE's own; minor to main group by
  the code's first letter, as CBDS groups them; its ``SOURCE.md`` says from where);
- ``sector_to_district``: each postcode sector to its district (its outward code: ``NG1 5`` to ``NG1``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import polars as pl

from mappings.regions.policy import DEGRADES, TablePolicy

#: DfE's ethnicity codes with the main group each is counted under (SEN2's 108, the SSDA903's and CIN census's 20 among
#: them), as the service already reads them for SEN2's breakdowns.
ETHNICITY_FILE = Path(__file__).resolve().parents[1] / "sen2" / "dfe" / "ethnicity.csv"
#: The columns holding a child's DfE ethnicity code, in each source.
ETHNICITY = ("ETHNIC", "Ethnicity", "ethnicity")


@cache
def main_groups() -> dict[str, str]:
    """Each DfE ethnicity code and its main group's code (WBRI: WHIT; REFU and NOBT are their own)."""
    with ETHNICITY_FILE.open(encoding="utf-8", newline="") as f:
        return {row["code"]: row["dfe_main_code"] for row in csv.DictReader(f)}


def further(frame: pl.DataFrame, table: TablePolicy, options: Iterable[str]) -> pl.DataFrame:
    """The table with each of ``options`` (of :data:`DEGRADES`) done to its columns; nothing else changed."""
    chosen = set(options)
    unknown = chosen - set(DEGRADES)
    if unknown:
        raise ValueError(f"unknown degrade option(s) {', '.join(sorted(unknown))}; known: {', '.join(DEGRADES)}")
    changed: list[pl.Expr] = []
    if "dates_to_month" in chosen:
        changed += [pl.col(name).dt.month_start() for name, kind in frame.schema.items() if kind == pl.Date]
    if "ethnicity_to_main_group" in chosen:
        groups = main_groups()
        # A code outside DfE's lists is left as the council sent it: it is already a column the policy keeps.
        changed += [
            pl.col(name).replace(groups)
            for name in ETHNICITY
            if name in frame.columns and frame.schema[name] == pl.String
        ]
    if "sector_to_district" in chosen:
        sectors = [c.name for c in table.columns if c.action == "sector" and c.name in frame.columns]
        changed += [pl.col(name).str.split(" ").list.first().alias(name) for name in sectors]
    return frame.with_columns(changed) if changed else frame
