"""Read an NDTMS ViewIt export (https://www.ndtms.net/ViewIt/Adult, "download data") into figures.

ViewIt writes one row per reporting period, area, sex, age group and drug group, one column per measure. It names
each area (``Barnet``, ``England``), never by its code: each name is resolved to the one area of the geography it
names in the row's period, in the store's geography (the one the intake checks figures against and the operator
refreshes), and a name that matches no area, or several, is refused, naming them. ``NULL`` is no figure (not
available); a local authority's counts are rounded by NDTMS to multiples of five, and each figure keeps a note
saying the rounding is the publisher's. The sex, age-group and drug-group columns are breakdowns,
each value mapped onto the catalogue's code lists by the source file; a value not listed is refused.
"""

from __future__ import annotations

from datetime import date

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors.published.read import (
    FIGURE_SCHEMA,
    AreaLookup,
    FormatReader,
    PublishedFormatError,
    breakdown_of,
    period_of,
    read_csv_text,
    value_of,
)
from collectors.published.sources import FigureSpec, SourceSpec
from indicators.periods import parse_period
from mappings.models import OrgUnit

#: The kinds of area NDTMS reports on: England, and the upper-tier councils whose partnerships commission
#: treatment (a shire district has none of its own, so a district's name never stands for an NDTMS area).
NDTMS_AREA_TYPES = frozenset({"england", "county", "unitary", "metropolitan_district", "london_borough"})


class WithoutGeography(LookupError):
    """An area name asked of no geography: the file was read without the store's (so no name is the reason)."""


#: Each area name (case folded) -> the areas of that name: code, name, valid from, valid to.
Areas = dict[str, list[tuple[str, str, date | None, date | None]]]


def store_areas(session: Session) -> Areas:
    """The areas NDTMS reports on, by name, as the store's geography holds them (the one the operator refreshes)."""
    named: Areas = {}
    units = session.execute(
        select(OrgUnit).where(col(OrgUnit.type).in_(NDTMS_AREA_TYPES)).order_by(col(OrgUnit.code))
    ).scalars()
    for unit in units:
        named.setdefault(unit.name.casefold().strip(), []).append(
            (unit.code, unit.name, unit.valid_from, unit.valid_to)
        )
    return named


def area_lookup(engine: Engine) -> AreaLookup:
    """Resolve area names against the store's geography, read once, when a file first names an area."""
    read: list[Areas] = []

    def lookup(name: str, period: str) -> str:
        if not read:
            with Session(engine) as session:
                read.append(store_areas(session))
        return resolve_area(read[0], name, period)

    return lookup


def resolve_area(areas: Areas, name: str, period: str) -> str:
    """The code of the one area called ``name`` in ``areas`` during ``period`` (a catalogue period code);
    raise ``LookupError`` naming what was found when no area or several are."""
    span = parse_period(period)
    units = areas.get(name.casefold().strip(), [])
    live = [u for u in units if (u[2] is None or u[2] <= span.end) and (u[3] is None or u[3] >= span.start)]
    if len(live) == 1:
        return live[0][0]
    if not live:
        others = f" (only outside {period}: {', '.join(u[0] for u in units)})" if units else ""
        raise LookupError(f"names no area of the geography in {period}{others}")
    raise LookupError(f"names several areas in {period}: {', '.join(f'{u[0]} {u[1]}' for u in live)}")


def _org_codes(spec: SourceSpec, fig: FigureSpec, rows: pl.DataFrame, areas: AreaLookup) -> pl.Series:
    """Each row's area code, resolved from its area name and period; refuse a name that names no area or several."""
    area = spec.levels[next(iter(spec.levels))]
    keyed = rows.select(
        pl.col(area).fill_null("").alias("_area"), period_of(spec, fig, rows).alias("_period"), "file_row"
    )
    codes: dict[tuple[str, str], str] = {}
    for name, period, row in keyed.unique(["_area", "_period"], keep="first", maintain_order=True).iter_rows():
        try:
            codes[(name, period)] = areas(name, period)
        except WithoutGeography as exc:
            raise PublishedFormatError(
                f"{spec.file}: its {area} column names areas, and the file was read without the store's geography; "
                "nothing was stored"
            ) from exc
        except LookupError as exc:
            raise PublishedFormatError(
                f"{spec.file} row {row}: its {area} names no one area of the store's geography; nothing was stored"
            ) from exc
    return pl.Series(
        "org_code", [codes[(n, p)] for n, p in zip(keyed["_area"], keyed["_period"], strict=True)], pl.String
    )


def _group(spec: SourceSpec, figs: list[FigureSpec], frame: pl.DataFrame, areas: AreaLookup) -> pl.DataFrame:
    """The figures of every one of ``figs`` (which share their filters, breakdowns and period rule), read in one
    pass: the rows' area, period and breakdown worked out once, then one row per figure and file row."""
    fig = figs[0]
    rows = frame
    for column, wanted in fig.where.items():
        rows = rows.filter(pl.col(column).fill_null("") == wanted)
    base = rows.select(
        period_of(spec, fig, rows).alias("period"), breakdown_of(spec, fig, rows).alias("breakdown"), "file_row"
    ).with_columns(_org_codes(spec, fig, rows, areas))
    columns = {f.value: f.indicator for f in figs}
    long = (
        pl.concat([base, rows.select(list(columns))], how="horizontal")
        .unpivot(index=["period", "breakdown", "file_row", "org_code"], variable_name="column", value_name="_raw")
        .with_columns(
            pl.col("column").replace_strict(columns, return_dtype=pl.String).alias("indicator_id"),
            *value_of(spec, "_raw", ""),
        )
    )
    bad = long.filter(pl.col("value").is_null() & pl.col("symbol").is_null())
    if bad.height:
        first = bad.row(0, named=True)
        raise PublishedFormatError(
            f"{spec.file} row {first['file_row']}: {first['column']} = {first['raw']!r} is neither a number nor one "
            f"of the publisher's symbols ({', '.join(spec.symbols)}); {bad.height} such cell(s); nothing was stored"
        )
    note = pl.lit(None, pl.String)
    if spec.rounded_to:
        off = long.filter(pl.col("value").is_not_null() & (pl.col("value") % spec.rounded_to != 0))
        if off.height:
            first = off.row(0, named=True)
            raise PublishedFormatError(
                f"{spec.file} row {first['file_row']}: {first['column']} = {first['raw']!r} is not a multiple of "
                f"{spec.rounded_to}, as the publisher rounds every count ({off.height} such cell(s)): another "
                "publication's file, or a changed method; nothing was stored"
            )
        note = pl.when(pl.col("value").is_not_null()).then(
            pl.lit(f"rounded by {spec.publisher_name} to a multiple of {spec.rounded_to}")
        )
    return long.select(
        "indicator_id",
        "org_code",
        "period",
        "breakdown",
        "value",
        pl.lit(None, pl.Float64).alias("numerator"),
        pl.lit(None, pl.Float64).alias("denominator"),
        "symbol",
        pl.lit(None, pl.String).alias("flag"),
        pl.lit("final").alias("status"),
        note.alias("note"),
        "file_row",
    ).cast(FIGURE_SCHEMA)  # type: ignore[arg-type]


def read_viewit_csv(spec: SourceSpec, data: bytes, areas: AreaLookup) -> tuple[pl.DataFrame, int]:
    """Read an NDTMS ViewIt export into figures (FIGURE_SCHEMA) and the number of data rows read, each area's
    name resolved by ``areas`` (the store's geography: ``area_lookup``)."""
    frame = read_csv_text(spec, data)
    groups: dict[str, list[FigureSpec]] = {}
    for fig in spec.figure:
        groups.setdefault(fig.model_dump_json(include={"where", "breakdown", "period"}), []).append(fig)
    parts = [_group(spec, figs, frame, areas) for figs in groups.values()]
    return pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=FIGURE_SCHEMA), frame.height


#: NDTMS's ViewIt export as a format a publisher's data set names (``format = "ndtms_viewit"``).
VIEWIT = FormatReader("ndtms_viewit", csv=read_viewit_csv)
