"""SDMX REST 2.1 messages: the structures of every return's dataflow, and data in SDMX-ML or SDMX-CSV.

The structures here do not depend on a period, so a statistical client can discover them once:
one dataflow per return (``DF_<RETURN>``), its data structure (``DSD_<RETURN>``) with the
dimensions of :mod:`exports.sdmx_writer` (``FIELD``, ``REF_AREA``, ``TIME_PERIOD``,
``BREAKDOWN``), the return's field and area code lists, the cross-domain status code lists and the
catalogue's own code lists (sex, age bands ...). ``BREAKDOWN`` is a text dimension: its values are
the canonical breakdown keys (``_T`` for the total), whose codes come from the catalogue's lists.

Data messages are made from the rows the SDMX-CSV writer writes for a built return, so every
door speaks the same IDs, periods, values and attributes: SDMX-ML 2.1 generic or
structure-specific data (series by time, or every dimension on the observation), or SDMX-CSV.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from exports.built import BuiltReturn
from exports.sdmx_writer import (
    _CONF_STATUS_NAMES,
    _OBS_STATUS_NAMES,
    _UNIT_MULT_NAMES,
    AGENCY,
    ATTRIBUTES,
    DIMENSIONS,
    SDMX_CSV_COLUMNS,
    VERSION,
    _code_ids,
    _component,
    _el,
    _enumeration,
    _id_part,
    _name,
    _text_format,
    _urn,
    concept_scheme,
    write_sdmx_csv,
)

DataKind = Literal["generic", "structurespecific", "csv"]

_NS = {
    "xmlns:message": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "xmlns:structure": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "xmlns:common": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
}
_GENERIC = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic"
_SS = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: Attributes whose values come from a code list, and which must be sent for every observation.
_CODED = {"OBS_STATUS": "CL_OBS_STATUS", "CONF_STATUS": "CL_CONF_STATUS", "UNIT_MULT": "CL_UNIT_MULT"}
SERIES_DIMENSIONS: tuple[str, ...] = tuple(d for d in DIMENSIONS if d != "TIME_PERIOD")


def flow_id(return_id: str) -> str:
    """Return the dataflow ID of a return (as in its SDMX-CSV export)."""
    return "DF_" + _id_part(return_id)


@dataclass(frozen=True)
class Codelist:
    """One code list: its ID, name and codes as (SDMX ID, name, original spelling or "")."""

    id: str
    name: str
    codes: list[tuple[str, str, str]]
    partial: bool = False


@dataclass(frozen=True)
class Flow:
    """A return as an SDMX dataflow: its IDs, names and the codes of its field and area dimensions."""

    return_id: str
    title: str
    recipient: str
    fields: list[tuple[str, str]]  # (field code, label) in the return's order
    areas: list[tuple[str, str]]  # (org code, name)

    @property
    def id(self) -> str:
        """Return the dataflow ID."""
        return flow_id(self.return_id)

    @property
    def dsd_id(self) -> str:
        """Return the data structure's ID."""
        return "DSD_" + self.id.removeprefix("DF_")

    def codelist_ids(self) -> dict[str, str]:
        """Map each coded dimension to the ID of the flow's code list for it."""
        base = _id_part(self.return_id)
        return {"FIELD": f"CL_{base}_FIELD", "REF_AREA": f"CL_{base}_REF_AREA"}

    def codelists(self) -> list[Codelist]:
        """Return the flow's own code lists (fields and areas)."""
        names = self.codelist_ids()
        field_ids = _code_ids([code for code, _ in self.fields])
        area_ids = _code_ids([code for code, _ in self.areas])
        return [
            Codelist(
                names["FIELD"],
                f"Fields of {self.title}",
                [(field_ids[c], f"{c}: {label}", "" if field_ids[c] == c else c) for c, label in self.fields],
            ),
            Codelist(
                names["REF_AREA"],
                f"Organisations in {self.title}",
                [(area_ids[c], name or c, "" if area_ids[c] == c else c) for c, name in self.areas],
            ),
        ]


def cross_domain_codelists() -> list[Codelist]:
    """Return the subsets of SDMX's cross-domain code lists the attributes use."""
    return [
        Codelist("CL_CONF_STATUS", "Confidentiality status (SDMX cross-domain subset)", _fixed(_CONF_STATUS_NAMES)),
        Codelist("CL_OBS_STATUS", "Observation status (SDMX cross-domain subset)", _fixed(_OBS_STATUS_NAMES)),
        Codelist("CL_UNIT_MULT", "Unit multiplier (SDMX cross-domain subset)", _fixed(_UNIT_MULT_NAMES)),
    ]


def catalogue_codelist(list_id: str, title: str, codes: Sequence[tuple[str, str]]) -> Codelist:
    """Turn one of the catalogue's code lists (breakdown codes) into an SDMX code list."""
    ids = _code_ids([code for code, _ in codes])
    return Codelist("CL_" + _id_part(list_id), title, [(ids[c], label, "" if ids[c] == c else c) for c, label in codes])


def _fixed(names: dict[str, str]) -> list[tuple[str, str, str]]:
    return [(code, name, "") for code, name in names.items()]


# --- structure messages --------------------------------------------------------------------------


def _codelist(parent: ET.Element, codelist: Codelist) -> None:
    attrs = {"id": codelist.id, "agencyID": AGENCY, "version": VERSION}
    if codelist.partial:
        attrs["isPartial"] = "true"
    attrs["urn"] = _urn("codelist.Codelist", f"{codelist.id}({VERSION})")
    element = _el(parent, "structure:Codelist", **attrs)
    _name(element, codelist.name)
    for code_id, code_name, original in codelist.codes:
        code = _el(
            element,
            "structure:Code",
            id=code_id,
            urn=f"{_urn('codelist.Code', f'{codelist.id}({VERSION})')}.{code_id}",
        )
        if original:
            annotation = _el(_el(code, "common:Annotations"), "common:Annotation")
            _el(annotation, "common:AnnotationTitle", original)
            _el(annotation, "common:AnnotationType", "ORIGINAL_CODE")
        _name(code, code_name)


def _datastructure(parent: ET.Element, flow: Flow) -> None:
    dsd = _el(parent, "structure:DataStructure", id=flow.dsd_id, agencyID=AGENCY, version=VERSION)
    _name(dsd, f"Data structure of {flow.title}")
    components = _el(dsd, "structure:DataStructureComponents")
    dims = _el(components, "structure:DimensionList", id="DimensionDescriptor")
    lists = flow.codelist_ids()
    for position, dim in enumerate(DIMENSIONS, start=1):
        if dim == "TIME_PERIOD":
            comp = _component(dims, "structure:TimeDimension", dim, position=str(position))
            _text_format(comp, "ObservationalTimePeriod")
        else:
            comp = _component(dims, "structure:Dimension", dim, position=str(position))
            if dim in lists:
                _enumeration(comp, lists[dim])
            else:
                # Breakdown keys combine codes of several catalogue lists; they are text.
                _text_format(comp, "String")
    attrs = _el(components, "structure:AttributeList", id="AttributeDescriptor")
    for attr in ATTRIBUTES:
        status = "Mandatory" if attr in _CODED else "Conditional"
        comp = _component(attrs, "structure:Attribute", attr, assignmentStatus=status)
        if attr in _CODED:
            _enumeration(comp, _CODED[attr])
        else:
            _text_format(comp, "Integer" if attr == "DECIMALS" else "String")
        relationship = _el(comp, "structure:AttributeRelationship")
        _el(_el(relationship, "structure:PrimaryMeasure"), "Ref", id="OBS_VALUE")
    measures = _el(components, "structure:MeasureList", id="MeasureDescriptor")
    _text_format(_component(measures, "structure:PrimaryMeasure", "OBS_VALUE"), "Double")


def _dataflow(parent: ET.Element, flow: Flow) -> None:
    element = _el(parent, "structure:Dataflow", id=flow.id, agencyID=AGENCY, version=VERSION)
    _name(element, flow.title, f"{flow.title}, sent to {flow.recipient}")
    ref = _el(element, "structure:Structure")
    _el(
        ref,
        "Ref",
        id=flow.dsd_id,
        agencyID=AGENCY,
        version=VERSION,
        package="datastructure",
        **{"class": "DataStructure"},
    )


def _header(root: ET.Element, message_id: str, prepared: datetime) -> ET.Element:
    header = _el(root, "message:Header")
    _el(header, "message:ID", message_id)
    _el(header, "message:Test", "false")
    _el(header, "message:Prepared", prepared.isoformat())
    _el(header, "message:Sender", id=AGENCY)
    return header


def structure_message(
    *,
    dataflows: Iterable[Flow] = (),
    codelists: Iterable[Codelist] = (),
    concepts: bool = False,
    datastructures: Iterable[Flow] = (),
    prepared: datetime,
) -> bytes:
    """Write an SDMX-ML 2.1 structure message holding the given dataflows, code lists, concepts and structures."""
    root = ET.Element("message:Structure", dict(_NS))
    _header(root, "ONERETURN_STRUCTURE", prepared)
    structures = _el(root, "message:Structures")
    # Element order follows the SDMX-ML 2.1 schema: Dataflows, Codelists, Concepts, DataStructures.
    flows = list(dataflows)
    if flows:
        parent = _el(structures, "structure:Dataflows")
        for flow in flows:
            _dataflow(parent, flow)
    lists = list({c.id: c for c in codelists}.values())
    if lists:
        parent = _el(structures, "structure:Codelists")
        for codelist in sorted(lists, key=lambda c: c.id):
            _codelist(parent, codelist)
    if concepts:
        concept_scheme(structures)
    dsds = list(datastructures)
    if dsds:
        parent = _el(structures, "structure:DataStructures")
        for flow in dsds:
            _datastructure(parent, flow)
    return _serialise(root)


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


# --- data messages -------------------------------------------------------------------------------


def data_rows(built: BuiltReturn) -> list[dict[str, str]]:
    """Return the observations of a built return as the SDMX-CSV writer spells them (one dict per row)."""
    reader = csv.DictReader(io.StringIO(write_sdmx_csv(built).decode("utf-8"), newline=""))
    return list(reader)


def data_message(
    flow: Flow,
    rows: Sequence[dict[str, str]],
    *,
    kind: DataKind,
    dimension_at_observation: str = "TIME_PERIOD",
    prepared: datetime,
    csv_version: Literal["1.0.0", "2.0.0"] = "2.0.0",
) -> bytes:
    """Write observations of one dataflow as SDMX-ML 2.1 generic or structure-specific data, or SDMX-CSV."""
    if kind == "csv":
        return _csv(flow, rows, csv_version)
    series = dimension_at_observation != "AllDimensions"
    structure_id = f"{AGENCY}_{flow.dsd_id}_{VERSION.replace('.', '_')}"
    ss_namespace = (
        f"urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure={AGENCY}:{flow.dsd_id}({VERSION})"
        f":ObsLevelDim:{dimension_at_observation}"
    )
    if kind == "generic":
        root = ET.Element("message:GenericData", {**_NS, "xmlns:generic": _GENERIC})
    else:
        root = ET.Element(
            "message:StructureSpecificData", {**_NS, "xmlns:ss": _SS, "xmlns:xsi": _XSI, "xmlns:ns1": ss_namespace}
        )
    header = _header(root, f"{flow.id}_DATA", prepared)
    structure_attrs = {"structureID": structure_id, "dimensionAtObservation": dimension_at_observation}
    if kind == "structurespecific":
        structure_attrs["namespace"] = ss_namespace
    structure = _el(header, "message:Structure", **structure_attrs)
    _el(_el(structure, "common:Structure"), "Ref", agencyID=AGENCY, id=flow.dsd_id, version=VERSION)
    if kind == "generic":
        dataset = _el(root, "message:DataSet", structureRef=structure_id, action="Information")
        _generic(dataset, rows, series)
    else:
        dataset = _el(
            root,
            "message:DataSet",
            **{
                "ss:structureRef": structure_id,
                "xsi:type": "ns1:DataSetType",
                "ss:dataScope": "DataStructure",
                "action": "Information",
            },
        )
        _structure_specific(dataset, rows, series)
    return _serialise(root)


def _attributes(row: dict[str, str]) -> list[tuple[str, str]]:
    # An empty attribute is not sent; SDMX-ML has no empty attribute value.
    return [(a, row[a]) for a in ATTRIBUTES if row.get(a)]


def _grouped(rows: Sequence[dict[str, str]]) -> dict[tuple[str, ...], list[dict[str, str]]]:
    groups: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[d] for d in SERIES_DIMENSIONS), []).append(row)
    return groups


def _generic_obs(parent: ET.Element, row: dict[str, str], series: bool) -> None:
    obs = _el(parent, "generic:Obs")
    if series:
        _el(obs, "generic:ObsDimension", value=row["TIME_PERIOD"])
    else:
        key = _el(obs, "generic:ObsKey")
        for dim in DIMENSIONS:
            _el(key, "generic:Value", id=dim, value=row[dim])
    _el(obs, "generic:ObsValue", value=row["OBS_VALUE"])
    attributes = _attributes(row)
    if attributes:
        holder = _el(obs, "generic:Attributes")
        for attr, value in attributes:
            _el(holder, "generic:Value", id=attr, value=value)


def _generic(dataset: ET.Element, rows: Sequence[dict[str, str]], series: bool) -> None:
    if not series:
        for row in rows:
            _generic_obs(dataset, row, series=False)
        return
    for key, members in _grouped(rows).items():
        element = _el(dataset, "generic:Series")
        series_key = _el(element, "generic:SeriesKey")
        for dim, value in zip(SERIES_DIMENSIONS, key, strict=True):
            _el(series_key, "generic:Value", id=dim, value=value)
        for row in members:
            _generic_obs(element, row, series=True)


def _structure_specific(dataset: ET.Element, rows: Sequence[dict[str, str]], series: bool) -> None:
    def obs(parent: ET.Element, row: dict[str, str], dims: Sequence[str]) -> None:
        attrs = {d: row[d] for d in dims} | {"OBS_VALUE": row["OBS_VALUE"]} | dict(_attributes(row))
        _el(parent, "Obs", **attrs)

    if not series:
        for row in rows:
            obs(dataset, row, DIMENSIONS)
        return
    for key, members in _grouped(rows).items():
        element = _el(dataset, "Series", **dict(zip(SERIES_DIMENSIONS, key, strict=True)))
        for row in members:
            obs(element, row, ("TIME_PERIOD",))


def _csv(flow: Flow, rows: Sequence[dict[str, str]], version: str) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    if version == "2.0.0":
        writer.writerow(SDMX_CSV_COLUMNS)
        writer.writerows([row[c] for c in SDMX_CSV_COLUMNS] for row in rows)
    else:
        # SDMX-CSV 1.0: one DATAFLOW column in place of STRUCTURE, STRUCTURE_ID and ACTION.
        columns = [c for c in SDMX_CSV_COLUMNS if c not in ("STRUCTURE", "STRUCTURE_ID", "ACTION")]
        writer.writerow(["DATAFLOW", *columns])
        reference = f"{AGENCY}:{flow.id}({VERSION})"
        writer.writerows([reference, *(row[c] for c in columns)] for row in rows)
    return buffer.getvalue().encode("utf-8")
