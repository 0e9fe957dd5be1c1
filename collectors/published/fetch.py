"""Ask each publisher's API for the releases of its data sets not yet read, and import each one whole.

EES (DfE's Explore Education Statistics) API v1, as its documentation gives it
(https://api.education.gov.uk/statistics/docs/, "Download a data set as CSV" and the DataSetVersion paginated
list schema): ``GET /v1/data-sets/{id}/versions`` lists a data set's versions (``{"paging": {...},
"results": [{"version", "type", "status", "published", ...}]}``), ``.../versions/{v}/changes`` what a version
changed, and ``GET /v1/data-sets/{id}/csv?dataSetVersion={v}`` the version's data as CSV.

FingertipsNext API (OHID), as its OpenAPI definition gives it (https://github.com/dhsc-govuk/FingertipsNext,
``api/definition/fingertipsAPI.yaml``): ``GET /indicators/{indicator_id}/data?area_type={key}`` answers an
``IndicatorWithHealthDataForArea`` with every published point for the areas of that type. OHID's Python client
fingertips_py was not used: its wheel needs pandas and requests, which the service does not otherwise carry, for
what is one documented GET per indicator and area type here. A Fingertips release is the set of those answers; one
whose bytes are already stored is recognised and nothing is imported again.

A fetch that fails is tried again with a growing wait; a release is imported only once its whole file has
arrived, and the import stores all of it or nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors.published.intake import Imported
from collectors.published.sources import SourceSpec, load_sources
from indicators.published import PublishedRelease
from onereturn.errors import OneReturnError
from onereturn.settings import Settings

log = logging.getLogger(__name__)
#: Versions asked for per page of EES's version list.
PAGE_SIZE = 20


class FetchFailed(OneReturnError):
    """A publisher's API could not be reached or answered wrongly after every retry: nothing was stored."""

    status_code = 502
    error_type = "fetch_failed"


#: How a fetched release is taken in, given its release's keywords (``intake.import_release``'s).
Take = Callable[..., Imported]


@dataclass
class FetchReport:
    """What one scheduled fetch did, per source: releases imported, and failures (nothing stored for those)."""

    imported: list[tuple[str, Imported]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    #: Sources declared but not asked, with why: no API id (upload only), or FingertipsNext's address not set.
    not_asked: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class FetchRun:
    """One fetch of the declared sources: the store it imports into, the settings, the HTTP client and the service's
    stop, handed whole to each publisher's fetcher."""

    engine: Engine
    settings: Settings
    client: httpx.Client
    stop: threading.Event | None
    #: How a release fetched is taken in: through the table of ways in, handed down by the caller (the scheduler, the
    #: command line: ``ways_in.releases``), since a room may not import the table above it.
    take: Take

    def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """GET ``url`` through this run's client, retried and stopped as ``get_with_retry`` does."""
        return get_with_retry(self.client, url, self.settings, params=params, stop=self.stop)


def get_with_retry(
    client: httpx.Client,
    url: str,
    settings: Settings,
    *,
    params: dict[str, Any] | None = None,
    stop: threading.Event | None = None,
) -> httpx.Response:
    """GET ``url``, retrying a failed request (no answer, or a 5xx / 429) with a doubling wait; raise FetchFailed.

    ``stop`` (the service's stop) ends the wait between tries at once, so a stop never waits on a backoff."""
    attempts = settings.published_fetch_attempts
    last = ""
    for attempt in range(attempts):
        if stop is not None and stop.is_set():
            raise FetchFailed(f"{url}: the service is stopping; nothing was stored")
        try:
            response = client.get(url, params=params)
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code < 400:
                return response
            last = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                break  # a client error does not mend by asking again
        if attempt + 1 < attempts:
            wait = settings.published_fetch_backoff_seconds * 2**attempt
            if stop is None:
                time.sleep(wait)
            elif stop.wait(wait):
                raise FetchFailed(f"{url}: the service is stopping; nothing was stored")
    raise FetchFailed(f"{url}: {last} (tried {attempts} time(s)); nothing was stored")


def ees_versions(run: FetchRun, base: str, data_set: str) -> list[dict[str, Any]]:
    """Every published version of an EES data set, oldest first."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        url = f"{base}/v1/data-sets/{data_set}/versions"
        body = run.get(url, params={"page": page, "pageSize": PAGE_SIZE}).json()
        try:
            results = body["results"]
            pages = int(body["paging"]["totalPages"])
        except (KeyError, TypeError, ValueError) as exc:
            raise FetchFailed(f"{url}: not EES's paginated list of versions ({exc!r} missing)") from exc
        found += [v for v in results if str(v.get("status", "Published")) == "Published"]
        if page >= pages:
            break
        page += 1
    return sorted(found, key=lambda v: [int(p) if p.isdigit() else 0 for p in str(v["version"]).split(".")])


def fetch_ees(run: FetchRun, spec: SourceSpec, base: str) -> list[Imported]:
    """Import every version of ``spec``'s EES data set not yet read, oldest first."""
    with Session(run.engine) as session:
        have = set(
            session.execute(
                select(PublishedRelease.version).where(col(PublishedRelease.source_id) == spec.id)
            ).scalars()
        )
    done = []
    for version in ees_versions(run, base, spec.ees_data_set):
        number = str(version["version"])
        if number in have:
            continue
        root = f"{base}/v1/data-sets/{spec.ees_data_set}"
        # What the version changed, checked to be there (the API lists it for each version after the first).
        run.get(f"{root}/versions/{number}/changes")
        url = f"{root}/csv"
        data = run.get(url, params={"dataSetVersion": number}).content
        release: dict[str, Any] = {
            "spec": spec,
            "data": data,
            "filename": f"{spec.ees_data_set}-{number}.csv",
            "fetched_from": f"{url}?dataSetVersion={number}",
            "version": number,
            "release_date": str(version.get("published") or ""),
            "submitted_by": "scheduled fetch",
        }
        done.append(run.take(**release))
    return done


def fetch_fingertips(run: FetchRun, spec: SourceSpec, base: str) -> list[Imported]:
    """Ask FingertipsNext for every indicator and area type ``spec`` names; import the answers as one release
    unless the same answers were read before (FingertipsNext gives no release number, so their bytes tell)."""
    answers: list[Any] = []
    asked: list[str] = []
    for indicator in spec.fingertips_indicators:
        for area_type in spec.fingertips_area_types or [""]:
            url = f"{base}/indicators/{indicator}/data"
            params = {"area_type": area_type} if area_type else {}
            response = run.get(url, params=params)
            try:
                answers.append(response.json())
            except ValueError as exc:
                raise FetchFailed(f"{url}: not a JSON answer ({exc}); nothing was stored") from exc
            asked.append(f"{url}?area_type={area_type}" if area_type else url)
    data = json.dumps(answers, sort_keys=True, separators=(",", ":")).encode()
    release: dict[str, Any] = {
        "spec": spec,
        "data": data,
        "filename": f"{spec.id}.json",
        "fetched_from": " ".join(asked)[:2000],
        "version": datetime.now(UTC).strftime("%Y-%m-%d"),
        "submitted_by": "scheduled fetch",
    }
    got = run.take(**release)
    return [] if got.duplicate else [got]


def fetch_all(
    engine: Engine,
    settings: Settings,
    *,
    take: Take,
    client: httpx.Client | None = None,
    stop: threading.Event | None = None,
) -> FetchReport:
    """Ask each declared source with an API id for its new releases, each taken in by ``take`` (the table of ways in's
    ``ways_in.releases``); a source that fails leaves nothing half stored.

    ``stop`` set (the service stopping) ends the fetch at its next request or wait, storing nothing half done."""
    report = FetchReport()
    own = client is None
    http = client or httpx.Client(timeout=settings.published_fetch_timeout_seconds, follow_redirects=True)
    run = FetchRun(engine, settings, http, stop, take)
    try:
        for spec in load_sources().sources.values():
            fingertips = spec.format == "fingertips" and bool(spec.fingertips_indicators)
            if fingertips and not settings.published_fingertips_api:
                report.not_asked.append((spec.id, "Fingertips, ONERETURN_PUBLISHED_FINGERTIPS_API not set"))
                continue
            if not (spec.ees_data_set or fingertips):
                report.not_asked.append((spec.id, "upload only, no API id declared"))
                continue
            try:
                if fingertips:
                    got = fetch_fingertips(run, spec, settings.published_fingertips_api.rstrip("/"))
                else:
                    got = fetch_ees(run, spec, settings.published_ees_api.rstrip("/"))
            except OneReturnError as exc:
                log.warning("published source %s: %s", spec.id, exc.message)
                report.failed.append((spec.id, exc.message))
                continue
            if got:
                report.imported += [(spec.id, g) for g in got]
            else:
                report.up_to_date.append(spec.id)
    finally:
        if own:
            http.close()
    return report
