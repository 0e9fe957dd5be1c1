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

import csv
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from exports._common import cell_rows, fields_by_code, number_text, provenance_by_cell
from exports.built import BuiltReturn
from exports.csv_writer import neutralise
from indicators.periods import Period, parse_period
from onereturn.errors import InvalidInput

AGENCY = "ONERETURN"
VERSION = "1.0"
TOTAL_CODE = "_T"

DIMENSIONS: tuple[str, ...] = ("FIELD", "REF_AREA", "TIME_PERIOD", "BREAKDOWN")
ATTRIBUTES: tuple[str, ...] = (
    "REF_DATE",
    "OBS_STATUS",
    "CONF_STATUS",
    "UNIT_MEASURE",
    "UNIT_MULT",
    "DECIMALS",
    "COMMENT_OBS",
    "PROVENANCE",
)
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
_OBS_STATUS_NAMES: dict[str, str] = {
    "A": "Normal value",
    "P": "Provisional value",
    "U": "Low reliability",
    "D": "Definition differs",
    "L": "Missing value; data exist but were not collected",
    "O": "Missing value",
    "Q": "Missing value; suppressed",
}
_CONF_STATUS_NAMES: dict[str, str] = {
    "C": "Confidential statistical information",
    "F": "Free",
    "N": "Not for publication, restricted for internal use only",
}
_UNIT_MULT_NAMES: dict[str, str] = {"0": "Units"}

_CONCEPTS: dict[str, tuple[str, str]] = {
    "FIELD": ("Return field", "The return's own cell or column code, mapped to one indicator."),
    "REF_AREA": ("Reference area", "The organisation or area the figure is for (its official code)."),
    "TIME_PERIOD": ("Time period", "The return's period, the same for every observation."),
    "REF_DATE": ("Reference date", "The date a snapshot figure was taken at, when the figure is for a date."),
    "BREAKDOWN": ("Breakdown", "The canonical breakdown key (dimension=code pairs); _T for the total."),
    "OBS_VALUE": ("Observation value", "The figure after conversion, roll-up, scale and rounding."),
    "OBS_STATUS": ("Observation status", "Whether the value is normal, suppressed, missing or differs in definition."),
    "CONF_STATUS": (
        "Confidentiality status",
        "C when the value is withheld by small-number suppression; N while its body has not signed it off.",
    ),
    "UNIT_MEASURE": ("Unit of measure", "The unit the value is expressed in."),
    "UNIT_MULT": ("Unit multiplier", "Power of ten the value is multiplied by; always 0."),
    "DECIMALS": ("Decimals", "Number of decimal places the value is rounded to."),
    "COMMENT_OBS": ("Observation comment", "Why the cell is not a plain figure."),
    "PROVENANCE": ("Provenance", "The submissions and file rows the figure was made from."),
}

_NS = {
    "xmlns:message": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "xmlns:structure": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "xmlns:common": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
}
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")


def sdmx_ids(built: BuiltReturn) -> tuple[str, str, str]:
    """Return (agency id, dataflow id, version) of the return's SDMX dataflow."""
    return AGENCY, "DF_" + _id_part(built.return_id), VERSION


def _id_part(text: str) -> str:
    return _safe_id(text).upper()


def _safe_id(text: str) -> str:
    """Turn text into an SDMX ID: other characters become ``_``; a leading ``-`` gets ``_`` before it."""
    cleaned = _NOT_ID.sub("_", text) or "_"
    return "_" + cleaned if cleaned.startswith("-") else cleaned


def _code_ids(originals: list[str], reserved: dict[str, str] | None = None) -> dict[str, str]:
    """Give each original code a distinct SDMX ID, numbering the rare collisions in first-seen order."""
    ids = dict(reserved or {})
    taken = set(ids.values())
    for original in originals:
        if original in ids:
            continue
        base = _safe_id(original)
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        ids[original] = candidate
        taken.add(candidate)
    return ids


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
    cells = list(cell_rows(built))
    fields = [info.code for info in built.fields] + [c["field_code"] or "" for c in cells]
    areas = [c["org_code"] or "" for c in cells]
    breakdowns = [c["breakdown"] or "" for c in cells]
    return _Codes(
        field=_code_ids(fields),
        area=_code_ids(areas),
        breakdown=_code_ids(breakdowns, reserved={"": TOTAL_CODE}),
    )


def write_sdmx_csv(built: BuiltReturn) -> bytes:
    """Write the return as SDMX-CSV 2.0 against the dataflow described by :func:`sdmx_structure`."""
    agency, flow, version = sdmx_ids(built)
    structure_id = f"{agency}:{flow}({version})"
    codes = _codes(built)
    provenance = provenance_by_cell(built)
    time_period = sdmx_time_period(built.period)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(SDMX_CSV_COLUMNS)
    for cell in cell_rows(built):
        status = cell["status"] or ""
        value = number_text(cell["value"], cell["decimals"])
        writer.writerow(
            [
                "dataflow",
                structure_id,
                "I",
                codes.field[cell["field_code"] or ""],
                codes.area[cell["org_code"] or ""],
                time_period,
                codes.breakdown[cell["breakdown"] or ""],
                # SDMX spells an intentionally missing number "NaN"; an empty field would mean "not sent".
                value or "NaN",
                cell["ref_date"] or "",
                FLAG_STATUS.get(cell["flag"] or "", "") or OBS_STATUS.get(status, "A" if value else "O"),
                CONF_STATUS.get(status, "F"),
                neutralise(cell["unit"] or ""),
                "0",
                "" if cell["decimals"] is None else str(cell["decimals"]),
                neutralise(cell["reason"] or ""),
                provenance.get(cell["cell_id"], ""),
            ]
        )
    return buffer.getvalue().encode("utf-8")


# --- structure message -------------------------------------------------------------------------


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, tag, attrs)
    if text is not None:
        child.text = text
    return child


def _name(parent: ET.Element, name: str, description: str = "") -> None:
    _el(parent, "common:Name", name, **{"xml:lang": "en"})
    if description:
        _el(parent, "common:Description", description, **{"xml:lang": "en"})


def _urn(kind: str, ref: str) -> str:
    return f"urn:sdmx:org.sdmx.infomodel.{kind}={AGENCY}:{ref}"


def _concept_urn(concept: str) -> str:
    return _urn("conceptscheme.Concept", f"CS_ONERETURN({VERSION}).{concept}")


def concept_scheme(structures: ET.Element, *, agency: str = AGENCY, version: str = VERSION) -> None:
    """Write the service's one concept scheme (every dimension and attribute) into a structures element."""
    scheme = _el(
        _el(structures, "structure:Concepts"),
        "structure:ConceptScheme",
        id="CS_ONERETURN",
        agencyID=agency,
        version=version,
        urn=_urn("conceptscheme.ConceptScheme", f"CS_ONERETURN({VERSION})"),
    )
    _name(scheme, "onereturn concepts")
    for concept_id, (name, description) in _CONCEPTS.items():
        concept = _el(scheme, "structure:Concept", id=concept_id, urn=_concept_urn(concept_id))
        _name(concept, name, description)


def _codelist_urn(codelist: str) -> str:
    return _urn("codelist.Codelist", f"{codelist}({VERSION})")


def _codelist(
    parent: ET.Element, cl_id: str, name: str, codes: list[tuple[str, str, str]], *, partial: bool = False
) -> None:
    """Add a codelist; ``codes`` are (id, name, original spelling or "" when the ID is the spelling)."""
    attrs = {"id": cl_id, "agencyID": AGENCY, "version": VERSION}
    if partial:
        # Only the codes this return actually uses; the full list is the catalogue's.
        attrs["isPartial"] = "true"
    attrs["urn"] = _codelist_urn(cl_id)
    codelist = _el(parent, "structure:Codelist", **attrs)
    _name(codelist, name)
    for code_id, code_name, original in codes:
        code = _el(
            codelist, "structure:Code", id=code_id, urn=f"{_urn('codelist.Code', f'{cl_id}({VERSION})')}.{code_id}"
        )
        if original:
            annotation = _el(_el(code, "common:Annotations"), "common:Annotation")
            _el(annotation, "common:AnnotationTitle", original)
            _el(annotation, "common:AnnotationType", "ORIGINAL_CODE")
        _name(code, code_name)


def _enumeration(parent: ET.Element, codelist: str) -> None:
    rep = _el(parent, "structure:LocalRepresentation")
    _el(_el(rep, "structure:Enumeration"), "URN", _codelist_urn(codelist))


def _text_format(parent: ET.Element, text_type: str) -> None:
    _el(_el(parent, "structure:LocalRepresentation"), "structure:TextFormat", textType=text_type)


def _component(parent: ET.Element, tag: str, comp_id: str, **attrs: str) -> ET.Element:
    comp = _el(parent, tag, id=comp_id, **attrs)
    _el(_el(comp, "structure:ConceptIdentity"), "URN", _concept_urn(comp_id))
    return comp


def _return_codelists(built: BuiltReturn, parent: ET.Element, codes: _Codes) -> dict[str, str]:
    """Add the return's dimension codelists; return dimension id -> codelist id."""
    base = _id_part(built.return_id)
    fields = fields_by_code(built)
    names = {dim: f"CL_{base}_{dim}" for dim in ("FIELD", "REF_AREA", "BREAKDOWN")}
    org_names: dict[str, str] = {}
    for cell in cell_rows(built):
        org_names.setdefault(cell["org_code"] or "", cell["org_name"] or "")

    def spelled(original: str, code_id: str) -> str:
        return "" if original == code_id else original

    _codelist(
        parent,
        names["BREAKDOWN"],
        f"Breakdowns used in {built.title}",
        [(cid, orig or "Total", spelled(orig, cid)) for orig, cid in codes.breakdown.items()],
        partial=True,
    )
    _codelist(
        parent,
        names["FIELD"],
        f"Fields of {built.title}",
        [
            (cid, f"{orig}: {fields[orig].label}" if orig in fields else orig, spelled(orig, cid))
            for orig, cid in codes.field.items()
        ],
    )
    _codelist(
        parent,
        names["REF_AREA"],
        f"Organisations in {built.title}",
        [(cid, org_names.get(orig) or orig, spelled(orig, cid)) for orig, cid in codes.area.items()],
        partial=True,
    )
    return names


def _dsd(parent: ET.Element, dsd_id: str, title: str, codelists: dict[str, str]) -> None:
    dsd = _el(parent, "structure:DataStructure", id=dsd_id, agencyID=AGENCY, version=VERSION)
    _name(dsd, f"Data structure of {title}")
    components = _el(dsd, "structure:DataStructureComponents")
    dims = _el(components, "structure:DimensionList", id="DimensionDescriptor")
    for position, dim in enumerate(DIMENSIONS, start=1):
        if dim == "TIME_PERIOD":
            comp = _component(dims, "structure:TimeDimension", dim, position=str(position))
            _text_format(comp, "ObservationalTimePeriod")
        else:
            comp = _component(dims, "structure:Dimension", dim, position=str(position))
            _enumeration(comp, codelists[dim])
    attrs = _el(components, "structure:AttributeList", id="AttributeDescriptor")
    coded = {"OBS_STATUS": "CL_OBS_STATUS", "CONF_STATUS": "CL_CONF_STATUS", "UNIT_MULT": "CL_UNIT_MULT"}
    for attr in ATTRIBUTES:
        status = "Mandatory" if attr in ("OBS_STATUS", "CONF_STATUS", "UNIT_MULT") else "Conditional"
        comp = _component(attrs, "structure:Attribute", attr, assignmentStatus=status)
        if attr in coded:
            _enumeration(comp, coded[attr])
        else:
            _text_format(comp, "Integer" if attr == "DECIMALS" else "String")
        relationship = _el(comp, "structure:AttributeRelationship")
        _el(_el(relationship, "structure:PrimaryMeasure"), "Ref", id="OBS_VALUE")
    measures = _el(components, "structure:MeasureList", id="MeasureDescriptor")
    measure = _component(measures, "structure:PrimaryMeasure", "OBS_VALUE")
    _text_format(measure, "Double")


def sdmx_structure(built: BuiltReturn) -> bytes:
    """Write the SDMX-ML 2.1 structure message (codelists, concepts, DSD, dataflow) for the return."""
    agency, flow, version = sdmx_ids(built)
    dsd_id = "DSD_" + flow.removeprefix("DF_")
    codes = _codes(built)

    root = ET.Element("message:Structure", dict(_NS))
    header = _el(root, "message:Header")
    _el(header, "message:ID", f"{flow}_STRUCTURE")
    _el(header, "message:Test", "false")
    _el(header, "message:Prepared", built.generated_at.isoformat())
    _el(header, "message:Sender", id=agency)
    structures = _el(root, "message:Structures")

    # Element order follows the SDMX-ML 2.1 schema: Dataflows, Codelists, Concepts, DataStructures.
    dataflow = _el(
        _el(structures, "structure:Dataflows"), "structure:Dataflow", id=flow, agencyID=agency, version=version
    )
    _name(
        dataflow,
        built.title,
        f"{built.title} for {built.recipient}; catalogue version {built.catalogue_version}; suppression: {built.suppression}",
    )
    ref = _el(dataflow, "structure:Structure")
    _el(ref, "Ref", id=dsd_id, agencyID=agency, version=version, package="datastructure", **{"class": "DataStructure"})

    codelists = _el(structures, "structure:Codelists")
    _codelist(
        codelists, "CL_CONF_STATUS", "Confidentiality status (SDMX cross-domain subset)", _fixed(_CONF_STATUS_NAMES)
    )
    _codelist(codelists, "CL_OBS_STATUS", "Observation status (SDMX cross-domain subset)", _fixed(_OBS_STATUS_NAMES))
    _codelist(codelists, "CL_UNIT_MULT", "Unit multiplier (SDMX cross-domain subset)", _fixed(_UNIT_MULT_NAMES))
    dim_codelists = _return_codelists(built, codelists, codes)

    concept_scheme(structures, agency=agency, version=version)

    _dsd(_el(structures, "structure:DataStructures"), dsd_id, built.title, dim_codelists)

    ET.indent(root, space="  ")
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _fixed(names: dict[str, str]) -> list[tuple[str, str, str]]:
    return [(code, name, "") for code, name in names.items()]
