"""Two hosts on one store (SQLite and PostgreSQL): each its own data folder, the same records key. What one host
received, the other reruns, resumes, builds Annex A and report.xlsx from, and purges, with the first host's data
folder out of its reach; a kept file no host can read leaves its upload to run again; rejected files sent again are
a new upload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fastexcel
import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col

from collectors import door
from collectors.door.requests import RecordFiles
from collectors.figures.service import submit
from collectors.records.receiving import WAY, receive
from collectors.records.service import AGAIN, process_records
from collectors.retention import purge
from collectors.ways_in import rerun as reprocess
from indicators.store.models import Submission
from onereturn import keptfiles
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records.annex_a_cases import CIN_XML, plant_kept, write_903
from tests.collectors.records.samples import PASSING, cut_off, figures_of
from tests.helpers import HEADER, NOTTS, kept_names

NOTTS_COUNCIL = "notts_cyp"
ROWS = "".join(f"cyp.cin_count,E10000024,{year}-06-30,,{500 + year % 100},,,,\n" for year in range(2015, 2025))


@dataclass
class Hosts:
    """Two hosts' settings on one store: ``a`` received the uploads, ``b`` is the other host."""

    store: Engine
    a: Settings
    b: Settings

    def hide_a(self) -> None:
        """Put host A's data folder out of reach, as it is from another host."""
        self.a.data_dir.rename(self.a.data_dir.with_name("a-out-of-reach"))


@pytest.fixture
def hosts(store: Engine, tmp_path: Path) -> Hosts:
    # One key for both, as every host of a deployment is given (written by the first use, then read by the other).
    key = tmp_path / "keys" / "records-keys.json"
    a = Settings(data_dir=tmp_path / "a", records_keys_file=key)
    b = Settings(data_dir=tmp_path / "b", records_keys_file=key)
    a.data_dir.mkdir()
    b.data_dir.mkdir()
    return Hosts(store, a, b)


def _status(store: Engine, sid: int) -> Submission:
    with Session(store) as session:
        found = session.get(Submission, sid)
        assert found is not None
        return found


def _received(hosts: Hosts, settings: Settings, purpose: str = "return") -> int:
    got = receive(
        hosts.store,
        settings,
        RecordFiles(
            agency_code=NOTTS_COUNCIL, collection_year="2024-25", files=[(p.name, p) for p in PASSING], purpose=purpose
        ),
    )
    assert not got.duplicate
    assert got.submission.id is not None
    return got.submission.id


@pytest.fixture
def planted(hosts: Hosts, tmp_path: Path) -> Hosts:
    """The council's CIN census and SSDA903 records kept by host A."""
    census = tmp_path / "in" / "cin_census.xml"
    census.parent.mkdir()
    census.write_text(CIN_XML, encoding="utf-8")
    plant_kept(hosts.store, hosts.a, "cin", [census])
    plant_kept(hosts.store, hosts.a, "903", write_903(tmp_path / "in" / "903"))
    return hosts


def _annex_a_counts(hosts: Hosts, settings: Settings) -> dict[int, int]:
    with client_on(settings, hosts.store) as client:
        answer = client.get(
            f"/api/agencies/{NOTTS_COUNCIL}/annex-a", headers=NOTTS, params={"inspection_date": "2025-11-15"}
        )
    assert answer.status_code == 200, answer.text
    return {item["list"]: item["rows"] for item in answer.json()["lists"]}


def test_annex_a_from_the_other_host_has_the_same_counts(planted: Hosts) -> None:
    on_a = _annex_a_counts(planted, planted.a)
    assert on_a == {1: 0, 2: 0, 3: 4, 4: 1, 5: 1, 6: 3, 7: 1, 8: 3, 9: 0, 10: 1, 11: 0}
    planted.hide_a()
    assert _annex_a_counts(planted, planted.b) == on_a
    # Host B receives a newer census of the same records: both hosts read both hosts' files.
    newer = planted.a.data_dir.parent / "in-b" / "cin_census.xml"
    newer.parent.mkdir()
    newer.write_text(CIN_XML + "\n", encoding="utf-8")
    plant_kept(planted.store, planted.b, "cin", [newer])
    planted.a.data_dir.mkdir()  # host A again, with an empty data folder
    assert _annex_a_counts(planted, planted.a) == on_a
    assert _annex_a_counts(planted, planted.b) == on_a


def test_an_upload_is_reprocessed_with_the_other_hosts_data_folder(hosts: Hosts) -> None:
    outcome = submit(hosts.store, hosts.a, agency_code=NOTTS_COUNCIL, filename="f.csv", data=(HEADER + ROWS).encode())
    assert outcome.submission is not None
    assert outcome.submission.id is not None
    sid = outcome.submission.id
    assert not Path(outcome.submission.raw_path).is_absolute(), "named by its content, not a host's path"
    with Session(hosts.store) as session:
        session.execute(update(Submission).where(col(Submission.id) == sid).values(status="failed"))
        session.commit()
    hosts.hide_a()
    again = reprocess(hosts.store, hosts.b, sid).submission
    assert again is not None
    assert (again.id, again.status) == (sid, "accepted")


def test_an_interrupted_record_level_upload_is_finished_by_the_other_hosts_resume(hosts: Hosts) -> None:
    sid = _received(hosts, hosts.a)
    cut_off(hosts.store, sid, stage="dfe_rules", until=datetime.now(UTC) - timedelta(seconds=1))
    hosts.hide_a()
    assert door.resume(hosts.store, hosts.b, WAY.name, AGAIN) == [sid]
    done = _status(hosts.store, sid)
    assert (done.status, done.stage) == ("accepted", "stored"), done.message
    assert figures_of(hosts.store, sid) > 0


def test_a_purge_on_the_other_host_removes_the_kept_bytes_but_not_those_a_live_upload_names(hosts: Hosts) -> None:
    first = _received(hosts, hosts.a)
    assert process_records(hosts.store, hosts.a, first).status == "accepted"
    # The same files again, as an Annex A extract: another upload naming the same kept file.
    extract = _received(hosts, hosts.a, purpose="annex_a")
    (name,) = kept_names(hosts.store, hosts.a, keptfiles.RECORDS)
    assert _status(hosts.store, extract).raw_path == name
    hosts.hide_a()
    with Session(hosts.store) as session:
        old = datetime.now(UTC) - timedelta(days=hosts.b.records_retention_days + 1)
        session.execute(update(Submission).where(col(Submission.id) == first).values(received_at=old))
        session.commit()
    done = purge(hosts.store, hosts.b)
    assert (done.submissions, done.files) == (1, 0), "the extract still names the file"
    assert keptfiles.read(hosts.store, hosts.b, name)
    assert process_records(hosts.store, hosts.b, extract).status == "accepted"
    later = datetime.now(UTC) + timedelta(days=hosts.b.records_retention_days + 1)
    done = purge(hosts.store, hosts.b, now=later)
    assert (done.submissions, done.files) == (1, 1)
    assert kept_names(hosts.store, hosts.b, keptfiles.RECORDS) == []
    with pytest.raises(keptfiles.KeptFileMissing):
        keptfiles.read(hosts.store, hosts.b, name)


def test_report_xlsx_from_the_other_host_has_the_figures_or_says_the_file_is_missing(hosts: Hosts) -> None:
    outcome = submit(hosts.store, hosts.a, agency_code=NOTTS_COUNCIL, filename="f.csv", data=(HEADER + ROWS).encode())
    assert outcome.submission is not None
    sid = outcome.submission.id
    hosts.hide_a()
    with client_on(hosts.b, hosts.store) as client:
        answer = client.get(f"/api/submissions/{sid}/report.xlsx", headers=NOTTS)
        assert answer.status_code == 200, answer.text
        figures = fastexcel.read_excel(answer.content).load_sheet_by_name("Figures").to_polars()
        assert figures.height == 10
        keptfiles.forget(hosts.store, hosts.b, outcome.submission.raw_path)
        missing = client.get(f"/api/submissions/{sid}/report.xlsx", headers=NOTTS)
    assert missing.status_code == 404, missing.text
    assert f"The kept file of submission {sid} is missing" in missing.json()["error"]


def test_a_kept_file_no_host_can_read_leaves_the_upload_to_run_again(hosts: Hosts) -> None:
    sid = _received(hosts, hosts.a)
    stored = _status(hosts.store, sid).raw_path
    data = keptfiles.read(hosts.store, hosts.a, stored)
    keptfiles.forget(hosts.store, hosts.a, stored)
    ended = process_records(hosts.store, hosts.b, sid)
    assert ended.status == "failed", ended.message
    assert f"onereturn submissions reprocess {sid}" in ended.message
    # The file back where the store keeps it (a host that had it copied it in): run again, it is stored.
    keptfiles.keep(hosts.store, hosts.a, stored, data)
    rerun = reprocess(hosts.store, hosts.b, sid).submission
    assert rerun is not None
    assert rerun.status == "accepted"


def test_the_files_of_a_rejected_upload_sent_again_are_a_new_upload(hosts: Hosts) -> None:
    sid = _received(hosts, hosts.a)
    with Session(hosts.store) as session:
        session.execute(update(Submission).where(col(Submission.id) == sid).values(status="rejected", stage="rejected"))
        session.commit()
    again = _received(hosts, hosts.b)
    assert again != sid
    assert process_records(hosts.store, hosts.b, again).status == "accepted"


def test_a_file_an_earlier_release_kept_on_one_hosts_disk_is_read_and_then_shared(hosts: Hosts) -> None:
    """An earlier release named a kept file by host A's path: host A reads it there, and on PostgreSQL copies it
    into the store, so host B reads it from then on."""
    outcome = submit(hosts.store, hosts.a, agency_code=NOTTS_COUNCIL, filename="f.csv", data=(HEADER + ROWS).encode())
    assert outcome.submission is not None
    name = outcome.submission.raw_path
    data = keptfiles.read(hosts.store, hosts.a, name)
    keptfiles.forget(hosts.store, hosts.a, name)
    earlier = hosts.a.data_dir / name
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(data)
    with pytest.raises(keptfiles.KeptFileMissing):
        keptfiles.read(hosts.store, hosts.b, name)
    assert keptfiles.read(hosts.store, hosts.a, str(earlier)) == data
    if keptfiles.is_shared(hosts.store):
        hosts.hide_a()
        assert keptfiles.read(hosts.store, hosts.b, str(earlier)) == data
