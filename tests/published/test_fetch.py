"""The scheduled fetch: a fresh deployment asks DfE's EES API (here a local server at 127.0.0.1 serving the real
reference files at the API's documented paths and envelopes) for releases it has not read, imports each whole,
retries a failed request, and with the server down reports the failure and stores nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner, Result

import scheduler
from collectors import ways_in
from collectors.published import fetch
from collectors.published.sources import SourceSet, SourceSpec, load_sources
from indicators.published import PublishedFigure, PublishedRelease
from indicators.store.models import Observation
from mappings.agencies import remove_demo
from mappings.models import Agency
from mappings.signoff.states import published_sources
from onereturn import db, jobs
from onereturn.settings import Settings
from tests.published.local_api import serve

DATA_SET = "e4b1c2d3-0000-4000-8000-00000000p0p1"


@dataclass
class FakeEes:
    """EES API v1 as documented: the version list (paging + results), each version's changes, its CSV."""

    versions: dict[str, bytes] = field(default_factory=dict)
    #: Requests to fail with 503 before answering (a publisher's API having a bad moment).
    fail_next: int = 0
    seen: list[str] = field(default_factory=list)

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        root = f"/v1/data-sets/{DATA_SET}"
        if path == f"{root}/versions":
            page, size = int(query.get("page", ["1"])[0]), int(query.get("pageSize", ["20"])[0])
            names = list(self.versions)
            results = [
                {
                    "version": v,
                    "type": "Major",
                    "status": "Published",
                    "published": f"2025-0{i + 1}-01T09:30:00+00:00",
                    "notes": "",
                    "totalResults": 1,
                    "file": {"id": DATA_SET},
                }
                for i, v in enumerate(names)
            ][(page - 1) * size : page * size]
            pages = max(1, -(-len(names) // size))
            body = {
                "paging": {"page": page, "pageSize": size, "totalResults": len(names), "totalPages": pages},
                "results": results,
            }
            return 200, "application/json", json.dumps(body).encode()
        if path.startswith(f"{root}/versions/") and path.endswith("/changes"):
            version = path.split("/")[-2]
            if version not in self.versions:
                return 404, "application/json", b"{}"
            return 200, "application/json", json.dumps({"changes": {}, "patchHistory": []}).encode()
        if path == f"{root}/csv":
            version = query.get("dataSetVersion", [""])[0]
            if version not in self.versions:
                return 404, "application/json", b"{}"
            return 200, "text/csv", self.versions[version]
        return 404, "application/json", b"{}"


@contextmanager
def serving(api: FakeEes) -> Iterator[str]:
    """The fake EES API on a free loopback port, failing its next ``fail_next`` requests with 503."""

    def answer(path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        api.seen.append(path)
        if api.fail_next:
            api.fail_next -= 1
            return 503, "text/plain", b"busy"
        return api.answer(path, query)

    with serve(answer) as base:
        yield base + "/"


@pytest.fixture
def population(monkeypatch: pytest.MonkeyPatch) -> SourceSpec:
    """The bundled population source, given the EES data set id the fetch asks for."""
    spec = load_sources().sources["ons_population_0_17"].model_copy(update={"ees_data_set": DATA_SET})
    monkeypatch.setattr(fetch, "load_sources", lambda: SourceSet(sources={spec.id: spec}))
    return spec


def _settings(store_settings: Settings, base: str) -> Settings:
    return store_settings.model_copy(
        update={
            "published_ees_api": base,
            "published_fetch_attempts": 3,
            "published_fetch_backoff_seconds": 0,
            "published_fetch_timeout_seconds": 10,
        }
    )


def _fetched(store: Engine, settings: Settings) -> fetch.FetchReport:
    """A scheduled fetch as the scheduler and the command line make it: each release taken by the table of ways in."""
    return fetch.fetch_all(store, settings, take=ways_in.releases(store, settings))


def _population(engine: Engine, org: str, period: str) -> list[tuple[int, float | None, bool]]:
    with Session(engine) as session:
        rows = session.execute(
            select(Observation.version, Observation.value, Observation.is_current)
            .where(
                Observation.indicator_id == "pop.resident_0_17",
                Observation.org_code == org,
                Observation.period == period,
            )
            .order_by(col(Observation.version))
        ).all()
    return [tuple(r) for r in rows]


def test_a_fresh_deployment_fills_the_population_from_the_api_and_reads_only_new_versions(
    store: Engine, store_settings: Settings, population: SourceSpec
) -> None:
    first = population.bundled.read_bytes()
    api = FakeEes(versions={"1.0": first})
    with serving(api) as base:
        settings = _settings(store_settings, base)
        report = _fetched(store, settings)
        assert [s for s, _ in report.imported] == ["ons_population_0_17"]
        assert report.failed == []
        assert _population(store, "E10000024", "CY2024") == [(1, 171572.0, True)]
        release = report.imported[0][1].release
        assert (release.version, release.release_date) == ("1.0", "2025-01-01T09:30:00+00:00")
        assert release.fetched_from.endswith(f"/v1/data-sets/{DATA_SET}/csv?dataSetVersion=1.0")
        # Nothing new: nothing imported, nothing downloaded again.
        api.seen.clear()
        again = _fetched(store, settings)
        assert again.imported == []
        assert again.up_to_date == ["ons_population_0_17"]
        assert not any(p.endswith("/csv") for p in api.seen)
        # Version 2.0 revises one estimate: exactly that cell gets a new version.
        api.versions["2.0"] = first.replace(
            b"Nottinghamshire,Children aged 0 to 17 years,171572", b"Nottinghamshire,Children aged 0 to 17 years,171580"
        )
        revised = _fetched(store, settings)
        assert [r.release.version for _, r in revised.imported] == ["2.0"]
        assert (revised.imported[0][1].release.stored_new, revised.imported[0][1].release.stored_revised) == (0, 1)
    assert _population(store, "E10000024", "CY2024") == [(1, 171572.0, False), (2, 171580.0, True)]


def test_a_deployment_without_the_demos_agencies_gets_the_population_as_onss(
    store: Engine, store_settings: Settings, population: SourceSpec
) -> None:
    with db.session_scope(store) as session:
        remove_demo(session)  # no agency at all, as a fresh deployment starts
        assert session.execute(select(func.count()).select_from(Agency)).scalar_one() == 0
    with serving(FakeEes(versions={"1.0": population.bundled.read_bytes()})) as base:
        report = _fetched(store, _settings(store_settings, base))
    assert report.failed == []
    assert _population(store, "E10000024", "CY2024") == [(1, 171572.0, True)]
    with Session(store) as session:
        ons = session.get(Agency, "ons")
        assert ons is not None
        assert ons.origin == "published"
        assert "ons" in published_sources(session)  # nobody signs ONS's figures off again


def test_a_failed_request_is_retried_and_the_release_still_arrives_whole(
    store: Engine, store_settings: Settings, population: SourceSpec
) -> None:
    api = FakeEes(versions={"1.0": population.bundled.read_bytes()}, fail_next=2)
    with serving(api) as base:
        report = _fetched(store, _settings(store_settings, base))
    assert report.failed == []
    assert len(report.imported) == 1
    assert _population(store, "E10000024", "CY2024") == [(1, 171572.0, True)]


@pytest.mark.usefixtures("population")
def test_with_the_server_down_the_failure_is_reported_and_nothing_is_stored(
    store: Engine, store_settings: Settings
) -> None:
    with serving(FakeEes()) as base:
        pass  # the server has stopped: its port refuses connections
    report = _fetched(store, _settings(store_settings, base))
    assert [s for s, _ in report.failed] == ["ons_population_0_17"]
    assert "ConnectError" in report.failed[0][1]
    assert "(tried 3 time(s)); nothing was stored" in report.failed[0][1]
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(PublishedRelease)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(PublishedFigure)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(Observation)).scalar_one() == 0


def test_a_release_cut_off_mid_file_stores_nothing(
    store: Engine, store_settings: Settings, population: SourceSpec
) -> None:
    whole = population.bundled.read_bytes()
    api = FakeEes(versions={"1.0": whole[: len(whole) // 2].rsplit(b",", 1)[0] + b",12"})
    with serving(api) as base:
        report = _fetched(store, _settings(store_settings, base))
    assert [s for s, _ in report.failed] == ["ons_population_0_17"]
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(Observation)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(PublishedRelease)).scalar_one() == 0


def test_the_scheduled_fetch_is_off_until_the_operator_turns_it_on(store: Engine) -> None:
    now = datetime(2025, 4, 2, 12, 0, tzinfo=UTC)
    for on in (False, True):
        jobs.bind(settings=Settings(published_fetch=on, published_fetch_hours=6))
        try:
            sched = scheduler.build_scheduler(Settings())
            sched.start(paused=True)
            scheduler.reconcile(sched, store, now)
            job = sched.get_job("periodic:published-fetch")
            assert (job is not None) == on
            if job is not None:
                assert job.trigger.interval.total_seconds() == 6 * 3600
            sched.shutdown(wait=False)
        finally:
            jobs.unbind("settings")


def test_the_scheduled_job_imports_from_the_api(
    jobs_on: Engine, store_settings: Settings, population: SourceSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the table of ways in: the job hands each release to ``ways_in.take``, as every entry point does."""
    from collectors import ways_in

    taken: list[str] = []
    take = ways_in.take

    def counted(engine: Engine, settings: Settings, request: ways_in.ReleaseSent[SourceSpec]) -> object:
        taken.append(ways_in.way_of(request).name)
        return take(engine, settings, request)

    monkeypatch.setattr(ways_in, "take", counted)
    with serving(FakeEes(versions={"1.0": population.bundled.read_bytes()})) as base:
        jobs.bind(settings=_settings(store_settings, base))
        try:
            scheduler.job_published_fetch()
        finally:
            jobs.unbind("settings")
    assert taken == ["published"]
    with Session(jobs_on) as session:
        assert (
            session.execute(
                select(func.count()).select_from(PublishedRelease).where(col(PublishedRelease.version) == "1.0")
            ).scalar_one()
            == 1
        )


def test_a_client_error_is_not_asked_again(store_settings: Settings) -> None:
    api = FakeEes()
    with serving(api) as base, httpx.Client() as client, pytest.raises(fetch.FetchFailed, match="HTTP 404"):
        fetch.get_with_retry(client, f"{base}v1/data-sets/nothing/csv", _settings(store_settings, base))
    assert len(api.seen) == 1


def test_a_stop_ends_the_wait_between_tries_at_once(store_settings: Settings) -> None:
    """A stop that comes while a failed request waits for its next try ends the fetch there: no further request is
    made, and the hour-long wait the settings ask for is never waited."""
    stop = threading.Event()
    seen: list[str] = []

    def busy(path: str, _query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        seen.append(path)
        stop.set()  # the service is asked to stop while this request is being answered
        return 503, "text/plain", b"busy"

    settings = _settings(store_settings, "").model_copy(update={"published_fetch_backoff_seconds": 3600})
    with serve(busy) as base, httpx.Client() as client, pytest.raises(fetch.FetchFailed, match="stopping"):
        fetch.get_with_retry(client, f"{base}/v1/data-sets/x/csv", settings, stop=stop)
    assert seen == ["/v1/data-sets/x/csv"]


def _fetch_command(store: Engine, monkeypatch: pytest.MonkeyPatch, **env: str) -> Result:
    """``onereturn published fetch`` run on ``store`` with the environment ``env`` adds."""
    from cli.commands import app
    from onereturn.settings import get_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("cli.shared.ready_engine", lambda: store)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["published", "fetch"])
    finally:
        get_settings.cache_clear()


def test_the_command_with_nothing_to_ask_says_why(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh clone declares no EES data set and no FingertipsNext address: the fetch says so, not nothing."""
    monkeypatch.delenv("ONERETURN_PUBLISHED_FINGERTIPS_API", raising=False)
    declared = load_sources().sources.values()
    fingertips = sum(1 for s in declared if s.format == "fingertips" and s.fingertips_indicators)
    assert not any(s.ees_data_set for s in declared)
    result = _fetch_command(store, monkeypatch, ONERETURN_DATA_DIR=str(tmp_path / "data"))
    assert result.exit_code == 0, result.output
    assert (
        "Nothing fetched: no declared source has an API to ask "
        f"({fingertips} source(s): Fingertips, ONERETURN_PUBLISHED_FINGERTIPS_API not set; "
        f"{len(declared) - fingertips} source(s): upload only, no API id declared)."
    ) in " ".join(result.output.split())


def test_the_command_says_what_it_fetched_and_exits_1_on_a_failure(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, population: SourceSpec
) -> None:
    env = {
        "ONERETURN_DATA_DIR": str(tmp_path / "data"),
        "ONERETURN_PUBLISHED_FETCH_ATTEMPTS": "1",
        "ONERETURN_PUBLISHED_FETCH_BACKOFF_SECONDS": "0",
    }
    with serving(FakeEes(versions={"1.0": population.bundled.read_bytes()})) as base:
        done = _fetch_command(store, monkeypatch, ONERETURN_PUBLISHED_EES_API=base, **env)
    assert done.exit_code == 0, done.output
    words = " ".join(done.output.split())
    assert "ons_population_0_17: release " in words
    assert "Asked 1 source(s): 1 release(s) imported, 0 source(s) with nothing new, 0 failed" in words
    # The publisher's server gone (no network): the failure is named, and the command exits 1.
    failed = _fetch_command(store, monkeypatch, ONERETURN_PUBLISHED_EES_API=base, **env)
    assert failed.exit_code == 1, failed.output
    words = " ".join(failed.output.split())
    assert "ons_population_0_17: " in words
    assert "ConnectError" in words
    assert "Asked 1 source(s): 0 release(s) imported, 0 source(s) with nothing new, 1 failed" in words
    assert _population(store, "E10000024", "CY2024") == [(1, 171572.0, True)]
