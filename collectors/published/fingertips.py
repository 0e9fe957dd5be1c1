"""OHID's Fingertips read into figures keyed as the catalogue keys them: its "all data" CSV, and the FingertipsNext
API's JSON, whose points become the CSV's columns; a row with no value takes the symbol its ``Value note`` stands for
and is never a number."""

from __future__ import annotations

from typing import Any

import polars as pl

from collectors.published.read import (
    FIGURE_SCHEMA,
    FormatReader,
    PublishedFormatError,
    breakdown_of,
    coded,
    json_of,
    layout_error,
    org_of,
    period_of,
    read_csv_text,
    select_rows,
)
from collectors.published.sources import SourceSpec
from onereturn.listing import error_kind

#: The Fingertips columns a figure is read from, as the "all data" CSV names them.
FINGERTIPS_KEY_COLUMNS = [
    "Indicator ID",
    "Area Code",
    "Area Type",
    "Sex",
    "Age",
    "Category Type",
    "Category",
    "Time period",
    "Value",
    "Count",
    "Denominator",
    "Value note",
]


def read_fingertips_csv(spec: SourceSpec, data: bytes) -> tuple[pl.DataFrame, int]:
    """Read Fingertips' "all data" CSV (``/api/all_data/csv/by_indicator_id``) into figures."""
    frame = read_csv_text(spec, data)
    return _fingertips(spec, frame), frame.height


def read_fingertips_json(spec: SourceSpec, data: bytes) -> tuple[pl.DataFrame, int]:
    """Read a FingertipsNext API answer (``GET /indicators/{id}/data``: ``IndicatorWithHealthDataForArea``) into
    figures; each health data point becomes a row in the "all data" CSV's columns, numbered in reading order."""
    doc = json_of(spec, data)
    answers = doc if isinstance(doc, list) else [doc]
    rows: list[dict[str, str | None]] = []
    try:
        for answer in answers:
            indicator = str(answer["indicatorId"])
            for area in answer["areaHealthData"]:
                segments = area.get("indicatorSegments")
                if segments is None:  # the layout before segments: points straight under the area
                    segments = [{"healthData": area["healthData"]}]
                for segment in segments:
                    for point in segment["healthData"]:
                        rows.append(_fingertips_point(indicator, area["areaCode"], segment, point))
    except (KeyError, TypeError, AttributeError) as exc:
        raise layout_error(spec, f"a FingertipsNext answer not as expected ({error_kind(exc)})") from exc
    needed = {c for fig in spec.figure for c in (fig.value, fig.numerator, fig.denominator, *fig.where, *fig.breakdown)}
    missing = sorted(c for c in needed if c and (c not in FINGERTIPS_KEY_COLUMNS or c == "Area Type"))
    if missing:
        raise layout_error(spec, f"the FingertipsNext API gives no {', '.join(missing)}, which the source reads")
    frame = pl.DataFrame(rows, schema=dict.fromkeys(FINGERTIPS_KEY_COLUMNS, pl.String), orient="row")
    frame = frame.drop("Area Type").with_row_index("file_row", offset=1).with_columns(pl.col("file_row").cast(pl.Int64))
    return _fingertips(spec, frame), frame.height


def _number_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"a number, not {value!r}")
    return repr(value)


def _fingertips_point(
    indicator: str, area: str, segment: dict[str, Any], point: dict[str, Any]
) -> dict[str, str | None]:
    """One FingertipsNext health data point as an "all data" CSV row (its period as Fingertips writes it)."""
    sex = (segment.get("sex") or point.get("sex") or {}).get("value", "Persons")
    age = (segment.get("age") or point.get("ageBand") or {}).get("value", "")
    deprivation = point.get("deprivation") or {}
    aggregate = deprivation.get("isAggregate", True)
    return {
        "Indicator ID": indicator,
        "Area Code": area,
        "Area Type": None,
        "Sex": sex,
        "Age": age,
        "Category Type": "" if aggregate else deprivation.get("type", ""),
        "Category": "" if aggregate else deprivation.get("value", ""),
        "Time period": _fingertips_period(point["datePeriod"]),
        "Value": _number_text(point.get("value")),
        "Count": _number_text(point.get("count")),
        "Denominator": _number_text(point.get("denominator")),
        "Value note": point.get("valueNote") or "",
    }


def _fingertips_period(period: dict[str, str]) -> str:
    """A FingertipsNext ``datePeriod`` as the "all data" CSV's ``Time period``: ``2012`` for a calendar year,
    ``2013/14`` for a financial or academic year; any other span is written ``from to`` and read by no rule."""
    start, end = period["from"], period["to"]
    first, last = int(start[:4]), int(end[:4])
    kind = period["type"]
    if kind == "Calendar" and start[5:] == "01-01" and end[5:] == "12-31" and first == last:
        return str(first)
    if kind in ("Financial", "Academic") and last == first + 1:
        return f"{first}/{last % 100:02d}"
    return f"{kind} {start} to {end}"


def _fingertips(spec: SourceSpec, frame: pl.DataFrame) -> pl.DataFrame:
    parts = []
    for fig in spec.figure:
        rows = select_rows(spec, fig, frame)
        value = pl.col(fig.value).fill_null("").str.strip_chars()
        number = value.cast(pl.Float64, strict=False)
        note = pl.col("Value note").fill_null("").str.strip_chars()
        bad = rows.filter((value != "") & number.is_null())
        if bad.height:
            first = bad.row(0, named=True)
            raise PublishedFormatError(
                f"{spec.file} row {first['file_row']}: {fig.value} = {first[fig.value]!r} is not a number; "
                f"{bad.height} such row(s); nothing was stored"
            )
        # A row with no value is never a number: the symbol its note stands for, else "not available".
        symbol = pl.when(value == "").then(note.replace_strict(spec.value_notes, default="x", return_dtype=pl.String))
        read = rows.select(
            pl.lit(fig.indicator).alias("indicator_id"),
            org_of(spec, frame).alias("org_code"),
            period_of(spec, fig, rows).alias("period"),
            breakdown_of(spec, fig, rows).alias("breakdown"),
            number.alias("value"),
            (pl.col(fig.numerator).cast(pl.Float64, strict=False) if fig.numerator else pl.lit(None, pl.Float64)).alias(
                "numerator"
            ),
            (
                pl.col(fig.denominator).cast(pl.Float64, strict=False) if fig.denominator else pl.lit(None, pl.Float64)
            ).alias("denominator"),
            symbol.alias("symbol"),
            pl.lit(None, pl.String).alias("flag"),
            pl.lit("final").alias("status"),
            pl.when(note == "").then(None).otherwise(note).alias("note"),
            "file_row",
        )
        blank_org = read.filter(pl.col("org_code").is_null() | (pl.col("org_code") == ""))
        if blank_org.height:
            raise PublishedFormatError(f"{spec.file} row {blank_org['file_row'][0]}: no area code; nothing was stored")
        parts.append(read.cast(FIGURE_SCHEMA))  # type: ignore[arg-type]
    return pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=FIGURE_SCHEMA)


#: OHID's Fingertips CSV, or a FingertipsNext ``/data`` answer.
FINGERTIPS = FormatReader("fingertips", csv=coded(read_fingertips_csv), json=coded(read_fingertips_json))
