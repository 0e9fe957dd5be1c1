"""Two API workers and the scheduler on PostgreSQL take concurrent uploads from several agencies (re-uploads and
revisions of the same figures included) without losing, mixing or duplicating a figure; a worker starting while
uploads are in flight cuts none of them off."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from benchmarks import load
from collectors.figures.service import submit
from onereturn.settings import Settings

pytestmark = pytest.mark.postgres

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}


@dataclass
class Sender:
    """One agency's uploader: the figures it sends, and what the service said it accepted."""

    agency: str
    keys: list[tuple[str, str, str]]
    base: int
    accepted: list[tuple[int, dict[tuple[str, str, str], int]]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def csv(self, step: int) -> tuple[bytes, dict[tuple[str, str, str], int]]:
        """The upload for one step: every figure's value moves by one per step."""
        values = {key: self.base + 10 * i + step for i, key in enumerate(self.keys)}
        lines = ["indicator,org,period,value", *(f"{i},{o},{p},{v}" for (i, o, p), v in values.items())]
        return ("\n".join(lines) + "\n").encode(), values


def _senders(engine: Engine) -> list[Sender]:
    with engine.connect() as conn:

        def orgs(agency: str, limit: int) -> list[str]:
            sql = "SELECT org_code FROM agency_org WHERE agency_code = :a ORDER BY org_code LIMIT :n"
            return list(conn.execute(text(sql), {"a": agency, "n": limit}).scalars())

        pop = list(
            conn.execute(
                text(
                    "SELECT indicator_id FROM agency_indicator WHERE agency_code = 'ons' "
                    "AND indicator_id LIKE 'pop.resident%' ORDER BY 1 LIMIT 4"
                )
            ).scalars()
        )
        ons_orgs, dfe_orgs = orgs("ons", 100), orgs("dfe", 150)
    ons = [(i, o, f"CY{y}") for y in (2001, 2002) for i in pop for o in ons_orgs]
    dfe = [("cyp.permanent_exclusions_n", o, "AY2019-20") for o in dfe_orgs]
    notts = [
        (i, "E10000024", f"FY{y}-{(y + 1) % 100:02d}")
        for i in ("cyp.care_leavers_17_18", "cyp.care_leavers_19_21")
        for y in range(2015, 2020)
    ]
    lewisham = [
        (i, "E09000023", f"FY{y}-{(y + 1) % 100:02d}")
        for i in ("cyp.care_leavers_17_18", "cyp.care_leavers_19_21")
        for y in range(2015, 2020)
    ]
    # Two senders revise the same ONS figures side by side; the others each have their own.
    return [
        Sender("ons", ons, 100_000),
        Sender("ons", ons, 100_000),
        Sender("dfe", dfe, 100_000),
        Sender("notts_cyp", notts, 5_000),
        Sender("lewisham_council", lewisham, 5_000),
    ]


#: A sender's pause between one answer and its next upload. Five senders back to back kept both cores busy with
#: uploads for the whole test (about 95 s of CPU on a slow host); paused, each still has an upload in flight most
#: of the time, so the uploads still overlap each other and the second worker's start.
PAUSE = 0.5


def _send(urls: list[str], sender: Sender, stop: threading.Event, offset: int) -> None:
    step, sent = 0, 0
    clients: dict[str, httpx.Client] = {}
    try:
        while not stop.is_set():
            # Every third upload repeats the one before it exactly; the others revise every figure.
            send = step if sent % 3 == 2 else step + 1
            data, values = sender.csv(send)
            # Round robin over the workers' addresses known now (the second worker joins later).
            url = urls[(sent + offset) % len(urls)]
            if url not in clients:
                clients[url] = httpx.Client(base_url=url, timeout=120, headers=OFFICER)
            client = clients[url]
            answer = client.post(
                "/api/submissions", files={"file": ("figures.csv", data, "text/csv")}, data={"agency": sender.agency}
            )
            sender.statuses.append(answer.status_code)
            if answer.status_code in (200, 201):
                body = answer.json()
                if body["status"] != "accepted":
                    sender.refused.append(f"{body['status']}: {body['message']}")
                    return
                sender.accepted.append((int(body["id"]), values))
                step = send
            sent += 1
            stop.wait(PAUSE)
    finally:
        for client in clients.values():
            client.close()


def _in_flight(engine: Engine) -> int:
    with engine.connect() as conn:
        sql = "SELECT count(*) FROM submission WHERE status IN ('received', 'storing')"
        return int(conn.execute(text(sql)).scalar_one())


@pytest.mark.parametrize("store_template", ["postgresql"], indirect=True)
def test_two_workers_store_every_accepted_figure_once_and_a_starting_worker_cuts_off_nothing(
    store: Engine, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ONERETURN_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "ONERETURN_DATA_DIR": str(tmp_path / "data"),
        "ONERETURN_SCHEDULER_EMBEDDED": "false",
        "ONERETURN_LOAD_DEMO": "true",
        "ONERETURN_UPLOAD_WAIT_SECONDS": "60",
        # One upload process a worker, not two: three workers' second processes cost a start each (about 3 s of
        # CPU) and this test is of two workers, not of a worker's processes (tests/api/test_upload_processes.py).
        "ONERETURN_UPLOAD_SLOTS": "1",
    }
    # An earlier upload is on record, so the service starts without loading the demo's uploads (keys only).
    earlier = b"indicator,org,period,value\nhealth.maternity_assessments,E09000023,FY2020-21-Q1,5000\n"
    assert submit(
        store, Settings(data_dir=tmp_path / "data"), agency_code="lewisham_pct", filename="earlier.csv", data=earlier
    )
    log, second_log = tmp_path / "service.log", tmp_path / "second.log"
    port = load.free_port()
    procs = load._start(env, port, 2, log)
    second: list[subprocess.Popen[bytes]] = []
    try:
        senders = _senders(store)
        urls = [f"http://127.0.0.1:{port}"]
        stop = threading.Event()
        threads = [threading.Thread(target=_send, args=(urls, s, stop, n)) for n, s in enumerate(senders)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while (
            not all(s.accepted for s in senders) and all(t.is_alive() for t in threads) and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        # A second worker process starts (its start-up looks for cut-off uploads) while uploads are in flight.
        seen: list[int] = []
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                seen.append(_in_flight(store))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        second_port = load.free_port()
        second = load._start(env, second_port, 1, second_log)
        sampling.set()
        sampler.join()
        # The second worker takes uploads too, then everyone stops.
        urls.append(f"http://127.0.0.1:{second_port}")
        time.sleep(3)
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        load._stop(second + procs)
    assert max(seen) > 0, "no upload was in flight while the second worker started"
    assert "were cut off" not in second_log.read_text()
    for sender in senders:
        assert not sender.refused, (sender.agency, sender.refused)
        assert sender.accepted, f"{sender.agency}: nothing accepted ({sender.statuses})"
        assert set(sender.statuses) <= {200, 201}, (sender.agency, sender.statuses)
    with store.connect() as conn:
        sql = "SELECT status, count(*) FROM submission WHERE filename = 'figures.csv' GROUP BY status"
        statuses = {str(status): int(count) for status, count in conn.execute(text(sql))}
        assert set(statuses) == {"accepted"}, statuses
        assert not conn.execute(text("SELECT count(*) FROM submission WHERE status = 'interrupted'")).scalar_one()
        rows = conn.execute(
            text(
                "SELECT indicator_id, org_code, period, value, version, is_current FROM observation "
                "WHERE submission_id IN (SELECT id FROM submission WHERE filename = 'figures.csv')"
            )
        ).all()
    current: dict[tuple[str, str, str], list[float]] = {}
    history: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    for indicator, org, period, value, version, is_current in rows:
        key = (indicator, org, period)
        history.setdefault(key, []).append((version, float(value)))
        if is_current:
            current.setdefault(key, []).append(float(value))
    for sender in senders:
        for submission_id, values in sender.accepted:
            for key, value in values.items():
                assert len(current.get(key, [])) == 1, f"{key} is current {len(current.get(key, []))} times"
                # Reported accepted: that value is stored as a version of the figure.
                assert value in {v for _, v in history[key]}, (submission_id, key, value)
        last = sender.accepted[-1][1]
        shared = sum(s.keys == sender.keys for s in senders) > 1
        for key, value in last.items():
            if shared:
                # Two senders revise these side by side: the current value is one of the values they had accepted.
                assert current[key][0] in {v[key] for s in senders if s.keys == sender.keys for _, v in s.accepted}
            else:
                assert current[key] == [value], (key, current[key], value)
    for key, versions in history.items():
        numbers = sorted(v for v, _ in versions)
        assert numbers == list(range(1, len(numbers) + 1)), (key, numbers)
