"""SDMX REST 2.1 over the returns: structure queries and data queries, with the keys and scopes of the JSON API.

Structure queries follow the standard paths ``/sdmx/{dataflow|datastructure|codelist}/{agencyID}/
{resourceID}/{version}`` (each part may be left off; ``all`` and ``latest`` as the standard
allows; several IDs joined with ``+``) with ``references`` and ``detail``. Data queries are
``/sdmx/data/{flowRef}/{key}/{providerRef}`` with ``startPeriod``, ``endPeriod``, ``updatedAfter``,
``dimensionAtObservation`` and ``detail``; the answer is SDMX-ML 2.1 generic or
structure-specific data, or SDMX-CSV, as the ``Accept`` header asks, made from the SDMX-CSV snapshot kept for
each period's current build (``exports.dataflows``) and held by what it was made of, so a query asked again while
nothing behind it changed writes nothing. A regulator sees only the returns addressed to it; officers see every
return; agencies are refused, as on the JSON API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from hashlib import sha256
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from api.auth import ReturnsRead
from api.conditional import conditional
from api.deps import SessionDep
from api.params import IsoDatetime
from api.principal import Principal
from api.return_files import visible_return
from api.sdmx.negotiate import DataFormat, data_format, structure_format
from exports import dataflows as sdmx_source
from exports.blobs import Held
from exports.sdmx.ml import AGENCY, ATTRIBUTES, VERSION, Codelist, cross_domain_codelists
from exports.sdmx.rest import SERIES_DIMENSIONS, Flow, data_message, structure_message
from indicators.service import current_catalogue_version
from mappings.models import Return
from onereturn.errors import InvalidInput, NotFound

router = APIRouter(prefix="/sdmx", tags=["sdmx"])

References = Literal[
    "none",
    "parents",
    "parentsandsiblings",
    "children",
    "descendants",
    "all",
    "dataflow",
    "datastructure",
    "codelist",
    "conceptscheme",
]
_STRUCTURE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/vnd.sdmx.structure+xml; version=2.1": {}, "application/xml": {}}},
    304: {"description": "Not modified: If-None-Match names the current message"},
    404: {"description": "No artefact matches"},
    406: {"description": "None of the media types in Accept can be served"},
}
_DATA_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/vnd.sdmx.genericdata+xml; version=2.1": {},
            "application/vnd.sdmx.structurespecificdata+xml; version=2.1": {},
            "application/vnd.sdmx.data+csv; version=2.0.0": {},
        }
    },
    304: {"description": "Not modified: If-None-Match names the current message"},
    404: {"description": "No such dataflow (or not addressed to you), or no observations match"},
    406: {"description": "None of the media types in Accept can be served"},
}


def visible_returns(session: Session, principal: Principal) -> list[Return]:
    """List the returns the principal may read, with the same rule as the JSON API."""
    visible: list[Return] = []
    for ret in session.execute(select(Return).order_by(col(Return.id))).scalars():
        try:
            visible_return(session, principal, ret.id)
        except NotFound:
            continue
        visible.append(ret)
    return visible


def _ids(text: str) -> set[str] | None:
    """Read a structure path part: ``all`` (None, anything) or IDs joined with ``+``."""
    return None if text in ("all", "*", "") else {p for p in text.split("+") if p}


def _check_agency_and_version(agency_id: str, version: str) -> None:
    agencies = _ids(agency_id)
    if agencies is not None and AGENCY not in agencies:
        raise NotFound(f"No artefacts are maintained by {agency_id!r}; this service's agency is {AGENCY}")
    versions = _ids(version)
    if versions is not None and not versions & {"latest", VERSION}:
        raise NotFound(
            f"No artefacts of version {version!r}; every artefact here is version {VERSION} (or ask for latest)"
        )


def _pick(items: list[Any], wanted: set[str] | None, name: Callable[[Any], str], what: str) -> list[Any]:
    chosen = [i for i in items if wanted is None or name(i) in wanted]
    if not chosen:
        raise NotFound(f"No {what} matches {'+'.join(sorted(wanted or []))!r}")
    return chosen


def _structure_response(request: Request, body: bytes) -> Response:
    media = structure_format(request.headers.get("accept"))
    return conditional(request, body, media_type=media, headers={})


def _flow_codelists(flows: list[Flow]) -> list[Codelist]:
    return [*cross_domain_codelists(), *(c for f in flows for c in f.codelists())]


def _structures(
    request: Request,
    session: Session,
    principal: Principal,
    path: tuple[str, str, str],
    *,
    pick: tuple[Callable[[Flow], str], str],
    flows_too: bool,
    structures_too: bool,
    codelists_too: bool,
    concepts_too: bool,
) -> Response:
    """Answer a dataflow or data structure query: the visible flows the path picks, with what references adds."""
    agency_id, resource_id, version = path
    _check_agency_and_version(agency_id, version)
    all_flows = sdmx_source.flows(session, [r.id for r in visible_returns(session, principal)])
    flows = _pick(all_flows, _ids(resource_id), *pick)
    body = structure_message(
        dataflows=flows if flows_too else [],
        datastructures=flows if structures_too else [],
        codelists=_flow_codelists(flows) if codelists_too else [],
        concepts=concepts_too,
        prepared=_catalogue_time(session),
    )
    return _structure_response(request, body)


_STRUCTURE_PATHS = ("", "/{agency_id}", "/{agency_id}/{resource_id}", "/{agency_id}/{resource_id}/{version}")


def _route(kind: str, **extra: Any) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Register one handler on every shortened form of a structure path."""

    def register(handler: Callable[..., Response]) -> Callable[..., Response]:
        for suffix in reversed(_STRUCTURE_PATHS):
            handler = router.get(
                f"/{kind}{suffix}",
                responses=_STRUCTURE_RESPONSES,
                include_in_schema=suffix == _STRUCTURE_PATHS[-1],
                **extra,
            )(handler)
        return handler

    return register


@_route("dataflow", summary="SDMX dataflows: one per return")
def dataflow(
    request: Request,
    session: SessionDep,
    principal: ReturnsRead,
    agency_id: str = "all",
    resource_id: str = "all",
    version: str = "latest",
    references: References = "none",
    detail: Literal["full"] = "full",  # noqa: ARG001 (the only detail served; any other is refused)
) -> Response:
    """List the dataflows of the returns you may read; ``references=all`` adds their structures and code lists."""
    deep = references in ("descendants", "all")
    return _structures(
        request,
        session,
        principal,
        (agency_id, resource_id, version),
        pick=(lambda f: f.id, "dataflow"),
        flows_too=True,
        structures_too=deep or references in ("children", "datastructure"),
        codelists_too=deep or references == "codelist",
        concepts_too=deep or references == "conceptscheme",
    )


@_route("datastructure", summary="SDMX data structure definitions: one per return")
def datastructure(
    request: Request,
    session: SessionDep,
    principal: ReturnsRead,
    agency_id: str = "all",
    resource_id: str = "all",
    version: str = "latest",
    references: References = "none",
    detail: Literal["full"] = "full",  # noqa: ARG001 (the only detail served; any other is refused)
) -> Response:
    """Describe each return's data structure; ``references=children`` (or all) adds its code lists and concepts."""
    children = references in ("children", "descendants", "all")
    return _structures(
        request,
        session,
        principal,
        (agency_id, resource_id, version),
        pick=(lambda f: f.dsd_id, "data structure"),
        flows_too=references in ("parents", "parentsandsiblings", "all", "dataflow"),
        structures_too=True,
        codelists_too=children or references == "codelist",
        concepts_too=children or references == "conceptscheme",
    )


@_route("codelist", summary="SDMX code lists: fields, areas, statuses and the catalogue's breakdown codes")
def codelist(
    request: Request,
    session: SessionDep,
    principal: ReturnsRead,
    agency_id: str = "all",
    resource_id: str = "all",
    version: str = "latest",
    references: Literal["none"] = "none",  # noqa: ARG001 (code lists refer to nothing further)
    detail: Literal["full"] = "full",  # noqa: ARG001 (the only detail served; any other is refused)
) -> Response:
    """List code lists: each visible return's fields and areas, the status lists and the catalogue's code lists."""
    _check_agency_and_version(agency_id, version)
    flows = sdmx_source.flows(session, [r.id for r in visible_returns(session, principal)])
    lists = [*_flow_codelists(flows), *sdmx_source.catalogue_codelists(session)]
    body = structure_message(
        codelists=_pick(lists, _ids(resource_id), lambda c: c.id, "code list"), prepared=_catalogue_time(session)
    )
    return _structure_response(request, body)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _catalogue_time(session: Session) -> datetime:
    """Date structure messages by the catalogue load they describe, so the same structures give the same bytes."""
    version = current_catalogue_version(session)
    if version is None:
        return _now()
    loaded = version.loaded_at
    return (loaded if loaded.tzinfo else loaded.replace(tzinfo=UTC)).replace(microsecond=0)


def _flow_return(session: Session, principal: Principal, flow_ref: str) -> tuple[Return, Flow]:
    """Find the return behind a flowRef (``DF_X``, ``AGENCY,DF_X`` or ``AGENCY,DF_X,VERSION``)."""
    parts = flow_ref.split(",")
    if len(parts) > 3 or not all(parts[:2]):
        raise InvalidInput(f"flowRef {flow_ref!r} is not ID, AGENCY,ID or AGENCY,ID,VERSION")
    if len(parts) == 1:
        parts = [AGENCY, *parts]
    agency, flow, version = (*parts, "latest")[:3]
    _check_agency_and_version(agency, version or "latest")
    for ret in visible_returns(session, principal):
        (candidate,) = sdmx_source.flows(session, [ret.id])
        if candidate.id == flow:
            return ret, candidate
    raise NotFound(f"Dataflow {flow!r} does not exist (or is not addressed to you); see /sdmx/dataflow")


_DATA_PATHS = ("/data/{flow_ref}", "/data/{flow_ref}/{key}", "/data/{flow_ref}/{key}/{provider_ref}")


def data(
    request: Request,
    session: SessionDep,
    principal: ReturnsRead,
    flow_ref: str,
    key: str = "all",
    provider_ref: str = "all",
    start_period: Annotated[str | None, Query(alias="startPeriod", description="e.g. 2024, 2024-Q2, 2024-06")] = None,
    end_period: Annotated[str | None, Query(alias="endPeriod", description="e.g. 2025, 2025-Q1, 2025-03")] = None,
    updated_after: Annotated[
        IsoDatetime | None, Query(alias="updatedAfter", description="Only observations changed since this instant")
    ] = None,
    dimension_at_observation: Annotated[
        Literal["TIME_PERIOD", "AllDimensions"], Query(alias="dimensionAtObservation")
    ] = "TIME_PERIOD",
    detail: Literal["full", "dataonly"] = "full",
) -> Response:
    """Get the released observations of a return's dataflow for a key and a window of periods."""
    if _ids(provider_ref) is not None and AGENCY not in (_ids(provider_ref) or set()):
        raise NotFound(f"No data provider {provider_ref!r}; the only provider is {AGENCY}")
    fmt: DataFormat = data_format(request.headers.get("accept"))
    ret, flow = _flow_return(session, principal, flow_ref)
    selector = sdmx_source.parse_key(key)
    start = sdmx_source.period_bound(start_period, end=False, name="startPeriod") if start_period else None
    end = sdmx_source.period_bound(end_period, end=True, name="endPeriod") if end_period else None
    found = sdmx_source.observations(session, ret, key=selector, start=start, end=end, updated_after=updated_after)
    # The same snapshots asked the same way give the same message: made once, held while it is asked again.
    wanted = ".".join("*" if v is None else "+".join(sorted(v)) for v in selector.values)
    made_of = f"{flow.id}|{found.sources}|{found.prepared}|{wanted}|{fmt}|{dimension_at_observation}|{detail}"
    held = None if updated_after or not found.snapshots else sha256(made_of.encode()).hexdigest()
    body = MESSAGES.get(held) if held else None
    if body is None:
        rows = found.rows(session)
        if not rows:
            raise _nothing_matches(session, ret, flow, key, (start, end), updated_after)
        body = _data_body(flow, rows, found.prepared, fmt, dimension_at_observation, detail)
        if held:
            MESSAGES.put(held, body)
    return conditional(request, body, media_type=fmt.media_type, headers={})


def _nothing_matches(
    session: Session,
    ret: Return,
    flow: Flow,
    key: str,
    window: tuple[date | None, date | None],
    updated_after: datetime | None,
) -> NotFound:
    """Say that no observation matched, and which periods have figures when no window was closed at both ends."""
    start, end = window
    closed = start is not None and end is not None
    available = [] if closed else [p.code for p in sdmx_source.periods_for(session, ret, None, None)]
    return NotFound(
        f"No observations of {flow.id} match the key {key!r} ({'.'.join(SERIES_DIMENSIONS)}) in the periods asked"
        + (" changed since then" if updated_after else "")
        + (
            ""
            if closed
            else f"; periods with figures: {', '.join(available)}"
            if available
            else f"; no period of {flow.id} has figures yet"
        )
    )


#: Data messages made from the stored snapshots, by what they were made from: a repeated query writes nothing.
MESSAGES = Held(limit=64 * 1024 * 1024)


def _data_body(
    flow: Flow,
    rows: list[dict[str, str]],
    prepared: datetime | None,
    fmt: DataFormat,
    dimension_at_observation: str,
    detail: str,
) -> bytes:
    if detail == "dataonly":
        rows = [{k: "" if k in ATTRIBUTES else v for k, v in r.items()} for r in rows]
    return data_message(
        flow,
        rows,
        kind=fmt.kind,
        dimension_at_observation=dimension_at_observation,
        prepared=prepared or _now(),
        csv_version=fmt.csv_version,
    )


for _path in reversed(_DATA_PATHS):
    data = router.get(
        _path,
        summary="SDMX data: a return's released observations",
        responses=_DATA_RESPONSES,
        include_in_schema=_path == _DATA_PATHS[-1],
    )(data)
