"""Read a publisher's file in its own format into figures keyed as the catalogue keys them.

EES tidy CSV (DfE's Explore Education Statistics, also how DfE republishes ONS's population estimates):
read as text with polars, its layout checked with pandera against what the source declares, every value
either a number or one of the publisher's symbols (a withheld value is never a number).
"""

from __future__ import annotations

import csv
import io

import pandera.polars as pa
import polars as pl

from collectors.published.sources import FigureSpec, SourceSpec
from onereturn.errors import InvalidInput

#: The figure columns, as the store's writer takes them.
FIGURE_SCHEMA = {
    "indicator_id": pl.String, "org_code": pl.String, "period": pl.String, "breakdown": pl.String,
    "value": pl.Float64, "numerator": pl.Float64, "denominator": pl.Float64, "symbol": pl.String,
    "flag": pl.String, "status": pl.String, "note": pl.String, "file_row": pl.Int64,
}  # fmt: skip
_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"


class PublishedFormatError(InvalidInput):
    """A publisher's file that does not match what its source declares: nothing of it is stored."""


def read_ees_csv(spec: SourceSpec, data: bytes) -> tuple[pl.DataFrame, int]:
    """Read an EES tidy CSV into figures (FIGURE_SCHEMA) and the number of data rows read."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PublishedFormatError(f"{spec.file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise PublishedFormatError(f"{spec.file}: not a CSV file ({exc})") from exc
    _check_columns(spec, frame.columns)
    _check_row_lengths(spec, text, len(frame.columns))
    frame = frame.with_row_index("file_row", offset=2).with_columns(pl.col("file_row").cast(pl.Int64))
    try:
        _schema(spec).validate(frame, lazy=True)
    except (pa.errors.SchemaError, pa.errors.SchemaErrors) as exc:
        raise PublishedFormatError(f"{spec.file}: rows do not have the declared layout: {_first_line(exc)}") from exc
    parts = [_figures(spec, fig, frame) for fig in spec.figure]
    return pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=FIGURE_SCHEMA), frame.height


def _first_line(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:6])[:600]


def _check_row_lengths(spec: SourceSpec, text: str, width: int) -> None:
    """Refuse a file with a row shorter or longer than its header (a file cut off mid-row, or a stray comma):
    polars would fill a short row with nulls, and a cut-off row could pass unnoticed."""
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if row and len(row) != width:
            raise PublishedFormatError(
                f"{spec.file} row {number}: {len(row)} field(s) where the header has {width} (a file cut off or "
                "damaged); nothing was stored"
            )


def _check_columns(spec: SourceSpec, found: list[str]) -> None:
    if found == spec.columns:
        return
    missing = [c for c in spec.columns if c not in found]
    extra = [c for c in found if c not in spec.columns]
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if extra:
        parts.append(f"new {', '.join(extra)}")
    if not parts:
        parts.append(f"the columns are in another order: {', '.join(found)}")
    raise PublishedFormatError(
        f"{spec.file}: the columns differ from what source {spec.id!r} declares ({'; '.join(parts)}): a new release "
        "layout needs its source file updated; nothing was stored"
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


def _value(spec: SourceSpec, column: str, prefix: str) -> list[pl.Expr]:
    """A column's number, or its symbol / flag when it holds one of the publisher's symbols."""
    raw = pl.col(column).str.strip_chars()
    symbol = raw.replace_strict(spec.symbols, default=None, return_dtype=pl.String)
    number = pl.when(raw.str.contains(_NUMBER)).then(raw.cast(pl.Float64, strict=False))
    return [number.alias(f"{prefix}value"), symbol.alias(f"{prefix}symbol"), raw.alias(f"{prefix}raw")]


def _figures(spec: SourceSpec, fig: FigureSpec, frame: pl.DataFrame) -> pl.DataFrame:
    rows = frame.filter(pl.col("geographic_level").is_in(list(spec.levels)))
    for column, wanted in fig.where.items():
        rows = rows.filter(pl.col(column) == wanted)
    org = pl.lit(None, pl.String)
    for level, column in spec.levels.items():
        org = pl.when(pl.col("geographic_level") == level).then(pl.col(column)).otherwise(org)
    year = pl.col("time_period").str.slice(0, 4).cast(pl.Int32)
    if fig.period == "calendar_year":
        period = pl.format("CY{}", year)
    elif fig.period == "march_snapshot":
        period = pl.format("{}-03-31", year)
    elif fig.period == "september_snapshot":
        period = pl.format("{}-09-30", year)
    else:
        period = pl.format("FY{}-{}", year - 1, (year % 100).cast(pl.String).str.zfill(2))
    read = rows.select(
        pl.lit(fig.indicator).alias("indicator_id"), org.alias("org_code"), period.alias("period"),
        pl.lit("").alias("breakdown"), *_value(spec, fig.value, ""), "file_row",
        *(_value(spec, fig.numerator, "num_") if fig.numerator else []),
        *(_value(spec, fig.denominator, "den_") if fig.denominator else []),
    )  # fmt: skip
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
    flag_only = pl.col("symbol") == "u"
    return read.select(
        "indicator_id",
        "org_code",
        "period",
        "breakdown",
        pl.when(flag_only).then(None).otherwise(pl.col("value")).alias("value"),
        (pl.col("num_value") if fig.numerator else pl.lit(None, pl.Float64)).alias("numerator"),
        (pl.col("den_value") if fig.denominator else pl.lit(None, pl.Float64)).alias("denominator"),
        # A low-reliability mark alone is no number: the figure is not available, flagged as DfE flags it.
        pl.when(flag_only).then(pl.lit("x")).otherwise(pl.col("symbol")).alias("symbol"),
        pl.when(flag_only).then(pl.lit("u")).otherwise(None).alias("flag"),
        pl.lit("final").alias("status"),
        pl.lit(None, pl.String).alias("note"),
        "file_row",
    ).cast(FIGURE_SCHEMA)  # type: ignore[arg-type]
