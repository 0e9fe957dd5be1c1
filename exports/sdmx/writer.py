"""SDMX export: SDMX-CSV 2.0 data and the matching SDMX-ML 2.1 structure message.

Shape of the data (one dataflow per return, agency ``ONERETURN``, version ``1.0``):

* Dimensions ``FIELD`` (the return's field code), ``REF_AREA`` (org code), ``TIME_PERIOD`` and
  ``BREAKDOWN`` (``_T`` for the total, the SDMX convention; else the canonical breakdown key).
* Primary measure ``OBS_VALUE``: the figure with the field's decimals; ``NaN`` when the cell shows
  no number (suppressed, missing, not available ...), SDMX's spelling of an intentionally missing
  numeric value. Every cell is an observation, so its status and reason always travel.
* Observation-level attributes, each on the cross-domain concept of the same name where one exists:

  ``OBS_STATUS``   from SDMX's cross-domain CL_OBS_STATUS (2.2): ``A`` normal value (present),
                   ``Q`` missing value; suppressed (small-number suppression), ``O`` missing value
                   (missing, not derivable), ``L`` missing value; data exist but were not
                   collected (not available), ``D`` definition differs (different method).
  ``CONF_STATUS``  from CL_CONF_STATUS: ``C`` confidential for suppressed cells (primary and
                   secondary alike; COMMENT_OBS says which rule applied), ``N`` not for
                   publication for a cell its body has not signed off (OBS_STATUS ``O``, and
                   COMMENT_OBS names the body still to sign off), ``F`` free otherwise.
                   CL_OBS_STATUS has no "confidential" code, so confidentiality travels here.
  ``UNIT_MEASURE`` the field's unit as text (e.g. "percent", "per 10,000").
  ``UNIT_MULT``    always ``0``: values are stated in units of UNIT_MEASURE. A rate's "per
                   1,000" is part of the unit, not a power-of-ten multiplier.
  ``DECIMALS``     decimals the value is rounded to.
  ``COMMENT_OBS``  the cell's reason (why it is not a plain figure).
  ``PROVENANCE``   the submissions and file rows behind the cell, e.g.
                   ``submission 12 row 5; submission 13 row 9``.

SDMX identifiers allow letters, digits and ``_@$-`` (the SDMX ``IDType``, pattern
``[A-Za-z0-9_@$-]+`` as sdmx-dl's ``SdmxPatterns`` encodes it), so field codes and breakdown keys keep their ``-`` and have other
characters turned into ``_`` (``1.01`` -> ``1_01``, ``PRV-LEW-01`` stays, ``age=19-21;sex=F`` ->
``age_19-21_sex_F``); the structure message keeps the original spelling as each code's name and
in an ``ORIGINAL_CODE`` annotation. ``@`` and ``$`` are replaced, and an ID that would begin with
``-`` gets a leading ``_``, so no ID can start a spreadsheet formula.

TIME_PERIOD is one value for the whole return: the return's period in SDMX time syntax (SDMX 2.1
Section 6, Technical Notes, 4.2: calendar months and years as ``2024-06`` and ``2024``; a period
that is not a calendar one, such as a financial or academic year or quarter, as a distinct range
of start date and ISO 8601 duration, 4.2.7: ``FY2024-25`` -> ``2024-04-01/P1Y``,
``FY2024-25-Q1`` -> ``2024-04-01/P3M``). A figure taken at a date (a snapshot at 31 March) keeps
that date in its own attribute ``REF_DATE``, so one return never mixes two period spellings.

sdmx1 (the client regulators use) reads SDMX-CSV 2.x only and needs the structure; the tests
read both files back with it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import polars as pl

from exports._common import cell_rows, csv_text, fields_by_code, number_text
from exports.built import BuiltReturn
from exports.sdmx.ml import (
    AGENCY,
    ATTRIBUTES,
    DIMENSIONS,
    NAMESPACES,
    VERSION,
    Codelist,
    code_ids,
    codelist,
    concept_scheme,
    cross_domain_codelists,
    dataflow,
    datastructure,
    el,
    flow_id,
    header,
    id_part,
    serialise,
)
from indicators.periods import Period, parse_period
from onereturn.errors import InvalidInput
from onereturn.spreadsheet import neutralise_expr

TOTAL_CODE = "_T"

SDMX_CSV_COLUMNS: tuple[str, ...] = ("STRUCTURE", "STRUCTURE_ID", "ACTION", *DIMENSIONS, "OBS_VALUE", *ATTRIBUTES)

#: Cell status -> SDMX OBS_STATUS code (cross-domain CL_OBS_STATUS 2.2).
OBS_STATUS: dict[str, str] = {
    "present": "A",
    "suppressed": "Q",
    "missing": "O",
    "not_available": "L",
    "different_method": "D",
    "not_derivable": "O",
    "unsigned": "O",
}
#: Cell status -> SDMX CONF_STATUS code (CL_CONF_STATUS 1.2): ``C`` confidential for suppressed cells, ``N``
#: "not for publication, restricted for internal use only" for a figure its body has not signed off
#: (SDMX cross-domain code list CL_CONF_STATUS, https://sdmx.org/?page_id=3215; listed in the statcodelists
#: package, https://search.r-project.org/CRAN/refmans/statcodelists/html/CL_CONF_STATUS.html); ``F`` free otherwise.
CONF_STATUS: dict[str, str] = {"suppressed": "C", "unsigned": "N"}
#: A present value's flag -> OBS_STATUS: ``P`` provisional value, ``U`` low reliability (CL_OBS_STATUS 2.2).
FLAG_STATUS: dict[str, str] = {"p": "P", "u": "U"}


def sdmx_ids(built: BuiltReturn) -> tuple[str, str, str]:
    """Return (agency id, dataflow id, version) of the return's SDMX dataflow."""
    return AGENCY, flow_id(built.return_id), VERSION


def sdmx_time_period(period: str) -> str:
    """Spell a canonical period in SDMX time syntax (a time range where SDMX has no direct form)."""
    try:
        parsed = parse_period(period)
    except InvalidInput:
        return period  # already not ours to interpret; pass it through rather than lose it
    return _time_of(parsed)


def _time_of(period: Period) -> str:
    if period.type in ("month", "snapshot_date"):
        return period.code
    if period.type == "calendar_year":
        return f"{period.start.year:04d}"
    months = (period.end.year - period.start.year) * 12 + period.end.month - period.start.month + 1
    duration = f"P{months // 12}Y" if months % 12 == 0 else f"P{months}M"
    return f"{period.start.isoformat()}/{duration}"


@dataclass(frozen=True)
class _Codes:
    """The SDMX IDs of a return's dimension values, with the original spellings."""

    field: dict[str, str]
    area: dict[str, str]
    breakdown: dict[str, str]


def _codes(built: BuiltReturn) -> _Codes:
    cells = built.cells.select(pl.col("field_code", "org_code", "breakdown").fill_null(""))
    fields = [info.code for info in built.fields] + cells["field_code"].to_list()
    return _Codes(
        field=code_ids(fields),
        area=code_ids(cells["org_code"].to_list()),
        breakdown=code_ids(cells["breakdown"].to_list(), reserved={"": TOTAL_CODE}),
    )


def write_sdmx_csv(built: BuiltReturn) -> bytes:
    """Write the return as SDMX-CSV 2.0 against the dataflow described by :func:`sdmx_structure`."""
    agency, flow, version = sdmx_ids(built)
    codes = _codes(built)
    summary = built.lineage_summary.select("cell_id", "provenance")
    cells = built.cells
    # Each value spelled by the one function every writer shares, so the digits never differ between formats.
    values = [number_text(v, d) for v, d in zip(cells["value"].to_list(), cells["decimals"].to_list(), strict=True)]
    status = pl.col("status").fill_null("")
    has_value = pl.col("_value") != ""
    obs_status = pl.col("flag").fill_null("").replace_strict(FLAG_STATUS, default="")
    fallback = status.replace_strict(OBS_STATUS, default=None).fill_null(
        pl.when(has_value).then(pl.lit("A")).otherwise(pl.lit("O"))
    )
    rows = (
        cells.with_columns(pl.Series("_value", values, pl.String))
        .join(summary, on="cell_id", how="left", maintain_order="left")
        .select(
            pl.lit("dataflow").alias("STRUCTURE"),
            pl.lit(f"{agency}:{flow}({version})").alias("STRUCTURE_ID"),
            pl.lit("I").alias("ACTION"),
            pl.col("field_code").fill_null("").replace_strict(codes.field, return_dtype=pl.String).alias("FIELD"),
            pl.col("org_code").fill_null("").replace_strict(codes.area, return_dtype=pl.String).alias("REF_AREA"),
            pl.lit(sdmx_time_period(built.period)).alias("TIME_PERIOD"),
            pl.col("breakdown")
            .fill_null("")
            .replace_strict(codes.breakdown, return_dtype=pl.String)
            .alias("BREAKDOWN"),
            # SDMX spells an intentionally missing number "NaN"; an empty field would mean "not sent".
            pl.when(has_value).then(pl.col("_value")).otherwise(pl.lit("NaN")).alias("OBS_VALUE"),
            pl.col("ref_date").fill_null("").alias("REF_DATE"),
            pl.when(obs_status != "").then(obs_status).otherwise(fallback).alias("OBS_STATUS"),
            status.replace_strict(CONF_STATUS, default="F").alias("CONF_STATUS"),
            neutralise_expr(pl.col("unit").fill_null("")).alias("UNIT_MEASURE"),
            pl.lit("0").alias("UNIT_MULT"),
            pl.col("decimals").cast(pl.String).fill_null("").alias("DECIMALS"),
            neutralise_expr(pl.col("reason").fill_null("")).alias("COMMENT_OBS"),
            pl.col("provenance").fill_null("").alias("PROVENANCE"),
        )
    )
    return csv_text(rows.select(SDMX_CSV_COLUMNS))


# --- structure message -------------------------------------------------------------------------


def _return_codelists(built: BuiltReturn, parent: ET.Element, codes: _Codes) -> dict[str, str]:
    """Add the return's dimension codelists; return dimension id -> codelist id."""
    base = id_part(built.return_id)
    fields = fields_by_code(built)
    names = {dim: f"CL_{base}_{dim}" for dim in ("FIELD", "REF_AREA", "BREAKDOWN")}
    org_names: dict[str, str] = {}
    for cell in cell_rows(built):
        org_names.setdefault(cell["org_code"] or "", cell["org_name"] or "")

    def spelled(original: str, code_id: str) -> str:
        return "" if original == code_id else original

    # Only the breakdowns and areas this return uses (partial lists); every field of the return.
    breakdowns = [(cid, orig or "Total", spelled(orig, cid)) for orig, cid in codes.breakdown.items()]
    codelist(parent, Codelist(names["BREAKDOWN"], f"Breakdowns used in {built.title}", breakdowns, partial=True))
    field_codes = [
        (cid, f"{orig}: {fields[orig].label}" if orig in fields else orig, spelled(orig, cid))
        for orig, cid in codes.field.items()
    ]
    codelist(parent, Codelist(names["FIELD"], f"Fields of {built.title}", field_codes))
    areas = [(cid, org_names.get(orig) or orig, spelled(orig, cid)) for orig, cid in codes.area.items()]
    codelist(parent, Codelist(names["REF_AREA"], f"Organisations in {built.title}", areas, partial=True))
    return names


def sdmx_structure(built: BuiltReturn) -> bytes:
    """Write the SDMX-ML 2.1 structure message (codelists, concepts, DSD, dataflow) for the return."""
    agency, flow, version = sdmx_ids(built)
    dsd_id = "DSD_" + flow.removeprefix("DF_")
    codes = _codes(built)

    root = ET.Element("message:Structure", dict(NAMESPACES))
    header(root, f"{flow}_STRUCTURE", built.generated_at)
    structures = el(root, "message:Structures")

    # Element order follows the SDMX-ML 2.1 schema: Dataflows, Codelists, Concepts, DataStructures.
    description = (
        f"{built.title} for {built.recipient}; catalogue version {built.catalogue_version}; "
        f"suppression: {built.suppression}"
    )
    dataflow(el(structures, "structure:Dataflows"), flow, dsd_id, built.title, description)

    codelists = el(structures, "structure:Codelists")
    for listed in cross_domain_codelists():
        codelist(codelists, listed)
    dim_codelists = _return_codelists(built, codelists, codes)

    concept_scheme(structures, agency=agency, version=version)

    datastructure(el(structures, "structure:DataStructures"), dsd_id, built.title, dim_codelists)
    return serialise(root)
