"""Upload leases: a worker renews the lease of the upload it processes; only an upload whose lease ran out is
marked interrupted (a worker starting never cuts off another's upload), and a cut-off upload stores nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from collectors.door import lease
from collectors.door.head import keep_raw
from collectors.figures.service import submit
from collectors.figures.validate import validate
from collectors.store import current_for_keys
from collectors.ways_in import rerun as reprocess
from indicators.store.models import Observation, Submission
from onereturn.errors import ProcessingFailed
from onereturn.settings import Settings
from tests.helpers import kept_bytes

DATA = (
    b"indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
    b"cyp.cin_count,E10000024,2024-06-30,,512,,,,\ncyp.lac_count,E10000024,2025-03-31,,1100,,,,\n"
)


def _unfinished(engine: Engine, settings: Settings, *, owner: str, lease_until: datetime | None) -> int:
    """Record an upload left mid-way by ``owner``, as a worker does before it reads the file."""
    digest, name = keep_raw(engine, settings, DATA)
    with Session(engine) as session:
        submission = Submission(
            agency_code="notts_cyp",
            filename="f.csv",
            source_format="csv",
            size_bytes=len(DATA),
            content_hash=digest,
            raw_path=name,
            received_at=datetime.now(UTC),
            mode="default",
            status="storing",
            lease_owner=owner,
            lease_until=lease_until,
        )
        session.add(submission)
        session.commit()
        assert submission.id is not None
        return submission.id


def _get(engine: Engine, submission_id: int) -> Submission:
    with Session(engine) as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        return submission


def test_only_an_upload_whose_lease_ran_out_is_marked_interrupted_and_it_runs_again(
    store: Engine, store_settings: Settings
) -> None:
    now = datetime.now(UTC)
    live = _unfinished(
        store, store_settings, owner="other-host:41:20261123T060000", lease_until=now + timedelta(minutes=1)
    )
    gone = _unfinished(
        store, store_settings, owner="old-host:7:20261123T050000", lease_until=now - timedelta(seconds=1)
    )
    before_leases = _unfinished(store, store_settings, owner="", lease_until=None)
    with Session(store) as session:
        assert lease.mark_expired(session, now) == 2
        session.commit()
    assert _get(store, live).status == "storing"
    cut = _get(store, gone)
    assert cut.status == "interrupted"
    assert "old-host:7" in cut.message
    assert f"onereturn submissions reprocess {gone}" in cut.message
    assert _get(store, before_leases).status == "interrupted"
    outcome = reprocess(store, store_settings, gone)
    assert outcome.submission is not None
    assert outcome.submission.status == "accepted"
    assert _get(store, gone).lease_owner == lease.worker_id()
    # The live upload's lease runs out only when its worker stops renewing it.
    with Session(store) as session:
        assert lease.mark_expired(session, now + timedelta(minutes=2)) == 1
        session.commit()
    assert _get(store, live).status == "interrupted"


def test_the_worker_renews_its_lease_while_it_works_and_not_after(store: Engine, store_settings: Settings) -> None:
    start = datetime.now(UTC)
    mine = _unfinished(store, store_settings, owner=lease.worker_id(), lease_until=start + timedelta(seconds=0.4))
    theirs = _unfinished(store, store_settings, owner="other-host:41:x", lease_until=start + timedelta(seconds=0.4))
    with lease.held(store, mine, 0.4), lease.held(store, theirs, 0.4):
        time.sleep(1.0)
    with Session(store) as session:
        marked = lease.mark_expired(session, start + timedelta(seconds=0.5))
        session.commit()
    assert marked == 1, "only the other worker's upload, never renewed here, had run out"
    assert _get(store, theirs).status == "interrupted"
    mine_now = _get(store, mine).lease_until
    assert mine_now is not None
    assert mine_now.replace(tzinfo=UTC) > start + timedelta(seconds=0.8)
    with Session(store) as session:
        session.execute(update(Submission).where(col(Submission.id) == mine).values(status="accepted"))
        session.commit()
    assert not lease.renew(store, mine, 60), "a finished upload's lease is not renewed"


def test_an_upload_marked_interrupted_while_it_is_processed_stores_nothing(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lease_runs_out(*args: object, **kwargs: object) -> object:
        result = validate(*args, **kwargs)  # type: ignore[arg-type]
        with Session(store) as session:
            assert lease.mark_expired(session, datetime.now(UTC) + timedelta(hours=1)) == 1
            session.commit()
        return result

    monkeypatch.setattr("collectors.figures.service.validate", lease_runs_out)
    with pytest.raises(ProcessingFailed, match="lease ran out"):
        submit(store, store_settings, agency_code="notts_cyp", filename="f.csv", data=DATA)
    with Session(store) as session:
        submission = session.execute(select(Submission)).scalars().one()
        assert submission.status == "interrupted"
        assert session.execute(select(func.count()).select_from(Observation)).scalar_one() == 0
    assert kept_bytes(store, store_settings, submission.raw_path) == DATA
    monkeypatch.undo()
    outcome = submit(store, store_settings, agency_code="notts_cyp", filename="f.csv", data=DATA)
    assert outcome.submission is not None
    assert outcome.submission.status == "accepted"


@pytest.mark.postgres
@pytest.mark.parametrize("store_template", ["postgresql"], indirect=True)
def test_a_lease_running_out_inside_the_store_transaction_rolls_it_back(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lease_runs_out(*args: object, **kwargs: object) -> object:
        # PostgreSQL: the upload's transaction holds the write lock, not the submission's row, so another
        # process can mark it now; its final update then finds it interrupted and rolls everything back.
        with Session(store) as session:
            assert lease.mark_expired(session, datetime.now(UTC) + timedelta(hours=1)) == 1
            session.commit()
        return current_for_keys(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("collectors.door.spine.current_for_keys", lease_runs_out)
    with pytest.raises(ProcessingFailed, match="lease ran out"):
        submit(store, store_settings, agency_code="notts_cyp", filename="f.csv", data=DATA)
    with Session(store) as session:
        assert session.execute(select(Submission.status)).scalar_one() == "interrupted"
        assert session.execute(select(func.count()).select_from(Observation)).scalar_one() == 0
