"""Read a publisher's file in its own format into figures keyed as the catalogue keys them.

EES tidy CSV (DfE's Explore Education Statistics, also how DfE republishes ONS's population estimates):
read as text with polars, its layout checked with pandera against what the source declares, every value
either a number or one of the publisher's symbols (a withheld value is never a number). The EES API's
``/query`` results (with ``/meta`` to name their ids) become the same columns and are read the same way.

Fingertips (OHID) is read in ``collectors.published.fingertips``, ViewIt in ``viewit``, LAIT in ``lait``.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from collectors.published.sources import FigureSpec, SourceSpec
from indicators.published_query import FIGURE_VALUES
from onereturn.checks import pa
from onereturn.errors import InvalidInput
from onereturn.listing import clip, columns_differ, error_kind

#: The figure columns, as the store's writer takes them.
FIGURE_SCHEMA = {**FIGURE_VALUES, "note": pl.String, "file_row": pl.Int64}
_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"


class PublishedFormatError(InvalidInput):
    """A publisher's file that does not match what its source declares: nothing of it is stored."""


#: The longest field a publisher's CSV may hold: the csv module's own default limit, far beyond any code, name or
#: number a publisher writes (DfE's longest are its indicator and filter labels, under 200 characters).
MAX_FIELD = 131_072


def read_csv_text(spec: SourceSpec, data: bytes, columns: list[str] | None = None) -> pl.DataFrame:
    """A publisher's CSV as text columns (every column, or only ``columns``), each row numbered as in the file, with
    its layout and row lengths checked before polars reads it (so a ragged row or an overlong field is named with
    its row, not polars' message)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PublishedFormatError(
            f"{spec.file}: not UTF-8 text ({exc.reason} at byte {exc.start:,}); nothing was stored"
        ) from exc
    _check_rows(spec, text)
    # The bytes as received, once they are known to be UTF-8: the same characters, without polars encoding the text
    # back (a copy of the whole file).
    body = data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data
    try:
        frame = pl.read_csv(body, infer_schema=False, columns=columns)
    except pl.exceptions.PolarsError as exc:
        raise PublishedFormatError(f"{spec.file}: not a CSV file ({error_kind(exc)}); nothing was stored") from exc
    # One chunk a column: polars panics on string columns read in several chunks beside the row numbers' one
    # (DfE's ks2_la.csv and absence_la.csv), and one chunk is what every later step reads fastest.
    frame = frame.with_row_index("file_row", offset=2).with_columns(pl.col("file_row").cast(pl.Int64)).rechunk()
    return frame


def read_ees_csv(spec: SourceSpec, data: bytes) -> tuple[pl.DataFrame, int]:
    """Read an EES tidy CSV into figures (FIGURE_SCHEMA) and the number of data rows read: every row checked (its
    fields, its year, time identifier and level), the figures read from the rows a figure reads (most of a DfE
    file is breakdowns no figure reads: care leavers' activity, 20,040 rows for 2,505 figures)."""
    frame = read_csv_text(spec, data, columns=_columns_read(spec))
    try:
        _schema(spec).validate(frame, lazy=True)
    except (pa.errors.SchemaError, pa.errors.SchemaErrors) as exc:
        raise PublishedFormatError(f"{spec.file}: rows do not have the declared layout: {_first_line(exc)}") from exc
    return every_figure(spec, frame.filter(read_by_a_figure(spec))), frame.height


def _columns_read(spec: SourceSpec) -> list[str]:
    """The file's columns an EES source reads (the layout's checks, each figure's filters, values, breakdowns and
    areas), in the file's order; the rest are checked as fields of their rows but never made into columns."""
    read = {spec.period_column, spec.level_column, *_schema(spec).columns, *spec.levels.values()}
    for fig in spec.figure:
        read |= {fig.value, *fig.where, *fig.breakdown}
        read |= {c for c in (fig.numerator, fig.denominator) if c}
    return [column for column in spec.columns if column in read]


def _first_line(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:6])[:600]


def _check_rows(spec: SourceSpec, text: str) -> None:
    """Check the header is the declared layout and every row has as many fields as the header, each of a bounded
    length; the first problem is refused naming its row (a file cut off mid-row, a stray comma, a damaged quote)."""
    if _plainly_regular(spec, text):
        return
    reader = csv.reader(io.StringIO(text))
    number, width = 0, 0
    try:
        for number, row in enumerate(reader, start=1):
            if number == 1:
                _check_columns(spec, row)
                width = len(row)
            elif row and len(row) != width:
                raise PublishedFormatError(
                    f"{spec.file} row {number}: {len(row)} field(s) where the header has {width} (a file cut off or "
                    "damaged); nothing was stored"
                )
    except csv.Error as exc:
        why = str(exc)
        if "field larger than field limit" in why:
            why = f"a field longer than {MAX_FIELD:,} characters, far beyond any value a publisher writes"
        raise PublishedFormatError(f"{spec.file} row {number + 1}: {clip(why)}; nothing was stored") from exc
    if number == 0:
        raise PublishedFormatError(f"{spec.file}: the file is empty; nothing was stored")


def _plainly_regular(spec: SourceSpec, text: str) -> bool:
    """Whether the file is plainly what ``_check_rows`` accepts, seen line by line: the declared header, no NUL, no
    line longer than a field may be, and every line as many fields as the header (its commas counted; a line with a
    quote read by the csv module, strictly, so a quoted field left open, which would run on to the next line, is no
    plain line). Anything else is read record by record, which names the first problem."""
    if not text or "\x00" in text:
        return False
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return False
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if max(map(len, lines)) > MAX_FIELD:
        return False
    quoted = [line for line in lines if '"' in line]
    try:
        header = next(csv.reader(lines[:1], strict=True), [])
        widths = {len(row) for row in csv.reader((line for line in quoted if line), strict=True)}
    except csv.Error:
        return False
    width = len(spec.columns)
    plain = {line.count(",") + 1 for line in lines[1:] if line and '"' not in line}
    return header == spec.columns and (widths | plain) <= {width}


def _check_columns(spec: SourceSpec, found: list[str]) -> None:
    if found == spec.columns:
        return
    raise PublishedFormatError(
        f"{spec.file}: the columns differ from what source {spec.id!r} declares "
        f"({columns_differ(spec.columns, found)}): a new release layout needs its source file updated; nothing was "
        "stored"
    )


def _schema(spec: SourceSpec) -> pa.DataFrameSchema:
    """The layout every row must have: a year, a known time identifier and geographic level."""
    return pa.DataFrameSchema(
        {
            "time_period": pa.Column(str, pa.Check.str_matches(r"^[0-9]{4}([0-9]{2})?$")),
            "time_identifier": pa.Column(str, pa.Check.isin(spec.time_identifiers)),
            "geographic_level": pa.Column(str),
        },
        strict=False,
    )


def value_of(spec: SourceSpec, column: str, prefix: str) -> list[pl.Expr]:
    """A column's number, or its symbol / flag when it holds one of the publisher's symbols."""
    raw = pl.col(column).str.strip_chars()
    symbol = raw.replace_strict(spec.symbols, default=None, return_dtype=pl.String)
    number = pl.when(raw.str.contains(_NUMBER)).then(raw.cast(pl.Float64, strict=False))
    return [number.alias(f"{prefix}value"), symbol.alias(f"{prefix}symbol"), raw.alias(f"{prefix}raw")]


def select_rows(spec: SourceSpec, fig: FigureSpec, frame: pl.DataFrame) -> pl.DataFrame:
    """The rows ``fig`` is read from: a declared geographic level (when the file names one), its filters held."""
    return frame.filter(_read_from(spec, fig, frame))


def _where(fig: FigureSpec) -> list[pl.Expr]:
    """Each of ``fig``'s filters, as text (a column not yet read as text, a publisher's parquet, compared alike)."""
    return [pl.col(column).cast(pl.String).fill_null("") == wanted for column, wanted in fig.where.items()]


def _read_from(spec: SourceSpec, fig: FigureSpec, frame: pl.DataFrame) -> pl.Expr:
    """Whether ``fig`` is read from a row (``_select_rows``)."""
    held = _where(fig)
    if spec.level_column in frame.columns:
        held.append(pl.col(spec.level_column).is_in(list(spec.levels)))
    return pl.all_horizontal(held) if held else pl.lit(True)


def read_by_a_figure(spec: SourceSpec) -> pl.Expr:
    """Whether any of the source's figures reads a row, by the figures' ``where`` filters alone (every row where a
    figure has none): a row it leaves out is one ``every_figure`` neither reads nor refuses."""
    if any(not fig.where for fig in spec.figure):
        return pl.lit(True)
    return pl.any_horizontal(pl.all_horizontal(_where(fig)) for fig in spec.figure)


def org_of(spec: SourceSpec, frame: pl.DataFrame) -> pl.Expr:
    if spec.level_column not in frame.columns:
        # A FingertipsNext API response names each area by its code alone.
        return pl.col(next(iter(spec.levels.values())))
    org = pl.lit(None, pl.String)
    for level, column in spec.levels.items():
        org = pl.when(pl.col(spec.level_column) == level).then(pl.col(column)).otherwise(org)
    return org


#: How each period rule's publisher text must look (a multi-year span such as Fingertips' ``2019 - 21`` fits none).
_PERIOD_TEXT = {
    "calendar_year": r"^[0-9]{4}$",
    "march_snapshot": r"^[0-9]{4}([0-9]{2})?$",
    "september_snapshot": r"^[0-9]{4}([0-9]{2})?$",
    "financial_year_ending": r"^[0-9]{4}([0-9]{2})?$",
    "financial_year_span": r"^[0-9]{4}/[0-9]{2}$",
    "academic_year_span": r"^[0-9]{4}/[0-9]{2}$",
    # EES writes an academic year as its two years run together (202425).
    "academic_year": r"^[0-9]{6}$",
    "academic_year_ending": r"^[0-9]{4}$",
    "winter_average": r"^[0-9]{4}$",
}


def period_of(spec: SourceSpec, fig: FigureSpec, rows: pl.DataFrame) -> pl.Expr:
    """The catalogue period of each row, refusing a publisher period the rule cannot read."""
    text = _period_text(spec)
    bad = rows.filter(~text.str.contains(_PERIOD_TEXT[fig.period]))
    if bad.height:
        first = bad.row(0, named=True)
        raise PublishedFormatError(
            f"{spec.file} row {first['file_row']}: {spec.period_column} {first[spec.period_column]!r} is not a "
            f"period {fig.indicator} can be read from (rule {fig.period}); nothing was stored"
        )
    if spec.first_year is not None:
        early = rows.filter(text.str.slice(0, 4).cast(pl.Int32) < spec.first_year)
        if early.height:
            first = early.row(0, named=True)
            raise PublishedFormatError(
                f"{spec.file} row {first['file_row']}: {spec.period_column} {first[spec.period_column]!r} is before "
                f"{spec.first_year}, the first year source {spec.id!r} is published for; {early.height} such row(s); "
                "nothing was stored"
            )
    return _period_expr(spec, fig)


def _period_text(spec: SourceSpec) -> pl.Expr:
    return pl.col(spec.period_column).fill_null("").str.strip_chars()


def _period_expr(spec: SourceSpec, fig: FigureSpec) -> pl.Expr:
    """The catalogue period of each row whose publisher period the rule reads (``period_of`` checks they all do)."""
    text = _period_text(spec)
    year = text.str.slice(0, 4).cast(pl.Int32)
    if fig.period == "calendar_year":
        return pl.format("CY{}", year)
    if fig.period == "march_snapshot":
        return pl.format("{}-03-31", year)
    if fig.period == "september_snapshot":
        return pl.format("{}-09-30", year)
    if fig.period == "financial_year_span":
        return pl.format("FY{}-{}", year, text.str.slice(5, 2))
    if fig.period == "academic_year_span":
        return pl.format("AY{}-{}", year, text.str.slice(5, 2))
    if fig.period == "academic_year":
        return pl.format("AY{}-{}", year, text.str.slice(4, 2))
    if fig.period == "academic_year_ending":
        return pl.format("AY{}-{}", year - 1, (year % 100).cast(pl.String).str.zfill(2))
    if fig.period == "winter_average":
        return pl.date(year, 3, 1).dt.offset_by("-1d").dt.strftime("%Y-%m-%d")
    return pl.format("FY{}-{}", year - 1, (year % 100).cast(pl.String).str.zfill(2))


def breakdown_of(spec: SourceSpec, fig: FigureSpec, rows: pl.DataFrame) -> pl.Expr:
    """Each row's breakdown key (``dim=code`` joined by ``;``, dimensions sorted), refusing an unlisted value."""
    for column, split in fig.breakdown.items():
        unknown = rows.filter(~pl.col(column).fill_null("").is_in(list(split.codes)))
        if unknown.height:
            first = unknown.row(0, named=True)
            raise PublishedFormatError(
                f"{spec.file} row {first['file_row']}: {column} {first[column]!r} is not one of the values source "
                f"{spec.id!r} declares for {fig.indicator} ({', '.join(split.codes)}): a new release layout needs its "
                "source file updated; nothing was stored"
            )
    return _breakdown_expr(fig)


def _breakdown_expr(fig: FigureSpec) -> pl.Expr:
    """Each row's breakdown key, for rows whose values the source lists (``breakdown_of`` checks they all are)."""
    parts: list[tuple[str, pl.Expr]] = []
    for column, split in fig.breakdown.items():
        code = pl.col(column).fill_null("").replace_strict(split.codes, default=None, return_dtype=pl.String)
        parts.append(
            (split.dimension, pl.when(code == "").then(None).otherwise(pl.format(f"{split.dimension}={{}}", code)))
        )
    if not parts:
        return pl.lit("")
    ordered = [expr for _, expr in sorted(parts, key=lambda p: p[0])]
    return pl.concat_str(ordered, separator=";", ignore_nulls=True).fill_null("")


def _figures(spec: SourceSpec, fig: FigureSpec, frame: pl.DataFrame) -> pl.DataFrame:
    rows = select_rows(spec, fig, frame)
    read = rows.select(*_read_columns(spec, fig, frame, period_of(spec, fig, rows), breakdown_of(spec, fig, rows)))
    bad = read.filter(pl.col("value").is_null() & pl.col("symbol").is_null())
    if bad.height:
        first = bad.row(0, named=True)
        raise PublishedFormatError(
            f"{spec.file} row {first['file_row']}: {fig.value} = {first['raw']!r} is neither a number nor one of "
            f"the publisher's symbols ({', '.join(spec.symbols) or 'none declared'}); {bad.height} such row(s); "
            "nothing was stored"
        )
    blank_org = read.filter(pl.col("org_code").is_null() | (pl.col("org_code") == ""))
    if blank_org.height:
        raise PublishedFormatError(
            f"{spec.file} row {blank_org['file_row'][0]}: no area code for its geographic level; nothing was stored"
        )
    return read.select(_shaped(fig)).cast(FIGURE_SCHEMA)  # type: ignore[arg-type]


def _read_columns(
    spec: SourceSpec, fig: FigureSpec, frame: pl.DataFrame, period: pl.Expr, breakdown: pl.Expr
) -> list[pl.Expr]:
    """The columns ``fig`` reads from each of its rows: the figure's key, its values and their raw text."""
    return [
        pl.lit(fig.indicator).alias("indicator_id"),
        org_of(spec, frame).alias("org_code"),
        period.alias("period"),
        breakdown.alias("breakdown"),
        *value_of(spec, fig.value, ""),
        pl.col("file_row"),
        *(value_of(spec, fig.numerator, "num_") if fig.numerator else []),
        *(value_of(spec, fig.denominator, "den_") if fig.denominator else []),
    ]


def _shaped(fig: FigureSpec) -> list[pl.Expr]:
    """The figure columns (FIGURE_SCHEMA) from what ``_read_columns`` read."""
    flag_only = pl.col("symbol") == "u"
    return [
        pl.col("indicator_id"),
        pl.col("org_code"),
        pl.col("period"),
        pl.col("breakdown"),
        pl.when(flag_only).then(None).otherwise(pl.col("value")).alias("value"),
        (pl.col("num_value") if fig.numerator else pl.lit(None, pl.Float64)).alias("numerator"),
        (pl.col("den_value") if fig.denominator else pl.lit(None, pl.Float64)).alias("denominator"),
        # A low-reliability mark alone is no number: the figure is not available, flagged as DfE flags it.
        pl.when(flag_only).then(pl.lit("x")).otherwise(pl.col("symbol")).alias("symbol"),
        pl.when(flag_only).then(pl.lit("u")).otherwise(None).alias("flag"),
        pl.lit("final").alias("status"),
        pl.lit(None, pl.String).alias("note"),
        pl.col("file_row"),
    ]


def every_figure(spec: SourceSpec, frame: pl.DataFrame) -> pl.DataFrame:
    """Every figure the source reads from an EES file's rows, in one pass over them where nothing in them is refused;
    otherwise figure by figure, as ``_figures`` reads them, which names the first refusal."""
    if not spec.figure:
        return pl.DataFrame(schema=FIGURE_SCHEMA)
    fast = _in_one_pass(spec, frame)
    if fast is not None:
        return fast
    return pl.concat([_figures(spec, fig, frame) for fig in spec.figure], how="vertical")


def _in_one_pass(spec: SourceSpec, frame: pl.DataFrame) -> pl.DataFrame | None:
    """Every figure read in one query, each row marked where any check ``_figures`` makes would refuse it; None when
    one would (or polars cannot read a value), so that ``_figures`` says which."""
    parts = []
    for fig in spec.figure:
        rows = frame.lazy().filter(_read_from(spec, fig, frame))
        text = _period_text(spec)
        refused = [~text.str.contains(_PERIOD_TEXT[fig.period])]
        if spec.first_year is not None:
            refused.append(text.str.slice(0, 4).cast(pl.Int32, strict=False) < spec.first_year)
        refused += [~pl.col(column).fill_null("").is_in(list(split.codes)) for column, split in fig.breakdown.items()]
        read = rows.with_columns(pl.any_horizontal(refused).fill_null(True).alias("_refused")).select(
            *_read_columns(spec, fig, frame, _period_expr(spec, fig), _breakdown_expr(fig)), "_refused"
        )
        refused_read = (
            pl.col("_refused")
            | (pl.col("value").is_null() & pl.col("symbol").is_null())
            | pl.col("org_code").is_null()
            | (pl.col("org_code") == "")
        )
        parts.append(read.select(*_shaped(fig), refused_read.alias("_refused")))
    try:
        every = pl.concat(parts, how="vertical").collect()
    except pl.exceptions.PolarsError:
        return None
    if every["_refused"].any():
        return None
    return every.drop("_refused").cast(FIGURE_SCHEMA)  # type: ignore[arg-type]


def json_of(spec: SourceSpec, data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PublishedFormatError(f"{spec.file}: not a JSON document ({clip(str(exc))}); nothing was stored") from exc
    except RecursionError as exc:  # arrays nested thousands deep: no publisher's answer is
        raise PublishedFormatError(f"{spec.file}: a JSON document nested too deep to read; nothing was stored") from exc


def layout_error(spec: SourceSpec, what: str) -> PublishedFormatError:
    return PublishedFormatError(
        f"{spec.file}: {what}: the publisher's API answered in a layout source {spec.id!r} cannot read; "
        "nothing was stored"
    )


# --- EES API: /meta and /query ----------------------------------------------------------------------------------
#: EES API geographic level codes -> the level names its tidy CSV writes (DfE's eesyapi.R, ``geog_level_lookup``).
EES_LEVELS = {"NAT": "National", "REG": "Regional", "LA": "Local authority"}
#: EES API time period codes -> the CSV's ``time_identifier`` (eesyapi.R ``parse_time_codes``: AY, FY, CY; RY is
#: the reporting year DfE's children's social care tables use).
EES_TIME_CODES = {"RY": "Reporting year", "AY": "Academic year", "FY": "Financial year", "CY": "Calendar year"}
#: The CSV column of each EES API location level's code.
_EES_LOCATION_COLUMNS = {"NAT": "country_code", "REG": "region_code", "LA": "new_la_code"}


def read_ees_query_json(spec: SourceSpec, data: bytes) -> tuple[pl.DataFrame, int]:
    """Read an EES API answer into figures: ``{"meta": <GET /meta>, "results": [<POST /query results>]}``.

    ``/meta`` gives each filter, indicator and location its id and label; each ``/query`` result gives its
    ``timePeriod`` (``code``, ``period``), ``geographicLevel``, ``locations`` (level -> location id), ``filters``
    (filter id -> option id) and ``values`` (indicator id -> the value as text, DfE's symbols included), as DfE's
    API documentation and its R client eesyapi.R (``parse_api_dataset``) read them. The rows become the data set's
    tidy CSV columns, so the same source reads both.
    """
    doc = json_of(spec, data)
    try:
        meta, results = doc["meta"], doc["results"]
        filters = {f["id"]: (f["column"], {o["id"]: o["label"] for o in f["options"]}) for f in meta["filters"]}
        indicators = {i["id"]: i["column"] for i in meta["indicators"]}
        locations = {
            (level["level"]["code"], o["id"]): o.get("code") or o.get("oldCode") or ""
            for level in meta["locations"]
            for o in level["options"]
        }
    except (KeyError, TypeError) as exc:
        raise layout_error(spec, f"the EES /meta answer is not as expected ({error_kind(exc)})") from exc
    known = {"time_period", "time_identifier", "geographic_level", *_EES_LOCATION_COLUMNS.values()}
    known |= {column for column, _ in filters.values()} | set(indicators.values())
    needed = {c for fig in spec.figure for c in (fig.value, fig.numerator, fig.denominator, *fig.where, *fig.breakdown)}
    missing = sorted(c for c in needed if c and c not in known)
    if missing:
        raise PublishedFormatError(
            f"{spec.file}: the EES data set has no column {', '.join(missing)} that source {spec.id!r} reads: a new "
            "release layout needs its source file updated; nothing was stored"
        )
    rows: list[dict[str, str | None]] = []
    for number, result in enumerate(results, start=1):
        try:
            level = result["geographicLevel"]
            code = result["timePeriod"]["code"]
            row: dict[str, str | None] = {
                "time_period": str(result["timePeriod"]["period"]).replace("/", ""),
                "time_identifier": EES_TIME_CODES.get(code, code),
                "geographic_level": EES_LEVELS.get(level, level),
            }
            for loc_level, loc_id in result["locations"].items():
                column = _EES_LOCATION_COLUMNS.get(loc_level)
                if column is not None:
                    row[column] = locations.get((loc_level, loc_id))
            for filter_id, option_id in result["filters"].items():
                column, options = filters[filter_id]
                row[column] = options[option_id]
            for indicator_id, value in result["values"].items():
                row[indicators[indicator_id]] = None if value is None else str(value)
        except (KeyError, TypeError, AttributeError) as exc:
            raise layout_error(
                spec,
                f"query result {number} is not as expected ({error_kind(exc)}, or it names an id /meta does not give)",
            ) from exc
        rows.append(row)
    columns = sorted(known)
    frame = (
        pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")
        if rows
        else pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    )
    frame = frame.with_row_index("file_row", offset=1).with_columns(pl.col("file_row").cast(pl.Int64))
    try:
        _schema(spec).validate(frame, lazy=True)
    except (pa.errors.SchemaError, pa.errors.SchemaErrors) as exc:
        raise PublishedFormatError(f"{spec.file}: results do not have the declared layout: {_first_line(exc)}") from exc
    return every_figure(spec, frame), frame.height


#: An area's code from its name and a catalogue period (``LookupError`` naming what was found otherwise).
AreaLookup = Callable[[str, str], str]
#: A reader of a publisher's file: its figures (FIGURE_SCHEMA) and the rows read; ``areas`` resolves an area's
#: name for a format that names areas rather than coding them.
Reader = Callable[[SourceSpec, bytes, AreaLookup], tuple[pl.DataFrame, int]]


def coded(read: Callable[[SourceSpec, bytes], tuple[pl.DataFrame, int]]) -> Reader:
    """A reader of a format whose rows carry area codes: it asks no area by name."""

    def reader(spec: SourceSpec, data: bytes, _areas: AreaLookup) -> tuple[pl.DataFrame, int]:
        return read(spec, data)

    return reader


@dataclass(frozen=True)
class FormatReader:
    """One format a publisher's data set may name: its name, and its reader of a CSV file and of the publisher's
    API answer (JSON); a format without a JSON reader reads every file as its CSV."""

    name: str
    csv: Reader
    json: Reader | None = None


#: EES's tidy CSV, or its API's answer (``/meta`` with ``/query`` results).
EES = FormatReader("ees_csv", csv=coded(read_ees_csv), json=coded(read_ees_query_json))
