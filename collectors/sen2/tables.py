"""DfE's EHC plan tables made from a council's own SEN2 file, in DfE's own layout, before DfE publishes them.

Each table has the columns, in the order, of DfE's 2025 release of *Education, health and care plans*
(``collectors/sen2/dfe/columns.csv``, read from the release's CSVs; OGL v3, see ``dfe/SOURCE.md``) and the
council's rows: the table's total, by sex, age and ethnicity, and by the other topics DfE publishes for it (type of
placement, years the plan has been in place, age when it started, years it was held: ``breakdowns.py``), each row
labelled as DfE labels it and in DfE's order. What each figure counts is written beside it in
``collectors/sen2/measures.py``, citing DfE's data guidance for the release ([DG]); a choice the guidance leaves is
marked ``Reading:`` there and listed in ``docs/send.md``. A column that needs what the service does not hold (the
register of establishments, when none is loaded) is written ``x`` ("unavailable", DfE's own symbol, [DG] "File
formats and conventions") and named in the table's notes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

import polars as pl

from collectors.sen2.breakdowns import ETHNICITY_ROWS, Breakdown, dfe_order
from mappings.geography import dfe_la_number

FOLDER = Path(__file__).with_name("dfe")
#: The columns every table opens with, and what the council's row gives them.
IDENTITY = ("time_period", "time_identifier", "geographic_level", "country_code", "country_name", "region_code",
            "region_name", "new_la_code", "old_la_code", "la_name", "breakdown_topic", "breakdown")  # fmt: skip
UNAVAILABLE = "x"
#: What DfE writes for a percentage of nothing: "x", in every council row of its 2025 release where the denominator
#: is 0 (never [DG]'s "z - Not applicable"; e.g. 93 of 93 such cells of timeliness_20_week.csv for 2024).
NO_DENOMINATOR = "x"


@cache
def layout() -> dict[str, tuple[str, ...]]:
    """Each table's columns in DfE's order, as its 2025 release's CSV has them (DfE's own repeated column kept)."""
    out: dict[str, list[str]] = {}
    with (FOLDER / "columns.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["table"], []).append(row["column"])
    return {table: tuple(columns) for table, columns in out.items()}


@cache
def council_rows() -> dict[str, dict[str, str]]:
    """Each council's codes, name and region as DfE's 2025 release gives them, by its ONS code."""
    with (FOLDER / "councils.csv").open(encoding="utf-8", newline="") as f:
        return {row["new_la_code"]: row for row in csv.DictReader(f)}


def dfe_place(code: str, dfe: dict[str, dict[str, str]]) -> str:
    """The ONS code DfE's release lists the council of ``code`` under: itself, or for a council given a new code since
    (North Yorkshire's E06000065 is E10000023 in the 2025 release) the code of the same DfE number."""
    if code in dfe:
        return code
    number = dfe_la_number(code)
    return next((listed for listed, row in dfe.items() if number and row["old_la_code"] == number), code)


def age_label(style: str, age: int | None) -> str | None:
    """An age as the table's breakdown writes it (DfE's own labels, which differ between tables)."""
    if age is None:
        return None
    if style == "Aged":
        return "Aged 2 and under" if age <= 2 else "Aged 20 and over" if age >= 20 else f"Aged {age}"
    if style == "age":
        return "age 2 and under" if age <= 2 else "age 20 and over" if age >= 20 else f"age {age}"
    if style == "under 3":
        return "under 3" if age < 3 else f"age {age}"
    return "age 15 and under" if age <= 15 else "age 25 or over" if age >= 25 else f"age {age}"


@dataclass(frozen=True)
class Table:
    """One of DfE's tables: how its rows are labelled and each column's rule over the units it counts (a request, a
    plan, a placement ...: rows with ``sex`` and ``age`` columns)."""

    name: str
    academic: bool
    all_topic: str
    age_topic: str
    age_style: str
    #: Each counted column: an expression true for the units it counts.
    counts: dict[str, pl.Expr]
    #: Each percentage column: (numerator column, denominator column or columns summed).
    percents: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    #: Columns written as DfE writes them, with why (what the service does not hold), when they are not counted.
    fixed: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: The topics of rows beyond sex, age and ethnicity DfE publishes for the table.
    breakdowns: tuple[Breakdown, ...] = ()
    #: The age topic's row for a unit whose age is not known (DfE's "Age unknown", "Unknown" ...), or None.
    age_unknown: str | None = None
    #: What the table's notes say beyond the columns it cannot give (readings, establishments not found).
    said: tuple[str, ...] = ()

    def period(self, survey: int) -> str:
        """The table's ``time_period`` for a January census: the calendar year before it, or the academic year."""
        return f"{survey - 1}{survey % 100:02d}" if self.academic else str(survey - 1)

    def notes(self) -> list[str]:
        """What the file cannot give, column by column (no child in it)."""
        seen: dict[str, list[str]] = {}
        for column, (_, why) in self.fixed.items():
            seen.setdefault(why, []).append(column)
        return [f"{', '.join(columns)}: {why}" for why, columns in seen.items()] + list(self.said)


def _percent(numerator: int, denominator: int) -> str:
    if denominator == 0:
        return NO_DENOMINATOR
    # DfE's percentages are given to one decimal place, with no trailing zero (70, 18.5, 0).
    value = (Decimal(100 * numerator) / Decimal(denominator)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return format(value.normalize(), "f")


def _sex(value: object) -> tuple[str, ...]:
    # Reading: a sex SEN2 gives neither M nor F (a 2023 file's GenderCurrent 0 or 9) is DfE's "Unknown".
    return ({"F": "Female", "M": "Male"}.get(str(value), "Unknown"),)


def _ages(table: Table) -> Breakdown:
    def labels(value: object) -> tuple[str, ...]:
        if value is None:
            return (table.age_unknown,) if table.age_unknown else ()
        return (age_label(table.age_style, int(str(value))) or "",)

    return Breakdown(table.age_topic, "age", labels)


#: One row of a table: its topic, its breakdown and its counts by column.
Row = tuple[str, str, dict[str, int]]
#: The geographic levels DfE's release writes, with the identity columns a National row leaves blank.
NATIONAL = {"geographic_level": "National"} | dict.fromkeys(
    ("region_code", "region_name", "new_la_code", "old_la_code", "la_name"), ""
)


def regional(region_code: str, region_name: str) -> dict[str, str]:
    """A Regional row's identity columns, as DfE's release writes them (the council's columns blank)."""
    blank = dict.fromkeys(("new_la_code", "old_la_code", "la_name"), "")
    return {"geographic_level": "Regional", "region_code": region_code, "region_name": region_name} | blank


def counted_rows(table: Table, units: pl.DataFrame) -> list[Row]:
    """(topic, breakdown, the counts) for the total and every row of each topic with a unit in it, in DfE's order."""
    topics = [Breakdown("Sex", "sex", _sex), _ages(table), ETHNICITY_ROWS, *table.breakdowns]
    topics = [b for b in topics if b.column in units.columns]
    names = list(table.counts)
    counted = units.select(
        *dict.fromkeys(b.column for b in topics),
        *(expr.fill_null(False).cast(pl.Int64).alias(c) for c, expr in table.counts.items()),
    )
    out = [(table.all_topic, table.all_topic, {c: int(counted[c].sum()) for c in names})]
    for b in topics:
        grouped = counted.group_by(b.column).agg(pl.col(names).sum())
        # Several values share one label ("Aged 20 and over"), and a place counts in its group's total row too: each
        # is added into every row it belongs to, whatever order the groups come in.
        merged: dict[str, dict[str, int]] = {}
        for key, values in zip(grouped[b.column].to_list(), grouped.select(names).iter_rows(named=True), strict=True):
            for label in b.labels(key):
                into = merged.setdefault(label, dict.fromkeys(names, 0))
                for c in names:
                    into[c] += int(values[c])
        out += [(b.topic, label, counts) for label, counts in merged.items()]
    return sorted(out, key=lambda row: dfe_order(row[0], row[1]))


def added(parts: Iterable[list[Row]]) -> list[Row]:
    """Several councils' rows of one table added up, as DfE makes its National and Regional rows from the councils'
    ([DG]: the individual level data "aggregated to calculate national, regional and local authority totals"): each
    count the sum of the councils', a row wherever any council has one, in DfE's order."""
    summed: dict[tuple[str, str], dict[str, int]] = {}
    for rows in parts:
        for topic, breakdown, counts in rows:
            into = summed.setdefault((topic, breakdown), dict.fromkeys(counts, 0))
            for column, value in counts.items():
                into[column] += value
    return sorted(((t, b, c) for (t, b), c in summed.items()), key=lambda row: dfe_order(row[0], row[1]))


def write(table: Table, survey: int, blocks: Iterable[tuple[dict[str, str], list[Row]]]) -> str:
    """The table as DfE's CSV: its columns in DfE's order, then each block's rows under its identity (its geographic
    level and codes); each percentage worked out from the row's own counts (a ratio of sums for an added row)."""
    columns = layout()[table.name]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for identity, rows in blocks:
        fixed_identity = {
            "time_period": table.period(survey),
            "time_identifier": "Academic year" if table.academic else "Calendar year",
            "country_code": "E92000001",
            "country_name": "England",
            **identity,
        }
        for topic, breakdown, counts in rows:
            row = {**fixed_identity, "breakdown_topic": topic, "breakdown": breakdown}
            row |= {c: str(v) for c, v in counts.items()}
            row |= {c: value for c, (value, _) in table.fixed.items()}
            for column, (numerator, denominator) in table.percents.items():
                row[column] = _percent(counts[numerator], sum(counts[d] for d in denominator))
            writer.writerow([row[c] for c in columns])
    return buffer.getvalue()


def render(table: Table, units: pl.DataFrame, identity: dict[str, str], survey: int) -> str:
    """The table as DfE's CSV: its columns in DfE's order, the council's rows."""
    return write(table, survey, [({"geographic_level": "Local authority", **identity}, counted_rows(table, units))])
