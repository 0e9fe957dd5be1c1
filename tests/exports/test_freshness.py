"""Builds off the request path: changes mark only the builds they reach, pulls never wait, one build is shared."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from collectors.figures.service import submit
from exports import blobs, freshness
from exports import service as exports
from mappings.models import BuildRevision
from onereturn.settings import Settings
from tests.signoffs import sign_off_everything

HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
DFE, NDTMS = "dfe_ssda903", "ndtms_adult_monthly"


def upload(engine: Engine, settings: Settings, *rows: str) -> None:
    """Upload figures as Nottinghamshire and sign them off, so a rebuild releases them."""
    outcome = submit(
        engine, settings, agency_code="notts_cyp", filename="n.csv", data=(HEADER + "\n".join(rows) + "\n").encode()
    )
    assert outcome.submission is not None
    assert outcome.submission.status == "accepted", outcome.problems
    sign_off_everything(engine, returns=[DFE])


def revisions(engine: Engine) -> dict[tuple[str, str], int]:
    with Session(engine) as session:
        return {(r.return_id, r.period): r.revision for r in session.execute(select(BuildRevision)).scalars()}


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Record every build that actually runs."""
    made: list[tuple[str, str]] = []
    real = exports._build

    def counted(session: Session, return_id: str, period: str, *args: Any) -> Any:
        made.append((return_id, period))
        return real(session, return_id, period, *args)

    monkeypatch.setattr(exports, "_build", counted)
    return made


def pull(engine: Engine, return_id: str, period: str, fmt: str = "csv", *, fresh: bool = False) -> freshness.Pulled:
    with Session(engine) as session:
        pulled = freshness.pull(session, return_id, period, fmt, fresh=fresh)
        session.commit()
        return pulled


def test_a_change_marks_only_the_builds_it_reaches_and_the_worker_rebuilds_them(
    store: Engine, store_settings: Settings, builds: list[tuple[str, str]]
) -> None:
    upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    first = pull(store, DFE, "FY2024-25")
    earlier = pull(store, DFE, "FY2022-23")
    other = pull(store, NDTMS, "2024-03")
    assert not first.pending
    assert not earlier.pending
    assert not other.pending
    assert len(builds) == 3
    before = revisions(store)

    upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1120,,,,")
    after = revisions(store)
    assert after[(DFE, "FY2024-25")] == before[(DFE, "FY2024-25")] + 1
    assert after[(DFE, "FY2022-23")] == before[(DFE, "FY2022-23")], "a period the figure does not reach"
    assert after[(NDTMS, "2024-03")] == before[(NDTMS, "2024-03")], "a return that does not read the indicator"

    # The pull answers at once with what it has, saying a newer build is pending; nothing is built on the request.
    stale = pull(store, DFE, "FY2024-25")
    assert stale.pending
    assert stale.snapshot.id == first.snapshot.id
    assert pull(store, DFE, "FY2022-23").pending is False
    assert len(builds) == 3

    with Session(store) as session:
        assert freshness.stale(session) == [(DFE, "FY2024-25", ["csv"])]
    assert freshness.rebuild_stale(store) == 1
    assert len(builds) == 4
    with Session(store) as session:
        assert freshness.stale(session) == []
    current = pull(store, DFE, "FY2024-25")
    assert not current.pending
    assert current.snapshot.id != first.snapshot.id
    assert b"1120" in current.snapshot.data
    assert len(builds) == 4


def test_a_rebuild_stops_between_returns_when_the_service_stops(
    store: Engine, store_settings: Settings, builds: list[tuple[str, str]]
) -> None:
    """A stop asked for during a rebuild of several stale returns ends it after the return in hand; the rest stay
    stale for the next start."""
    upload(
        store,
        store_settings,
        "cyp.lac_count,E10000024,2025-03-31,,1100,,,,",
        "cyp.lac_count,E10000024,2023-03-31,,900,,,,",
    )
    pull(store, DFE, "FY2024-25")
    pull(store, DFE, "FY2022-23")
    upload(
        store,
        store_settings,
        "cyp.lac_count,E10000024,2025-03-31,,1120,,,,",
        "cyp.lac_count,E10000024,2023-03-31,,910,,,,",
    )
    with Session(store) as session:
        assert len(freshness.stale(session)) == 2
    made = len(builds)
    assert freshness.rebuild_stale(store, stopping=lambda: len(builds) > made) == 1
    with Session(store) as session:
        assert len(freshness.stale(session)) == 1
    assert freshness.rebuild_stale(store) == 1


def test_fresh_waits_for_the_rebuild(store: Engine, store_settings: Settings, builds: list[tuple[str, str]]) -> None:
    upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    first = pull(store, DFE, "FY2024-25")
    upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1120,,,,")
    fresh = pull(store, DFE, "FY2024-25", fresh=True)
    assert not fresh.pending
    assert fresh.snapshot.id != first.snapshot.id
    assert fresh.as_of > first.as_of
    assert len(builds) == 2
    # Fresh again with nothing changed builds nothing.
    assert pull(store, DFE, "FY2024-25", fresh=True).snapshot.id == fresh.snapshot.id
    assert len(builds) == 2


def test_a_pull_serves_the_stored_bytes_of_the_snapshot_it_names_whether_held_in_memory_or_not(
    store: Engine, store_settings: Settings
) -> None:
    upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    served = [pull(store, DFE, "FY2024-25") for _ in range(2)]
    upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1120,,,,")
    served += [pull(store, DFE, "FY2024-25") for _ in range(2)]  # the old snapshot, pending
    served.append(pull(store, DFE, "FY2024-25", fresh=True))
    assert [s.pending for s in served] == [False, False, True, True, False]
    with Session(store) as session:
        for pulled in served:
            assert pulled.snapshot.data == exports.get_snapshot(session, pulled.snapshot.id).data
    assert b"1120" in served[-1].snapshot.data
    assert b"1120" not in served[0].snapshot.data


def test_the_bytes_held_in_memory_stay_within_their_limit_and_drop_the_least_recently_served() -> None:
    held = blobs.Held(limit=100)
    held.put("a", b"x" * 20)
    held.put("b", b"y" * 20)
    held.put("huge", b"z" * 26)  # over a quarter of the limit: never held
    assert held.get("huge") is None
    assert held.get("a") == b"x" * 20  # now the most recently served
    for name in "cdef":
        held.put(name, b"w" * 20)
    assert held.get("b") is None  # put after "a" but served before it
    assert held.get("a") == b"x" * 20
    assert held.get("f") == b"w" * 20
    assert held._size <= 100


def test_snapshots_too_large_for_memory_are_kept_on_disk_shared_and_trimmed(tmp_path: Path) -> None:
    folder = tmp_path / "snapshot-cache"
    one, two, three = ("1" * 64, "2" * 64, "3" * 64)
    held = blobs.Held(limit=100)
    held.put(one, b"a" * 30)  # over a quarter of the limit, and no folder yet: not kept
    assert held.get(one) is None
    held.keep_on_disk(folder, 100)
    held.put(one, b"a" * 30)
    assert (folder / one).read_bytes() == b"a" * 30
    assert held._size == 0  # on disk, not in memory
    # Another worker of the host, with an empty memory, reads the same file.
    other = blobs.Held(limit=100)
    other.keep_on_disk(folder, 100)
    assert other.get(one) == b"a" * 30
    os.utime(folder / one, (1_000, 1_000))  # served long ago
    held.put(two, b"b" * 40)
    os.utime(folder / two, (2_000, 2_000))
    held.put(three, b"c" * 40)  # 110 bytes: the least recently served goes
    assert sorted(p.name for p in folder.iterdir()) == [two, three]
    assert held.get(one) is None
    assert held.get(three) == b"c" * 40
    # Only a SHA-256 in hex ever names a file, and nothing larger than the folder's room is written.
    held.put("../escape" + "0" * 55, b"d" * 30)
    held.put("4" * 64, b"e" * 101)
    assert sorted(p.name for p in folder.iterdir()) == [two, three]
    assert not (tmp_path / "escape").exists()
    held.keep_on_disk(folder, 0)  # turned off
    assert held.get(two) is None


def test_a_pull_of_a_snapshot_too_large_for_memory_reads_it_from_disk_after_the_first(
    store: Engine, store_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    kept = blobs.Held(limit=8)  # every snapshot is over a quarter of it
    kept.keep_on_disk(tmp_path, 1 << 30)
    monkeypatch.setattr(blobs, "BYTES", kept)
    first = pull(store, DFE, "FY2024-25")
    with Session(store) as session:
        stored = exports.get_snapshot(session, first.snapshot.id).data
    assert first.snapshot.data == stored
    assert (tmp_path / first.snapshot.content_hash).read_bytes() == stored

    def no_blob(*_: Any) -> bytes:
        raise AssertionError("read the blob from the store again")

    monkeypatch.setattr(blobs, "_from_store", no_blob)
    again = pull(store, DFE, "FY2024-25")
    assert (again.snapshot.id, again.snapshot.data, again.pending) == (first.snapshot.id, stored, False)


@pytest.mark.parametrize("first_pull", [True, False], ids=["never-built", "stale-fresh"])
def test_concurrent_requests_for_one_build_share_it(
    store: Engine, store_settings: Settings, builds: list[tuple[str, str]], first_pull: bool
) -> None:
    upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    if not first_pull:
        pull(store, DFE, "FY2024-25")
        upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1120,,,,")
        builds.clear()
    n = 6
    start = threading.Barrier(n)
    served: list[int] = []
    failures: list[BaseException] = []

    def one() -> None:
        try:
            start.wait()
            served.append(pull(store, DFE, "FY2024-25", fresh=not first_pull).snapshot.id)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert builds == [(DFE, "FY2024-25")]
    assert len(served) == n
    assert len(set(served)) == 1


def test_a_snapshot_built_before_counting_began_is_not_taken_as_current(
    store: Engine, store_settings: Settings
) -> None:
    upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    with Session(store) as session:
        # As the calendar's build-at-close job or the demo builds: straight to a snapshot, no counter.
        old = exports.snapshot(session, DFE, "FY2024-25", "csv")
        session.commit()
    upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1120,,,,")
    served = pull(store, DFE, "FY2024-25")
    assert served.snapshot.id != old.id
    assert b"1120" in served.snapshot.data
    assert not served.pending


def test_the_schedulers_rebuild_job_brings_stale_builds_up_to_date(store: Engine, store_settings: Settings) -> None:
    import scheduler
    from onereturn import jobs

    assert "rebuild" in scheduler.PERIODIC
    jobs.bind(engine=store)
    upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    first = pull(store, DFE, "FY2024-25")
    upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1120,,,,")
    assert pull(store, DFE, "FY2024-25").pending
    try:
        scheduler.job_rebuild()
    finally:
        jobs.unbind("engine")
    after = pull(store, DFE, "FY2024-25")
    assert not after.pending
    assert after.snapshot.id != first.snapshot.id


def test_one_upload_across_many_periods_marks_exactly_the_builds_a_period_at_a_time_would(store: Engine) -> None:
    """Spans are merged and grouped per set of returns; the builds marked are those each figure reaches on its own."""
    import polars as pl

    from indicators.periods import parse_period
    from mappings.filling import LONGER, SHOWS_NEWEST
    from mappings.models import Return
    from mappings.revisions import feeds, mark_stale

    with Session(store) as session:
        reach, context = feeds(session)
        # A quarterly return shows a year's figure in the quarters after it too (its newest figure).
        newest = {r.id for r in session.execute(select(Return)).scalars() if r.period_type in SHOWS_NEWEST}
        population = next(i for i in sorted(context) if i.startswith("pop.") and reach.get(i))
        counted = next(i for i in sorted(reach) if i not in context and DFE in reach[i])
        built = [
            (r, f"FY{y}-{(y + 1) % 100:02d}")
            for r in sorted(reach[population] | reach[counted])
            for y in range(2000, 2031, 3)
        ]
        for return_id, code in built:
            p = parse_period(code)
            session.add(BuildRevision(return_id=return_id, period=code, starts=p.start, ends=p.end, revision=0))
        session.commit()
        # Years with gaps between them, so merging must not join what is apart.
        years = [2001, 2002, 2003, 2009, 2010, 2016, 2024]
        changed = pl.DataFrame({"indicator_id": [counted] * 4 + [population] * 3, "period": [f"CY{y}" for y in years]})
        mark_stale(session, changed)
        session.commit()
        marked = {(r.return_id, r.period) for r in session.execute(select(BuildRevision)).scalars() if r.revision}
    expected = set()
    for ind, code in changed.iter_rows():
        span = parse_period(code)
        for return_id, period in built:
            p = parse_period(period)
            later = ind in context or (return_id in newest and span.type in LONGER)
            if return_id in reach.get(ind, ()) and (
                (p.start <= span.end and p.end >= span.start) or (later and p.start > span.end)
            ):
                expected.add((return_id, period))
    assert marked == expected
    assert expected
    assert expected != set(built)


@pytest.mark.parametrize("changed", [True, False], ids=["after-a-change", "a-format-not-yet-made"])
def test_two_processes_building_one_return_at_once_store_it_once(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch, changed: bool
) -> None:
    """Each API worker has its own in-process gate: the database must make the second wait and reuse the first's."""
    upload(store, store_settings, "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    pull(store, DFE, "FY2024-25", "json")
    if changed:
        with Session(store) as session:
            # A change that leaves the return's cells as they were: the rebuild reuses the last build and adds a format.
            counter = session.get(BuildRevision, (DFE, "FY2024-25"))
            assert counter is not None
            counter.revision += 1
            session.commit()
    # Otherwise the build is current and two pulls want a format it has not been written in yet.
    # Two processes: a gate each.
    monkeypatch.setattr(freshness, "GATE", _PerThreadGate())
    # Both reach the store's "is this format there yet?" before either writes, unless one waits for the other.
    meet = threading.Barrier(2, timeout=1)
    real = exports._stored

    def stored(session: Session, build_id: int, fmt: str) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):
            meet.wait()
        return real(session, build_id, fmt)

    monkeypatch.setattr(exports, "_stored", stored)
    served: list[int] = []
    failures: list[BaseException] = []

    def one() -> None:
        try:
            served.append(pull(store, DFE, "FY2024-25", "csv", fresh=changed).snapshot.id)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(served) == 2
    assert len(set(served)) == 1


class _PerThreadGate:
    """A gate that never shares a lock between threads, as two processes share none."""

    @staticmethod
    def hold(return_id: str, period: str) -> Any:
        return freshness._Gate().hold(return_id, period)
