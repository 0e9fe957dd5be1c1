"""What every SDMX door shares: the service's agency, version, dimensions and attributes, its SDMX IDs, and the
SDMX-ML 2.1 structure pieces (code lists, the concept scheme, a data structure, a dataflow, a message's header).

The return's SDMX export (:mod:`exports.sdmx.writer`) and the SDMX REST messages (:mod:`exports.sdmx.rest`) both
write through these, so a return's structure reads the same through either door.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime

AGENCY = "ONERETURN"
VERSION = "1.0"

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
#: Attributes whose values come from a code list, and which must be sent for every observation.
CODED: dict[str, str] = {"OBS_STATUS": "CL_OBS_STATUS", "CONF_STATUS": "CL_CONF_STATUS", "UNIT_MULT": "CL_UNIT_MULT"}

OBS_STATUS_NAMES: dict[str, str] = {
    "A": "Normal value",
    "P": "Provisional value",
    "U": "Low reliability",
    "D": "Definition differs",
    "L": "Missing value; data exist but were not collected",
    "O": "Missing value",
    "Q": "Missing value; suppressed",
}
CONF_STATUS_NAMES: dict[str, str] = {
    "C": "Confidential statistical information",
    "F": "Free",
    "N": "Not for publication, restricted for internal use only",
}
UNIT_MULT_NAMES: dict[str, str] = {"0": "Units"}

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

#: The namespaces of every SDMX-ML 2.1 message the service writes.
NAMESPACES = {
    "xmlns:message": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "xmlns:structure": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "xmlns:common": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
}
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")


# --- SDMX IDs ------------------------------------------------------------------------------------


def id_part(text: str) -> str:
    """Turn text into the upper-case SDMX ID part of a dataflow, structure or code list ID."""
    return safe_id(text).upper()


def safe_id(text: str) -> str:
    """Turn text into an SDMX ID: other characters become ``_``; a leading ``-`` gets ``_`` before it."""
    cleaned = _NOT_ID.sub("_", text) or "_"
    return "_" + cleaned if cleaned.startswith("-") else cleaned


def code_ids(originals: list[str], reserved: dict[str, str] | None = None) -> dict[str, str]:
    """Give each original code a distinct SDMX ID, numbering the rare collisions in first-seen order."""
    ids = dict(reserved or {})
    taken = set(ids.values())
    for original in originals:
        if original in ids:
            continue
        base = safe_id(original)
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        ids[original] = candidate
        taken.add(candidate)
    return ids


def flow_id(return_id: str) -> str:
    """Return the dataflow ID of a return (as in its SDMX-CSV export)."""
    return "DF_" + id_part(return_id)


# --- SDMX-ML elements ----------------------------------------------------------------------------


def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Add a child element with the given text and attributes."""
    child = ET.SubElement(parent, tag, attrs)
    if text is not None:
        child.text = text
    return child


def name(parent: ET.Element, title: str, description: str = "") -> None:
    """Add an English name (and description, when given) to a structure element."""
    el(parent, "common:Name", title, **{"xml:lang": "en"})
    if description:
        el(parent, "common:Description", description, **{"xml:lang": "en"})


def urn(kind: str, ref: str) -> str:
    """Return the URN of one of the service's structures."""
    return f"urn:sdmx:org.sdmx.infomodel.{kind}={AGENCY}:{ref}"


def _concept_urn(concept: str) -> str:
    return urn("conceptscheme.Concept", f"CS_ONERETURN({VERSION}).{concept}")


def _codelist_urn(codelist: str) -> str:
    return urn("codelist.Codelist", f"{codelist}({VERSION})")


def concept_scheme(structures: ET.Element, *, agency: str = AGENCY, version: str = VERSION) -> None:
    """Write the service's one concept scheme (every dimension and attribute) into a structures element."""
    scheme = el(
        el(structures, "structure:Concepts"),
        "structure:ConceptScheme",
        id="CS_ONERETURN",
        agencyID=agency,
        version=version,
        urn=urn("conceptscheme.ConceptScheme", f"CS_ONERETURN({VERSION})"),
    )
    name(scheme, "onereturn concepts")
    for concept_id, (title, description) in _CONCEPTS.items():
        concept = el(scheme, "structure:Concept", id=concept_id, urn=_concept_urn(concept_id))
        name(concept, title, description)


# --- code lists ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Codelist:
    """One code list: its ID, name and codes as (SDMX ID, name, original spelling or "")."""

    id: str
    name: str
    codes: list[tuple[str, str, str]]
    #: Only the codes in use (a return's areas and breakdowns); the full list is the catalogue's.
    partial: bool = False


def _fixed(names: dict[str, str]) -> list[tuple[str, str, str]]:
    return [(code, title, "") for code, title in names.items()]


def cross_domain_codelists() -> list[Codelist]:
    """Return the subsets of SDMX's cross-domain code lists the attributes use."""
    return [
        Codelist("CL_CONF_STATUS", "Confidentiality status (SDMX cross-domain subset)", _fixed(CONF_STATUS_NAMES)),
        Codelist("CL_OBS_STATUS", "Observation status (SDMX cross-domain subset)", _fixed(OBS_STATUS_NAMES)),
        Codelist("CL_UNIT_MULT", "Unit multiplier (SDMX cross-domain subset)", _fixed(UNIT_MULT_NAMES)),
    ]


def codelist(parent: ET.Element, listed: Codelist) -> None:
    """Add a code list, each code annotated with its original spelling where its ID differs from it."""
    attrs = {"id": listed.id, "agencyID": AGENCY, "version": VERSION}
    if listed.partial:
        attrs["isPartial"] = "true"
    attrs["urn"] = _codelist_urn(listed.id)
    element = el(parent, "structure:Codelist", **attrs)
    name(element, listed.name)
    for code_id, code_name, original in listed.codes:
        code = el(
            element,
            "structure:Code",
            id=code_id,
            urn=f"{urn('codelist.Code', f'{listed.id}({VERSION})')}.{code_id}",
        )
        if original:
            annotation = el(el(code, "common:Annotations"), "common:Annotation")
            el(annotation, "common:AnnotationTitle", original)
            el(annotation, "common:AnnotationType", "ORIGINAL_CODE")
        name(code, code_name)


# --- data structures, dataflows and messages -----------------------------------------------------


def _enumeration(parent: ET.Element, codelist_id: str) -> None:
    rep = el(parent, "structure:LocalRepresentation")
    el(el(rep, "structure:Enumeration"), "URN", _codelist_urn(codelist_id))


def _text_format(parent: ET.Element, text_type: str) -> None:
    el(el(parent, "structure:LocalRepresentation"), "structure:TextFormat", textType=text_type)


def _component(parent: ET.Element, tag: str, comp_id: str, **attrs: str) -> ET.Element:
    comp = el(parent, tag, id=comp_id, **attrs)
    el(el(comp, "structure:ConceptIdentity"), "URN", _concept_urn(comp_id))
    return comp


def datastructure(parent: ET.Element, dsd_id: str, title: str, codelists: dict[str, str]) -> None:
    """Add a data structure of the service's dimensions and attributes; ``codelists`` maps each coded dimension to
    its code list's ID (a dimension without one, such as breakdown keys combining several lists, is text)."""
    dsd = el(parent, "structure:DataStructure", id=dsd_id, agencyID=AGENCY, version=VERSION)
    name(dsd, f"Data structure of {title}")
    components = el(dsd, "structure:DataStructureComponents")
    dims = el(components, "structure:DimensionList", id="DimensionDescriptor")
    for position, dim in enumerate(DIMENSIONS, start=1):
        if dim == "TIME_PERIOD":
            comp = _component(dims, "structure:TimeDimension", dim, position=str(position))
            _text_format(comp, "ObservationalTimePeriod")
        else:
            comp = _component(dims, "structure:Dimension", dim, position=str(position))
            if dim in codelists:
                _enumeration(comp, codelists[dim])
            else:
                _text_format(comp, "String")
    attrs = el(components, "structure:AttributeList", id="AttributeDescriptor")
    for attr in ATTRIBUTES:
        status = "Mandatory" if attr in CODED else "Conditional"
        comp = _component(attrs, "structure:Attribute", attr, assignmentStatus=status)
        if attr in CODED:
            _enumeration(comp, CODED[attr])
        else:
            _text_format(comp, "Integer" if attr == "DECIMALS" else "String")
        relationship = el(comp, "structure:AttributeRelationship")
        el(el(relationship, "structure:PrimaryMeasure"), "Ref", id="OBS_VALUE")
    measures = el(components, "structure:MeasureList", id="MeasureDescriptor")
    _text_format(_component(measures, "structure:PrimaryMeasure", "OBS_VALUE"), "Double")


def dataflow(parent: ET.Element, flow: str, dsd_id: str, title: str, description: str) -> None:
    """Add a dataflow, named and described, referring to its data structure."""
    element = el(parent, "structure:Dataflow", id=flow, agencyID=AGENCY, version=VERSION)
    name(element, title, description)
    ref = el(element, "structure:Structure")
    el(ref, "Ref", id=dsd_id, agencyID=AGENCY, version=VERSION, package="datastructure", **{"class": "DataStructure"})


def header(root: ET.Element, message_id: str, prepared: datetime) -> ET.Element:
    """Add a message's header: its ID, prepared time and the service as sender."""
    element = el(root, "message:Header")
    el(element, "message:ID", message_id)
    el(element, "message:Test", "false")
    el(element, "message:Prepared", prepared.isoformat())
    el(element, "message:Sender", id=AGENCY)
    return element


def serialise(root: ET.Element) -> bytes:
    """Write a message as indented UTF-8 XML with its declaration."""
    ET.indent(root, space="  ")
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
