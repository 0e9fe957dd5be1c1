"""Content negotiation for the SDMX door: which SDMX format an ``Accept`` header asks for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from exports.sdmx.rest import DataKind
from onereturn.errors import OneReturnError

GENERIC = "application/vnd.sdmx.genericdata+xml; version=2.1"
STRUCTURE_SPECIFIC = "application/vnd.sdmx.structurespecificdata+xml; version=2.1"
STRUCTURE = "application/vnd.sdmx.structure+xml; version=2.1"
CSV_V2 = "application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8"
CSV_V1 = "application/vnd.sdmx.data+csv; version=1.0.0; charset=utf-8"


class NotAcceptable(OneReturnError):
    """None of the media types the client accepts can be served."""

    status_code = 406
    error_type = "not_acceptable"


@dataclass(frozen=True)
class DataFormat:
    """The data message to write and its media type."""

    kind: DataKind
    media_type: str
    csv_version: Literal["1.0.0", "2.0.0"] = "2.0.0"


def _ranges(accept: str | None) -> list[tuple[str, dict[str, str]]]:
    """Split an Accept header into media ranges with their parameters, most preferred first."""
    if not accept or not accept.strip():
        return [("*/*", {})]
    ranges: list[tuple[float, int, str, dict[str, str]]] = []
    for position, item in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in item.split(";"))
        values = {}
        for param in params:
            name, _, value = param.partition("=")
            values[name.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(values.pop("q", "1"))
        except ValueError:
            quality = 0.0
        if media and quality > 0:
            ranges.append((-quality, position, media.lower(), values))
    return [(media, values) for _, _, media, values in sorted(ranges)]


_DATA: dict[str, DataFormat] = {
    "application/vnd.sdmx.genericdata+xml": DataFormat("generic", GENERIC),
    "application/vnd.sdmx.generictimeseriesdata+xml": DataFormat("generic", GENERIC),
    "application/vnd.sdmx.structurespecificdata+xml": DataFormat("structurespecific", STRUCTURE_SPECIFIC),
    "application/vnd.sdmx.structurespecifictimeseriesdata+xml": DataFormat("structurespecific", STRUCTURE_SPECIFIC),
    "application/xml": DataFormat("generic", GENERIC),
    "text/xml": DataFormat("generic", GENERIC),
    "text/csv": DataFormat("csv", CSV_V2),
    "application/*": DataFormat("generic", GENERIC),
    "*/*": DataFormat("generic", GENERIC),
}


def data_format(accept: str | None) -> DataFormat:
    """Pick the data format for an Accept header (generic SDMX-ML when anything will do)."""
    for media, params in _ranges(accept):
        if media == "application/vnd.sdmx.data+csv":
            version = params.get("version", "2.0.0")
            if version in ("2.0.0", "2.0"):
                return DataFormat("csv", CSV_V2)
            if version in ("1.0.0", "1.0"):
                return DataFormat("csv", CSV_V1, "1.0.0")
            continue
        if media in _DATA and params.get("version", "2.1") == "2.1":
            return _DATA[media]
    raise NotAcceptable(
        f"Cannot answer with any of {accept!r}; data is served as {GENERIC}, {STRUCTURE_SPECIFIC}, "
        f"{CSV_V2.removesuffix('; charset=utf-8')} or {CSV_V1.removesuffix('; charset=utf-8')}"
    )


def structure_format(accept: str | None) -> str:
    """Pick the media type of a structure message for an Accept header (SDMX-ML 2.1 is the one served)."""
    for media, params in _ranges(accept):
        if media == "application/vnd.sdmx.structure+xml" and params.get("version", "2.1") == "2.1":
            return STRUCTURE
        if media in ("application/xml", "text/xml", "application/*", "*/*"):
            return STRUCTURE if media != "application/xml" and media != "text/xml" else f"{media}; charset=utf-8"
    raise NotAcceptable(f"Cannot answer with any of {accept!r}; structures are served as {STRUCTURE}")
