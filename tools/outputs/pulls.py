"""Every output a user can pull from the demo, read through the API in-process with the demo's published keys."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from tools.outputs.rows import Run, csv_rows, file_rows, json_rows, sniff

#: The demo's keys, as the README publishes them.
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
COUNCIL = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
REGION = {"X-API-Key": "demo-synthetic-hub-3b7e91c04d"}
#: The day Annex A and List 1 are asked for: the end of the made-up council's collection year.
INSPECTION = "2025-03-31"


@dataclass(frozen=True)
class Output:
    """One output as rows: its name (the file it is written to) and what it holds."""

    name: str
    rows: list[str]


def answer(client: TestClient, run: Run, name: str, url: str, keys: dict[str, str], **params: Any) -> Output:
    """One request's answer as rows: its status, then its body read by its kind (a CSV by its headings)."""
    return Output(name, read(client.get(url, headers=keys, params=params), run))


def read(got: Response, run: Run) -> list[str]:
    """An answer's status, then its body read by its kind (a CSV by its headings)."""
    if got.headers.get("content-type", "").startswith("text/csv") and got.status_code == 200:
        body = csv_rows(got.content, run)
    else:
        body = file_rows(got.content, sniff(got.content), run) if got.content else []
    return [f"status\t{got.status_code}", *body]


def return_periods(engine: Engine, *, year_ends: bool = True) -> list[tuple[str, str]]:
    """Each return and every period it has: those its fields' figures are stored for, and the demo's year ends."""
    from cli.demo import YEARS, year_end_period
    from indicators.periods import parse_period
    from indicators.store.models import Observation
    from mappings.models import FieldMapping, Return
    from mappings.validity import in_force

    found: set[tuple[str, str]] = set()
    with Session(engine) as session:
        stored = session.exec(
            select(FieldMapping.return_id, Observation.period)
            .join(Observation, col(Observation.indicator_id) == col(FieldMapping.indicator_id))
            .distinct()
        ).all()
        types = {r.id: r for r in session.exec(select(Return)).all()}
        for return_id, period in stored:
            try:
                found.add((return_id, parse_period(period, types[return_id].period_type).code))  # type: ignore[arg-type]
            except Exception:  # a figure of another period type is not one of its periods
                continue
        for ret in types.values() if year_ends else ():
            for year in YEARS:
                end = year_end_period(parse_period(year), ret.period_type)
                if end is not None and in_force(ret, end):
                    found.add((ret.id, end.code))
    return sorted(found)


def returns(client: TestClient, engine: Engine, run: Run, *, year_ends: bool = True) -> Iterator[Output]:
    """Every return's files for every period it has, in every format, as a regulator pulls them (built fresh)."""
    from exports.writers import FORMATS

    for return_id, period in return_periods(engine, year_ends=year_ends):
        for spec in FORMATS.values():
            url = f"/api/returns/{return_id}/{period}.{spec.extension}"
            yield answer(client, run, f"returns/{return_id}/{period}.{spec.extension}", url, OFFICER, fresh="true")


def pages(client: TestClient, run: Run, name: str, url: str, keys: dict[str, str], **params: Any) -> Output:
    """A listed answer read page by page until its end, as one output."""
    rows: list[str] = []
    offset = 0
    while True:
        got = client.get(url, headers=keys, params={"offset": offset, "limit": 1000, **params})
        rows += [f"offset {offset}\t{row}" for row in read(got, run)]
        total = got.json().get("total", 0) if got.status_code == 200 else 0
        offset += 1000
        if offset >= total:
            return Output(name, rows)


def council(client: TestClient, run: Run, code: str, year: str, as_of: str) -> Iterator[Output]:
    """The council's Annex A, List 1, SEN2 tables, the files made from its SSD extract and DfE's payloads."""
    base = f"/api/agencies/{code}"
    day = {"inspection_date": INSPECTION}
    yield answer(client, run, f"annex-a/{code}.summary", f"{base}/annex-a", COUNCIL, **day)
    yield answer(client, run, f"annex-a/{code}.xlsx", f"{base}/annex-a.xlsx", COUNCIL, **day)
    yield pages(client, run, f"list1/{code}.rows", f"{base}/annex-a-send", COUNCIL, **day)
    yield answer(client, run, f"list1/{code}.xlsx", f"{base}/annex-a-send.xlsx", COUNCIL, **day)
    listed = client.get(f"{base}/sen2/{year}/tables", headers=COUNCIL)
    yield answer(client, run, f"sen2/{code}/{year}.tables", f"{base}/sen2/{year}/tables", COUNCIL)
    for item in listed.json().get("items", []) if listed.status_code == 200 else []:
        yield answer(client, run, f"sen2/{code}/{year}/{item['table']}.csv", item["href"], COUNCIL)
    yield answer(client, run, f"sen2/{code}/{year}.cross-checks", f"{base}/sen2/{year}/cross-checks", COUNCIL)
    for file in ("cin_census.xml", "ssda903.zip"):
        yield answer(client, run, f"record-files/{code}/{year}/{file}", f"{base}/record-files/{year}/{file}", COUNCIL)
    yield pages(client, run, f"payloads/{code}.children", f"{base}/csc-api/children", COUNCIL, as_of=as_of)


def region(client: TestClient, run: Run, name: str) -> Iterator[Output]:
    """The region's overview, each of its pooled tables and its figures."""
    overview = client.get(f"/api/regions/{name}", headers=OFFICER)
    yield Output(f"regions/{name}.overview", [f"status\t{overview.status_code}", *json_rows(overview.json(), run)])
    hrefs = sorted({t["href"] for case in overview.json().get("use_cases", []) for t in case["tables"]})
    for href in hrefs:
        yield answer(client, run, f"regions/{name}/{href.rsplit('/', 2)[-2]}/{href.rsplit('/', 1)[-1]}", href, REGION)
    yield answer(client, run, f"regions/{name}.figures", f"/api/regions/{name}/figures", REGION)


def burden(client: TestClient, run: Run, years: tuple[str, ...]) -> Iterator[Output]:
    """The burden of each of the demo's years: its counts and cells."""
    for year in years:
        yield answer(client, run, f"burden/{year}", "/api/burden", OFFICER, period=year)
