"""The SSDA903 tables of one council for one collection year, typed for the derivations.

Table and column names are DfE's (the SSDA903 specification, as in ``SSDA903_schema_2024.yml``);
dates are written ``dd/mm/yyyy`` in the CSV and XML a council sends DfE. Every table keeps the
0-based position of each row in the table as given (``_row``), so a derived figure can name the
records behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from onereturn.errors import InvalidInput

#: Each table's columns as the specification names them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "Header": ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"),
    "Episodes": (
        "CHILD",
        "DECOM",
        "RNE",
        "LS",
        "CIN",
        "PLACE",
        "PLACE_PROVIDER",
        "DEC",
        "REC",
        "REASON_PLACE_CHANGE",
        "HOME_POST",
        "PL_POST",
        "URN",
    ),
    "UASC": ("CHILD", "SEX", "DOB", "DUC"),
    "Reviews": ("CHILD", "DOB", "REVIEW", "REVIEW_CODE"),
    "Missing": ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"),
    "OC2": (
        "CHILD",
        "DOB",
        "SDQ_SCORE",
        "SDQ_REASON",
        "CONVICTED",
        "HEALTH_CHECK",
        "IMMUNISATIONS",
        "TEETH_CHECK",
        "HEALTH_ASSESSMENT",
        "SUBSTANCE_MISUSE",
        "INTERVENTION_RECEIVED",
        "INTERVENTION_OFFERED",
    ),
    "OC3": ("CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM"),
    "AD1": ("CHILD", "DOB", "DATE_INT", "DATE_MATCH", "FOSTER_CARE", "NB_ADOPTR", "SEX_ADOPTR", "LS_ADOPTR"),
    "PlacedAdoption": ("CHILD", "DOB", "DATE_PLACED", "DATE_PLACED_CEASED", "REASON_PLACED_CEASED"),
    "PrevPerm": ("CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"),
    "SWEpisodes": ("CHILD", "DOB", "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON"),
}

#: Columns holding dates, by table.
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "Header": ("DOB", "MC_DOB"),
    "Episodes": ("DECOM", "DEC"),
    "UASC": ("DOB", "DUC"),
    "Reviews": ("DOB", "REVIEW"),
    "Missing": ("DOB", "MIS_START", "MIS_END"),
    "OC2": ("DOB",),
    "OC3": ("DOB",),
    "AD1": ("DOB", "DATE_INT", "DATE_MATCH"),
    "PlacedAdoption": ("DOB", "DATE_PLACED", "DATE_PLACED_CEASED"),
    "PrevPerm": ("DOB", "DATE_PERM"),
    "SWEpisodes": ("DOB", "SW_DECOM", "SW_DEC"),
}

#: Dates DfE takes in part: DATE_PERM's day, month or year each ZZ (ZZZZ) when not known, as DfE's rule 632 reads
#: it (lac_validator's ``rule_utils.valid_date``). Such a date is held blank here, not refused; DfE's rules judge it.
PARTIAL_DATES: dict[str, tuple[str, ...]] = {"PrevPerm": ("DATE_PERM",)}
PARTIAL = r"^(?:\d{2}|ZZ)/(?:\d{2}|ZZ)/(?:\d{4}|ZZZZ)$"

#: Optional columns a table may carry beyond the CSV specification: the XML's distance in miles
#: between home and placement (DfE's validation rules 164, 392a, 406 and 453 check it).
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {"Episodes": ("PL_DISTANCE",)}

#: The file names the CSV tables carry in the CSC validator's fake data, by table.
CSV_NAMES: dict[str, str] = {
    "Header": "header.csv",
    "Episodes": "episodes.csv",
    "UASC": "uasc.csv",
    "Reviews": "reviews.csv",
    "Missing": "missing.csv",
    "OC2": "oc2.csv",
    "OC3": "oc3.csv",
    "AD1": "ad1.csv",
    "PlacedAdoption": "placed_for_adoption.csv",
    "PrevPerm": "previous_permanence.csv",
    "SWEpisodes": "sw_episodes.csv",
}


@dataclass(frozen=True)
class CollectionYear:
    """The year a return covers: 1 April to 31 March, named by the year it ends."""

    ending: int

    @property
    def start(self) -> date:
        """1 April of the year before."""
        return date(self.ending - 1, 4, 1)

    @property
    def end(self) -> date:
        """31 March, the snapshot date of the return."""
        return date(self.ending, 3, 31)

    @property
    def period(self) -> str:
        """The service's name for the year, e.g. ``FY2017-18``."""
        return f"FY{self.ending - 1}-{self.ending % 100:02d}"


def _typed(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in COLUMNS[name] if c not in frame.columns]
    if missing:
        raise InvalidInput(f"SSDA903 table {name} lacks the columns {', '.join(missing)}")
    wanted = [c for c in (*COLUMNS[name], *OPTIONAL_COLUMNS.get(name, ())) if c in frame.columns]
    out = frame.select(wanted).with_row_index("_row")
    casts: list[pl.Expr] = []
    for column in wanted:
        if column in DATE_COLUMNS[name]:
            if out.schema[column] == pl.Date:
                continue
            casts.append(
                pl.col(column).cast(pl.String).str.strip_chars().str.to_date("%d/%m/%Y", strict=False).alias(column)
            )
        elif column == "PL_DISTANCE":
            if out.schema[column] == pl.Float64:
                continue  # DfE's distances, worked out from the postcodes, come as numbers
            casts.append(pl.col(column).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False))
        else:
            # Blank cells mean "not returned"; codes compare as text whatever the reader guessed.
            text = pl.col(column).cast(pl.String).str.strip_chars()
            casts.append(pl.when(text == "").then(None).otherwise(text).alias(column))
    typed = out.with_columns(casts) if casts else out
    for column in wanted:
        if typed.schema[column] in (pl.Date, pl.Float64) and out.schema[column] == pl.String:
            # A value the cast could not read would silently drop a child from every count.
            given = pl.col(column).str.strip_chars()
            partial = given.str.contains(PARTIAL) if column in PARTIAL_DATES.get(name, ()) else pl.lit(False)
            unread = out.filter(given.ne("") & typed[column].is_null() & ~partial)
            if unread.height:
                first = unread.row(0, named=True)
                # The value is a child's (a date of birth, a postcode's distance): name where, never what.
                raise InvalidInput(
                    f"SSDA903 table {name}, row {first['_row'] + 1}: {column} is not a "
                    f"{'date dd/mm/yyyy' if typed.schema[column] == pl.Date else 'number'}"
                    f" ({unread.height} such cells)"
                )
    return typed


def prepare(tables: Mapping[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Check each given table's columns and type its dates and codes; tables not given are left out."""
    unknown = sorted(set(tables) - set(COLUMNS))
    if unknown:
        raise InvalidInput(f"not SSDA903 tables: {', '.join(unknown)}")
    if "Episodes" not in tables:
        raise InvalidInput("the SSDA903 Episodes table is needed")
    return {name: _typed(name, frame) for name, frame in tables.items()}


def read_csv_tables(folder: Path) -> dict[str, pl.DataFrame]:
    """Read whichever of the SSDA903 CSV files (named as in :data:`CSV_NAMES`) a folder holds, every cell as text."""
    found: dict[str, pl.DataFrame] = {}
    for name, file_name in CSV_NAMES.items():
        path = folder / file_name
        if path.is_file():
            found[name] = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    return found
