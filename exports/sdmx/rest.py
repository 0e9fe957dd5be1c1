"""SDMX REST 2.1 messages: the structures of every return's dataflow, and data in SDMX-ML or SDMX-CSV.

The structures here do not depend on a period, so a statistical client can discover them once:
one dataflow per return (``DF_<RETURN>``), its data structure (``DSD_<RETURN>``) with the
dimensions of :mod:`exports.sdmx.ml` (``FIELD``, ``REF_AREA``, ``TIME_PERIOD``,
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
from xml.etree.ElementTree import _escape_attrib as _quoted  # type: ignore[attr-defined]

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
    dataflow,
    datastructure,
    el,
    flow_id,
    header,
    id_part,
    serialise,
)
from exports.sdmx.writer import SDMX_CSV_COLUMNS

DataKind = Literal["generic", "structurespecific", "csv"]

_GENERIC = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic"
_SS = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
SERIES_DIMENSIONS: tuple[str, ...] = tuple(d for d in DIMENSIONS if d != "TIME_PERIOD")


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
        base = id_part(self.return_id)
        return {"FIELD": f"CL_{base}_FIELD", "REF_AREA": f"CL_{base}_REF_AREA"}

    def codelists(self) -> list[Codelist]:
        """Return the flow's own code lists (fields and areas)."""
        names = self.codelist_ids()
        field_ids = code_ids([code for code, _ in self.fields])
        area_ids = code_ids([code for code, _ in self.areas])
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


def catalogue_codelist(list_id: str, title: str, codes: Sequence[tuple[str, str]]) -> Codelist:
    """Turn one of the catalogue's code lists (breakdown codes) into an SDMX code list."""
    ids = code_ids([code for code, _ in codes])
    return Codelist("CL_" + id_part(list_id), title, [(ids[c], label, "" if ids[c] == c else c) for c, label in codes])


# --- structure messages --------------------------------------------------------------------------


def structure_message(
    *,
    dataflows: Iterable[Flow] = (),
    codelists: Iterable[Codelist] = (),
    concepts: bool = False,
    datastructures: Iterable[Flow] = (),
    prepared: datetime,
) -> bytes:
    """Write an SDMX-ML 2.1 structure message holding the given dataflows, code lists, concepts and structures."""
    root = ET.Element("message:Structure", dict(NAMESPACES))
    header(root, "ONERETURN_STRUCTURE", prepared)
    structures = el(root, "message:Structures")
    # Element order follows the SDMX-ML 2.1 schema: Dataflows, Codelists, Concepts, DataStructures.
    flows = list(dataflows)
    if flows:
        parent = el(structures, "structure:Dataflows")
        for flow in flows:
            dataflow(parent, flow.id, flow.dsd_id, flow.title, f"{flow.title}, sent to {flow.recipient}")
    lists = list({c.id: c for c in codelists}.values())
    if lists:
        parent = el(structures, "structure:Codelists")
        for listed in sorted(lists, key=lambda c: c.id):
            codelist(parent, listed)
    if concepts:
        concept_scheme(structures)
    dsds = list(datastructures)
    if dsds:
        parent = el(structures, "structure:DataStructures")
        for flow in dsds:
            datastructure(parent, flow.dsd_id, flow.title, flow.codelist_ids())
    return serialise(root)


# --- data messages -------------------------------------------------------------------------------


def data_rows(sdmx_csv: bytes) -> list[dict[str, str]]:
    """Return the observations of a built return's SDMX-CSV (as ``write_sdmx_csv`` wrote it), one dict per row."""
    reader = csv.DictReader(io.StringIO(sdmx_csv.decode("utf-8"), newline=""))
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
        root = ET.Element("message:GenericData", {**NAMESPACES, "xmlns:generic": _GENERIC})
    else:
        root = ET.Element(
            "message:StructureSpecificData",
            {**NAMESPACES, "xmlns:ss": _SS, "xmlns:xsi": _XSI, "xmlns:ns1": ss_namespace},
        )
    message_header = header(root, f"{flow.id}_DATA", prepared)
    structure_attrs = {"structureID": structure_id, "dimensionAtObservation": dimension_at_observation}
    if kind == "structurespecific":
        structure_attrs["namespace"] = ss_namespace
    structure = el(message_header, "message:Structure", **structure_attrs)
    el(el(structure, "common:Structure"), "Ref", agencyID=AGENCY, id=flow.dsd_id, version=VERSION)
    if kind == "generic":
        dataset = el(root, "message:DataSet", structureRef=structure_id, action="Information")
        lines = _generic(rows, series)
    else:
        dataset = el(
            root,
            "message:DataSet",
            **{
                "ss:structureRef": structure_id,
                "xsi:type": "ns1:DataSetType",
                "ss:dataScope": "DataStructure",
                "action": "Information",
            },
        )
        lines = _structure_specific(rows, series)
    if not lines:
        return serialise(root)
    # The observations are written as text, as ElementTree indents and quotes them, where the dataset's place is
    # held by a mark no ID or period can hold: its elements cost four times what the lines do.
    dataset.text = _PLACE
    head, tail = serialise(root).split(_PLACE.encode(), 1)
    return b"".join((head, b"\n", "\n".join(lines).encode(), b"\n  ", tail))


def _attributes(row: dict[str, str]) -> list[tuple[str, str]]:
    # An empty attribute is not sent; SDMX-ML has no empty attribute value.
    return [(a, row[a]) for a in ATTRIBUTES if row.get(a)]


def _grouped(rows: Sequence[dict[str, str]]) -> dict[tuple[str, ...], list[dict[str, str]]]:
    groups: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[d] for d in SERIES_DIMENSIONS), []).append(row)
    return groups


#: Where the dataset's observations go in the serialised message (invisible separators: no ID, code or period has one).
_PLACE = "\u2063observations\u2063"


def _tag(name: str, attrs: Iterable[tuple[str, str]], close: str = " />") -> str:
    """An element's start (or whole empty element), its attributes quoted as ElementTree quotes them."""
    return "<" + name + "".join(f' {key}="{_quoted(value)}"' for key, value in attrs) + close


def _generic(rows: Sequence[dict[str, str]], series: bool) -> list[str]:
    out: list[str] = []

    def obs(row: dict[str, str], pad: str) -> None:
        out.append(pad + "<generic:Obs>")
        if series:
            out.append(pad + "  " + _tag("generic:ObsDimension", [("value", row["TIME_PERIOD"])]))
        else:
            out.append(pad + "  <generic:ObsKey>")
            out.extend(pad + "    " + _tag("generic:Value", [("id", d), ("value", row[d])]) for d in DIMENSIONS)
            out.append(pad + "  </generic:ObsKey>")
        out.append(pad + "  " + _tag("generic:ObsValue", [("value", row["OBS_VALUE"])]))
        attributes = _attributes(row)
        if attributes:
            out.append(pad + "  <generic:Attributes>")
            out.extend(pad + "    " + _tag("generic:Value", [("id", a), ("value", v)]) for a, v in attributes)
            out.append(pad + "  </generic:Attributes>")
        out.append(pad + "</generic:Obs>")

    if not series:
        for row in rows:
            obs(row, "    ")
        return out
    for key, members in _grouped(rows).items():
        out += ["    <generic:Series>", "      <generic:SeriesKey>"]
        values = zip(SERIES_DIMENSIONS, key, strict=True)
        out.extend("        " + _tag("generic:Value", [("id", d), ("value", v)]) for d, v in values)
        out.append("      </generic:SeriesKey>")
        for row in members:
            obs(row, "      ")
        out.append("    </generic:Series>")
    return out


def _structure_specific(rows: Sequence[dict[str, str]], series: bool) -> list[str]:
    def obs(row: dict[str, str], dims: Sequence[str], pad: str) -> str:
        return pad + _tag("Obs", [*((d, row[d]) for d in dims), ("OBS_VALUE", row["OBS_VALUE"]), *_attributes(row)])

    if not series:
        return [obs(row, DIMENSIONS, "    ") for row in rows]
    out: list[str] = []
    for key, members in _grouped(rows).items():
        out.append("    " + _tag("Series", zip(SERIES_DIMENSIONS, key, strict=True), ">"))
        out.extend(obs(row, ("TIME_PERIOD",), "      ") for row in members)
        out.append("    </Series>")
    return out


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
