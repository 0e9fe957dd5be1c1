"""One door for every way in: one module makes a submission, one table of ways says each way's kind, purposes,
repeat key and recogniser, and a new way in is one row that every entry point then takes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from collectors import door, ways_in
from collectors.door import head
from collectors.door.spine import Outcome
from collectors.published.sources import load_sources
from collectors.ways_in import MODES, WAYS_IN, way_in, way_of
from indicators.store.models import FIGURES_KIND, PUBLISHED_KIND, RECORDS_KIND, Submission
from mappings.annex_a import load_layout
from onereturn.errors import InvalidInput, NotFound, ProcessingFailed
from onereturn.settings import Settings
from tests.helpers import NOTTS

ROOT = Path(__file__).resolve().parents[2]
#: The product's packages and modules (not its tests or benchmarks).
PRODUCT = ("onereturn", "indicators", "mappings", "collectors", "exports", "api", "cli", "scheduler.py")


def _product_files() -> list[Path]:
    files: list[Path] = []
    for name in PRODUCT:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def test_one_module_makes_a_submission() -> None:
    """Every way in records its upload through ``collectors.door.head``: no other product module makes the row."""
    made = re.compile(r"(?<![\w.])Submission\(")
    makers = {
        str(path.relative_to(ROOT))
        for path in _product_files()
        for line in path.read_text(encoding="utf-8").splitlines()
        if made.search(line) and not line.lstrip().startswith("class ")
    }
    assert makers == {"collectors/door/head.py"}


def test_only_the_door_asks_for_a_submission() -> None:
    """The door is the one caller of ``head.new_submission``: no way in writes its own keep, repeat and row."""
    callers = {
        str(path.relative_to(ROOT))
        for path in _product_files()
        if "new_submission(" in path.read_text(encoding="utf-8") and path.name != "head.py"
    }
    assert callers == {"collectors/door/__init__.py"}


def test_every_way_walks_through_the_door_in_its_one_order() -> None:
    """No way in enters an upload, holds its lease or fails it itself: each hands ``door.through`` (or, to run one
    again, the table hands ``door.again`` its row's) its entry, read and store, so the order (agency, repeat, read,
    record, store under the lease, fail) is written once."""
    own = re.compile(r"door\.(enter|stored|mark_failed|repeated)\(")
    walking = re.compile(r"door\.(through|again)\(")
    callers, walkers = set(), set()
    for path in _product_files():
        text = path.read_text(encoding="utf-8")
        if own.search(text):
            callers.add(str(path.relative_to(ROOT)))
        if walking.search(text):
            walkers.add(str(path.relative_to(ROOT)))
    assert callers == set()
    assert walkers == {
        "collectors/figures/service.py",
        "collectors/published/intake.py",
        "collectors/records/receiving.py",
        "collectors/sen2/receiving.py",
        "collectors/census/receiving.py",
        "collectors/annex_a/columns.py",
        "collectors/annex_a/from_ssd.py",
        "collectors/ways_in.py",
    }


def test_one_module_defines_the_rerun_and_the_door_the_resume_and_the_failure() -> None:
    """The table's ``rerun`` is the one; every way's rerun, resume, take-up and failure is the door's
    (``collectors.door.again``), each way supplying only a ``door.Again``."""
    defining = re.compile(r"^def (rerun|rerun_\w+|resume\w*|again|taken_up|mark_failed)\(", re.MULTILINE)
    found = {
        (str(path.relative_to(ROOT)), name)
        for path in _product_files()
        if path.is_relative_to(ROOT / "collectors")
        for name in defining.findall(path.read_text(encoding="utf-8"))
    }
    assert found == {
        ("collectors/ways_in.py", "rerun"),
        ("collectors/ways_in.py", "resume_all"),
        ("collectors/door/again.py", "again"),
        ("collectors/door/again.py", "resume"),
        ("collectors/door/again.py", "taken_up"),
        ("collectors/door/again.py", "mark_failed"),
    }


def test_the_table_holds_every_way_and_their_purposes() -> None:
    """Eight ways, three kinds; each mode is a purpose of one way's row; only the records wait for a worker."""
    assert list(WAYS_IN) == [
        "published", "annex_a_columns", "ssd", "annex_a_ssd", "sen2", "census", "records", "figures"]  # fmt: skip
    assert {
        FIGURES_KIND: {"default", "atomic"},
        RECORDS_KIND: {"default", "annex_a", "annex_a_columns", "annex_a_ssd", "sen2", "school_census"},
        PUBLISHED_KIND: {"default"},
    } == MODES
    assert [name for name, way in WAYS_IN.items() if way.again is not None and way.again.take_up] == ["records"]
    with pytest.raises(InvalidInput, match="no way in is named 'faxes'"):
        way_in("faxes")


def test_the_upload_route_names_its_ways_from_the_table_and_declares_each_answer() -> None:
    """The OpenAPI text of ``POST /api/submissions`` lists every way sent by its form fields, in the table's words,
    and an SSD extract's answer is a declared model, not an undescribed object."""
    from api.main import create_app

    spec = create_app(Settings()).openapi()
    upload = spec["paths"]["/api/submissions"]["post"]
    sent_here = [name for name, way in WAYS_IN.items() if way.field is not None]
    assert sent_here == ["ssd", "sen2", "census", "records", "figures"]
    for name in sent_here:
        way = WAYS_IN[name]
        assert f"- **{name}** (form field `{way.field}`): {way.takes}" in upload["description"]
    answered = upload["responses"]["202"]["content"]["application/json"]["schema"]["anyOf"]
    assert {"$ref": "#/components/schemas/ExtractReceipt"} in answered
    assert "csc_api_payloads" in spec["components"]["schemas"]["ExtractReceipt"]["properties"]


def test_each_row_says_the_checks_its_figures_are_held_to() -> None:
    """An agency's figures, and those worked out from a council's records or SEN2 file, face every check; a
    publisher's release the publisher's (no duties, by its rounding); the ways that store no figure say none."""
    from collectors.checks.policy import EVERY_CHECK
    from collectors.published.check import publisher_policy

    policies = {name: way.way.policy for name, way in WAYS_IN.items()}
    assert {name for name, policy in policies.items() if policy is EVERY_CHECK} == {"figures", "records", "sen2"}
    assert policies["published"] is publisher_policy
    assert [name for name, policy in policies.items() if policy is None] == [
        "annex_a_columns", "ssd", "annex_a_ssd", "census"]  # fmt: skip


def test_each_upload_is_told_its_way(tmp_path: Path) -> None:
    """By its request's type, and among a council's record-level files by their content: a SEN2 file by its
    collection, an SSD extract by its zip of ``ssd_<table>.csv``, DfE's files otherwise."""
    import zipfile

    sen2 = tmp_path / "sen2.xml"
    sen2.write_bytes(b"<Message><Header><Collection>SEN2</Collection></Header></Message>")
    extract = tmp_path / "ssd.zip"
    with zipfile.ZipFile(extract, "w") as z:
        z.writestr("ssd_person.csv", "person_id\n1\n")
    census = tmp_path / "cin.xml"
    census.write_bytes(b"<Message><Header><Collection>CIN</Collection></Header></Message>")

    def files(name: str, path: Path) -> ways_in.RecordFiles:
        return ways_in.RecordFiles(agency_code="notts_cyp", collection_year="2024-25", files=[(name, path)])

    assert way_of(files("a.xml", sen2)).name == "sen2"
    assert way_of(files("a.zip", extract)).name == "ssd"
    assert way_of(files("a.xml", census)).name == "records"
    columns = ways_in.ColumnsSent(
        agency_code="notts_cyp", layout=load_layout(), filename="c.csv", data=b"", submitted_by=""
    )
    assert way_of(columns).name == "annex_a_columns"
    spec = load_sources().sources["dfe_nccis_participation"]
    assert way_of(ways_in.ReleaseSent(spec=spec, data=b"", filename="n.csv", fetched_from="upload")).name == "published"
    assert way_of(ways_in.FiguresSent(agency_code="notts_cyp", filename="f.csv", data=b"")).name == "figures"
    rows = ways_in.ExtractRows(agency_code="notts_cyp", year="2024-25", filename="e.zip", tables={}, submitted_by="")
    assert way_of(rows).name == "annex_a_ssd"
    with pytest.raises(InvalidInput, match=r"No file was sent\. The record-level address"):
        way_of(ways_in.RecordFiles(agency_code="notts_cyp", collection_year="2024-25"))
    with pytest.raises(InvalidInput, match="no way in takes a dict"):
        way_of({"data": b""})  # type: ignore[arg-type]
    # A row takes its own request type alone: its take is typed to it.
    with pytest.raises(InvalidInput, match="the way 'figures' takes a FiguresSent, not a ExtractRows"):
        WAYS_IN["figures"].answer(None, Settings(), rows)  # type: ignore[arg-type]


def test_a_purpose_a_way_does_not_have_is_refused() -> None:
    """A record-level purpose is no purpose of a file of figures: refused naming the way's own."""
    with pytest.raises(InvalidInput, match="purpose must be one of default, atomic, not 'annex_a'"):
        door.mode_of(WAYS_IN["figures"].way.purposes, "annex_a")


# A way in for the tests, in a few lines: a "tally" file of one agency, kept and stored as it is sent ("fail" in it
# fails it, to be run again from its kept file). One declaration, one row in the table, and every entry point takes
# it. The door reads its repeat key (an accepted tally sent again) and its lease (held while the request waits) from
# the row the upload names: no upload carries them.
TALLY = "tally"
TALLY_WAY = door.Way(
    TALLY, TALLY, {"default": "default"}, door.Lease.REQUEST, door.Repeat(("accepted",)), reads_first=True
)


def _tally_entry(
    way: str, engine: Engine, settings: Settings, agency_code: str, filename: str, data: bytes, status: str = "received"
) -> door.Entry:
    """A tally at the door: what its submission records and its kept file, and the name of the row it came by; no
    repeat key, lease or agency check of its own."""
    digest, name = head.keep_raw(engine, settings, data)
    return door.Entry(way, "default", agency_code, door.File(filename, TALLY, len(data), digest, name), status=status)


def _take_tally(engine: Engine, settings: Settings, request: ways_in.FiguresSent) -> Outcome:
    data = request.data if isinstance(request.data, bytes) else Path(request.data).read_bytes()
    entry = _tally_entry(TALLY, engine, settings, request.agency_code, request.filename, data)
    # Read as it comes (the tally is its bytes), and stored under the lease the door holds.
    taken: Outcome = door.through(
        engine,
        settings,
        entry,
        read=lambda: door.Found(data),
        store=partial(_store_tally, engine),
        repeated=_repeated_tally,
    )
    return taken


def _repeated_tally(earlier: Submission) -> Outcome:
    return Outcome(earlier, None, duplicate=True)


def _store_tally(engine: Engine, submission: Submission, data: bytes) -> Outcome:
    if b"fail" in data and submission.attempts == 0:
        raise ValueError("the tally says fail")
    tallies = {"status": "accepted", "message": f"{data.count(b',') + 1} tallies"}
    with Session(engine, expire_on_commit=False) as session:
        session.execute(update(Submission).where(col(Submission.id) == submission.id).values(**tallies))
        session.commit()
        return Outcome(session.get(Submission, submission.id), None)


#: Run again as a second attempt, which the tally does not fail.
_TALLY_AGAIN = door.Again(
    read=lambda _engine, _settings, _submission, data: data,
    store=lambda engine, _settings, submission, data: _store_tally(engine, submission, data),
    reopened=lambda _submission, _data: {"attempts": 1},
    resumes=True,
)


@pytest.fixture
def tally_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test way in, as the first row of the table."""
    row = ways_in.row(TALLY_WAY, ways_in.FiguresSent, _take_tally, recognise=lambda r: r.filename.endswith(".tally"),
                      again=_TALLY_AGAIN)  # fmt: skip
    monkeypatch.setattr(ways_in, "WAYS_IN", {TALLY: row, **WAYS_IN})


@pytest.mark.usefixtures("tally_way")
def test_a_new_way_in_is_one_row_that_every_entry_point_takes(
    store: Engine, store_client: TestClient, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's upload route and its upload process take it, a repeat is found by its repeat key, the command
    line's reprocess runs a failed one again from its kept file, and the scheduler's resume takes up the rest."""
    sent = store_client.post("/api/submissions", headers=NOTTS, files={"file": ("a.tally", b"1,2,3", "text/plain")})
    assert sent.status_code == 201, sent.text
    again = store_client.post("/api/submissions", headers=NOTTS, files={"file": ("a.tally", b"1,2,3", "text/plain")})
    assert (again.status_code, again.json()["id"]) == (200, sent.json()["id"])
    with Session(store) as session:
        first = session.get(Submission, sent.json()["id"])
        assert first is not None
        assert (first.kind, first.status, first.message) == (TALLY, "accepted", "3 tallies")
    with pytest.raises(ProcessingFailed, match=r"\(ValueError: the tally says fail\), and nothing of it was stored"):
        ways_in.take(
            store, store_settings, ways_in.FiguresSent(agency_code="notts_cyp", filename="b.tally", data=b"fail,1")
        )
    with Session(store) as session:
        failed = session.exec(select(Submission).where(Submission.filename == "b.tally")).one()
    # The door's one message for an upload that failed, whichever way it came in.
    assert failed.status == "failed"
    assert failed.message == door.failed_message(ValueError("the tally says fail"), failed.id or 0)
    assert f"onereturn submissions reprocess {failed.id}" in failed.message
    from cli import commands as cli
    from onereturn.settings import get_settings

    monkeypatch.setenv("ONERETURN_DATABASE_URL", store.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ONERETURN_DATA_DIR", str(store_settings.data_dir))
    get_settings.cache_clear()
    result = CliRunner().invoke(cli.app, ["submissions", "reprocess", str(failed.id)])
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output
    get_settings.cache_clear()
    with pytest.raises(ProcessingFailed, match="the tally says fail"):
        ways_in.take(
            store, store_settings, ways_in.FiguresSent(agency_code="notts_cyp", filename="c.tally", data=b"fail,2")
        )
    with store.begin() as connection:
        # As a stop leaves it: unfinished, its lease run out.
        connection.execute(
            update(Submission).where(col(Submission.filename) == "c.tally").values(status="received", lease_until=None)
        )
    # What the scheduler's job of resuming uploads calls.
    resumed = ways_in.resume_all(store, store_settings)
    assert list(resumed) == [TALLY]
    with Session(store) as session:
        assert session.get(Submission, resumed[TALLY][0]).status == "accepted"  # type: ignore[union-attr]


def test_each_submission_records_the_way_that_took_it(store: Engine, store_settings: Settings) -> None:
    """The door writes the way on the submission, and a failed upload is run again by the way it records: two ways of
    one kind (SEN2 and DfE's files) each run their own."""
    sent = ways_in.take(
        store, store_settings, ways_in.FiguresSent(agency_code="notts_cyp", filename="f.csv", data=b"indicator\n")
    )
    assert sent.submission is not None
    assert sent.submission.way == "figures"
    with Session(store) as session:
        ways = {row.way for row in session.exec(select(Submission)).all()}
    # Every way a row names is a row of the table.
    assert ways <= set(WAYS_IN)


def test_the_door_reads_each_ways_declaration_from_its_row(store: Engine, store_settings: Settings) -> None:
    """An entry names its row, no repeat key, lease or agency check: the door reads them from the row of that name,
    and a second declaration of a row's name (a loose way) is refused. The same tally sent again by the row's way
    (its repeat key) is a repeat, by a row declared with none a new upload; held while the request waits, left to a
    worker, or finished at the door as the row's lease says; an agency the store does not hold refused before the
    file is read where the row checks it."""
    import dataclasses

    from collectors.door import lease

    def declared(name: str, **changed: object) -> str:
        # A row of its own, named: the door knows a way by its row's name alone.
        return dataclasses.replace(TALLY_WAY, name=name, **changed).name  # type: ignore[arg-type]

    seen: dict[str, Submission] = {}

    def through(way: str, filename: str, *, status: str = "received", agency: str = "notts_cyp") -> Outcome:
        entry = _tally_entry(way, store, store_settings, agency, filename, b"1,2", status)

        def store_it(submission: Submission, _readings: object) -> Outcome:
            # The upload as the store holds it while the way stores it.
            with Session(store) as session:
                seen[door.row(way).lease.value] = session.get(Submission, submission.id)  # type: ignore[assignment]
            return Outcome(submission, None)

        return door.through(
            store, store_settings, entry, read=lambda: door.Found(None), store=store_it, repeated=_repeated_tally
        )

    with pytest.raises(ValueError, match="a way in named 'tally' is declared already"):
        dataclasses.replace(TALLY_WAY, repeat=None)
    with pytest.raises(ValueError, match="no way in is declared as 'faxes'"):
        through("faxes", "f.tally")
    first = through(TALLY, "a.tally", status="accepted")
    assert first.submission is not None
    assert first.submission.way == TALLY
    # The row's repeat key: the same bytes, accepted, sent again.
    again = through(TALLY, "a.tally")
    assert again.duplicate
    assert again.submission is not None
    assert again.submission.id == first.submission.id
    # A row declared with no repeat key: every upload is new.
    anew = through(declared("tally_unkeyed", repeat=None), "a.tally")
    assert not anew.duplicate
    assert anew.submission is not None
    assert anew.submission.id != first.submission.id

    through("tally_unkeyed", "held.tally")
    through(declared("tally_worker", repeat=None, lease=door.Lease.WORKER), "worker.tally")
    through(declared("tally_door", repeat=None, lease=door.Lease.DOOR), "door.tally", status="accepted")
    held, worker, at_door = seen["request"], seen["worker"], seen["door"]
    # Held by this worker while the request waits; leased for the worker that claims it; finished, no lease.
    assert (held.lease_owner, held.lease_until is not None) == (lease.worker_id(), True)
    assert (worker.lease_owner, worker.lease_until is not None) == ("", True)
    assert (at_door.lease_until, at_door.finished_at is not None) == (None, True)

    def unread() -> door.Found[None]:
        raise AssertionError("a file of an agency the store does not hold is read")

    nobody = _tally_entry("tally_unkeyed", store, store_settings, "no_such_agency", "n.tally", b"3")
    with pytest.raises(NotFound, match="no_such_agency"):
        door.through(store, store_settings, nobody, read=unread, store=lambda submission, _: submission)
    # The keep order is the row's: a way that keeps first is read by its store, after its file is kept, never before.
    keeps_first = _tally_entry(declared("tally_keeps", repeat=None, reads_first=False), store, store_settings,
                               "notts_cyp", "k.tally", b"4")  # fmt: skip
    with pytest.raises(ValueError, match="'tally_keeps' keeps first"):
        door.through(store, store_settings, keeps_first, read=unread, store=lambda submission, _: submission)
    with pytest.raises(ValueError, match="'tally_unkeyed' reads first"):
        door.through(store, store_settings, nobody, store=lambda submission, _: submission)
    # A row with a repeat key answers a repeat.
    repeats = _tally_entry(TALLY, store, store_settings, "notts_cyp", "r.tally", b"5")
    with pytest.raises(ValueError, match="'tally' has a repeat key"):
        door.through(store, store_settings, repeats, read=unread, store=lambda submission, _: submission)


def test_each_row_declares_its_keep_order() -> None:
    """An agency's file of figures is kept before anything reads it (one it cannot read is an upload rejected, its
    report kept); four ways read and check at the door first, keeping only what passes."""
    first = [name for name, way in WAYS_IN.items() if way.way.reads_first]
    assert first == ["published", "annex_a_columns", "sen2", "census", "records"]


def _kept_upload(engine: Engine, *, digest: str, year: str = "2024-25", status: str = "accepted", **more: int) -> int:
    """A council's record-level upload of the bytes ``digest``, as the records' way records one."""
    with Session(engine) as session:
        submission = head.new_submission(
            kind=RECORDS_KIND,
            mode="default",
            agency_code="notts_cyp",
            filename=f"{digest}.xml",
            source_format="records",
            size_bytes=1,
            content_hash=digest,
            raw_path="",
            submitted_by="",
            lease_seconds=None,
            held=False,
            status=status,
            collection_year=year,
            **more,
        )
        session.add(submission)
        session.commit()
        assert submission.id is not None
        return submission.id


def test_a_set_repeats_only_as_a_whole_by_its_ways_key(store: Engine) -> None:
    """``door.through_set`` by the SSD's key of a set: a set of files repeats when each repeats the council's latest
    upload of the same bytes, purpose and year, kept and finished as a repeat may be, and no other upload of the
    council stored a figure since the first of them (the set's own files storing figures do not count); a set that
    repeats is answered with the earlier uploads and takes nothing, one that does not takes each of its files."""
    from collectors.ssd.receiving import WAY as SSD

    def asked(*digests: str, year: str = "2024-25") -> list[int] | None:
        taken: list[str] = []

        def take(digest: str) -> int:
            taken.append(digest)
            return 0

        found = door.through_set(
            store,
            SSD.name,
            digests,
            digest=str,
            take=take,
            repeated=lambda earlier: earlier.id or 0,
            agency_code="notts_cyp",
            mode="default",
            collection_year=year,
        )
        assert taken in ([], list(digests))
        return None if taken else found

    assert SSD.repeat is not None
    assert SSD.repeat.of_set
    cin = _kept_upload(store, digest="cin", rows_new=3)
    care = _kept_upload(store, digest="care", rows_revised=2)
    assert asked("cin", "care") == [cin, care]
    assert asked("cin", "care", year="2023-24") is None
    assert asked("cin", "other") is None
    # A rejected upload is no repeat (the council sends refused files again to have them read again).
    _kept_upload(store, digest="refused", status="rejected")
    assert asked("cin", "refused") is None
    # An upload of the council that stored nothing since is no change; one that stored a figure since is.
    _kept_upload(store, digest="nothing", rows_new=0)
    assert asked("cin", "care") == [cin, care]
    _kept_upload(store, digest="figures", rows_new=1)
    assert asked("cin", "care") is None
    assert asked("figures") is not None
    # A purged upload's file is gone: no repeat of it.
    with Session(store) as session:
        session.execute(update(Submission).where(col(Submission.id) == care).values(purged_at=datetime.now(UTC)))
        session.commit()
    assert asked("care") is None


@pytest.mark.usefixtures("tally_way")
def test_a_failed_write_leaves_no_file_kept_that_no_upload_names(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails takes its kept file with it, unless an upload written names the same file (the same bytes
    kept for another agency): a child's file is never left where no upload, and so no purge, reaches it."""
    from onereturn import db
    from tests.helpers import kept_names

    def refused(*_args: object, **_kwargs: object) -> bool:
        raise RuntimeError("the store refused the write")

    taken = ways_in.take(store, store_settings, ways_in.FiguresSent("notts_cyp", "a.tally", b"1,2"))
    held = kept_names(store, store_settings, "uploads")
    assert len(held) == 1
    with monkeypatch.context() as patch:
        patch.setattr(db, "commit_verified", refused)
        for agency, data in (("lewisham_council", b"1,2"), ("notts_cyp", b"3,4,5")):
            with pytest.raises(RuntimeError, match="the store refused the write"):
                ways_in.take(store, store_settings, ways_in.FiguresSent(agency, "b.tally", data))
    # The shared file stays for the upload that names it; the other's went with its write.
    assert kept_names(store, store_settings, "uploads") == held
    with Session(store) as session:
        assert taken.submission is not None
        assert [s.id for s in session.exec(select(Submission))] == [taken.submission.id]
