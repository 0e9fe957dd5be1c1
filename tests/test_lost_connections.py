"""A lost database connection, as a PostgreSQL failover, restart or idle-connection reaper causes, is never a 500:
a read is tried again on a fresh connection, a write is rolled back whole and answered 503 with Retry-After, and
nothing acknowledged is lost or stored twice."""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, text

from collectors.figures.service import submit
from onereturn.settings import Settings
from tests.live import serve_process
from tests.signoffs import sign_off_everything

pytestmark = pytest.mark.postgres

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
HEADER = "indicator,org,period,value,note\n"
#: Uploads sent while the service's connections are ended, each followed by every read below.
UPLOADS = 40
#: How many times an upload answered 503 is sent.
RETRIES = 6
READS = (
    ("/api/calendar?from=2025-04-01&to=2025-06-30", OFFICER),
    ("/api/submissions", NOTTS),
    ("/api/returns/dfe_ssda903/FY2024-25.json", DFE),
)


def _end_backends(dsn: str, database: str, stop: threading.Event, ended: list[int]) -> None:
    """End every connection to ``database`` but this one, every 0.2-0.8 s until ``stop``."""
    pace = random.Random(20261125)
    with psycopg.connect(dsn, autocommit=True) as admin:
        while not stop.wait(pace.uniform(0.2, 0.8)):
            row = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()
            ended.append(int(row[0]) if row else 0)


@pytest.mark.parametrize("store_template", ["postgresql"], indirect=True)
def test_ended_connections_give_no_500_and_lose_nothing_acknowledged(store: Engine, tmp_path: Path) -> None:
    url = store.url.render_as_string(hide_password=False)
    # Another council's figure of the return read below, uploaded and signed off, is on record: the service starts
    # without loading the demo's uploads (a first start's load is not what this test is about, and on PostgreSQL
    # it took most of its time), and each read of the return goes to the store for a figure it releases.
    earlier = f"{HEADER}cyp.lac_count,E09000023,2025-03-31,480,signed off\n".encode()
    assert submit(store, Settings(data_dir=tmp_path), agency_code="lewisham_council", filename="e.csv", data=earlier)
    assert sign_off_everything(store, returns=["dfe_ssda903"])
    # Two upload processes, as a user's server starts: the concurrent uploads this test counts need both.
    process, base, log = serve_process(
        tmp_path, "lost", ONERETURN_DATABASE_URL=url, ONERETURN_UPLOAD_WAIT_SECONDS="60", ONERETURN_UPLOAD_SLOTS="2"
    )
    dsn = url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    stop, ended = threading.Event(), list[int]()
    killer = threading.Thread(target=_end_backends, args=(dsn, store.url.database, stop, ended))
    answers: Counter[tuple[str, int]] = Counter()
    acknowledged: dict[int, int] = {}
    try:
        killer.start()
        with httpx.Client(base_url=base, timeout=120) as client:
            for n in range(UPLOADS):
                value = 3000 + n
                data = f"{HEADER}cyp.lac_count,E10000024,2025-03-31,{value},lost {n}\n".encode()
                # An upload answered 503 (its connection ended under it) is sent again, as its Retry-After asks, a
                # bounded number of times: on a slow host an upload is more often under a connection ended, and the
                # test counts what is lost, not how fast the host is. A retry of one stored before its answer was
                # lost is answered as that upload, and must be stored once.
                for _attempt in range(RETRIES):
                    answer = client.post(
                        "/api/submissions", headers=NOTTS, files={"file": ("lost.csv", data, "text/csv")}
                    )
                    answers[("upload", answer.status_code)] += 1
                    if answer.status_code != 503:
                        break
                    assert answer.headers.get("retry-after"), answer.headers
                if answer.status_code in (200, 201):
                    assert answer.json()["status"] == "accepted", answer.text
                    acknowledged[int(answer.json()["id"])] = value
                for path, key in READS:
                    read = client.get(path, headers=key)
                    answers[(path.split("?")[0], read.status_code)] += 1
                    if read.status_code == 503:
                        assert read.headers.get("retry-after"), read.headers
        stop.set()
        killer.join(30)
        with httpx.Client(base_url=base, timeout=60) as client:
            assert client.get("/health/ready").status_code == 200
            assert client.get("/api/submissions", headers=NOTTS).status_code == 200
            # The return read throughout has figures behind it, so each read went to the store for them.
            cells = client.get(READS[2][0], headers=DFE).json()["cells"]
            assert [c["value"] for c in cells if c["cell_id"] == "EPI.CLA_31MAR|E09000023|"] == [480], cells[:3]
    finally:
        stop.set()
        killer.join(30)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except Exception:
            process.kill()
            process.wait()
    logging.getLogger(__name__).warning(
        f"connections ended: {sum(ended)} in {len(ended)} rounds; answers: {sorted(answers.items())}"
    )
    assert sum(ended) > UPLOADS, f"too few connections were ended to test anything: {ended}"
    assert not [a for a in answers if a[1] >= 500 and a[1] != 503], (answers, log.read_text()[-4000:])
    assert len(acknowledged) >= UPLOADS // 2, answers
    with store.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT o.submission_id, o.value, o.is_current FROM observation o JOIN submission s "
                "ON s.id = o.submission_id WHERE s.filename = 'lost.csv' AND o.indicator_id = 'cyp.lac_count' "
                "AND o.org_code = 'E10000024'"
            )
        ).all()
    stored = Counter(int(sub) for sub, _value, _current in rows)
    for submission_id, value in acknowledged.items():
        assert stored[submission_id] == 1, f"upload {submission_id} stored {stored[submission_id]} times"
        assert value in {float(v) for s, v, _c in rows if int(s) == submission_id}
    current = [float(v) for _s, v, c in rows if c]
    assert current == [float(acknowledged[max(acknowledged)])] or max(stored) > max(acknowledged), current
