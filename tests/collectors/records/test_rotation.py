"""Rotating the record-level keys (SQLite and PostgreSQL): stopped part-way twice and run again, every sealed file and
every child ends under the new keys, each child keeps one history under one new pseudonym, the old keys open
nothing, and Annex A and the council's report read the same as before."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import InvalidToken
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli import commands as cli
from collectors.door.requests import RecordFiles
from collectors.records import rotation
from collectors.records.models import RecordChild, RecordLineage, RecordProblem, RecordsKey
from collectors.records.privacy import Keys, KeysRefused, checked_keys, keys_at, keys_for
from collectors.records.receiving import receive
from collectors.records.service import process_records
from indicators.store.models import Submission
from onereturn import keptfiles
from onereturn.errors import Conflict
from onereturn.settings import Settings, get_settings
from tests.apps import client_on
from tests.collectors.records.annex_a_cases import CIN_XML, plant_kept, write_903
from tests.collectors.records.samples import PASSING
from tests.helpers import NOTTS

DATE = {"inspection_date": "2025-11-15"}


class Stop(Exception):
    """The operator's Ctrl-C, part-way through a run."""


@pytest.fixture
def rotating(store: Engine, tmp_path: Path) -> Settings:
    """A store with two record-level uploads of overlapping children and Annex A's kept records, under one key."""
    settings = Settings(data_dir=tmp_path / "data", records_keys_file=tmp_path / "keys" / "records-keys.json")
    later = tmp_path / "later"
    later.mkdir()
    for path in PASSING:
        # One child fewer in the later return: most children are in both uploads.
        (later / path.name).write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    for files in (PASSING, sorted(later.glob("*.csv"))):
        got = receive(
            store,
            settings,
            RecordFiles(agency_code="notts_cyp", collection_year="2024-25", files=[(p.name, p) for p in files]),
        )
        assert got.submission.id is not None
        assert process_records(store, settings, got.submission.id).status == "accepted"
    census = tmp_path / "in" / "cin_census.xml"
    census.parent.mkdir()
    census.write_text(CIN_XML, encoding="utf-8")
    plant_kept(store, settings, "cin", [census])
    plant_kept(store, settings, "903", write_903(tmp_path / "in" / "903"))
    return settings


def _histories(store: Engine, keys: Keys) -> tuple[dict[str, set[str]], Counter[tuple[str, str]]]:
    """Each child id's pseudonyms, and its lineage and finding rows counted by kind, read with ``keys``."""
    with Session(store) as session:
        children = session.exec(select(RecordChild)).all()
        named = {c.pseudonym: keys.open_text(c.child_sealed) for c in children}
        rows: Counter[tuple[str, str]] = Counter()
        for child in session.exec(select(RecordLineage.child)).all():
            rows[(named[child], "lineage")] += 1
        for found in session.exec(select(RecordProblem.child)).all():
            if found is not None:
                rows[(named[found], "finding")] += 1
    pseudonyms: dict[str, set[str]] = {}
    for row in children:
        pseudonyms.setdefault(named[row.pseudonym], set()).add(row.pseudonym)
    return pseudonyms, rows


def _annex_a(store: Engine, settings: Settings) -> dict[int, int]:
    with client_on(settings, store) as client:
        answer = client.get("/api/agencies/notts_cyp/annex-a", headers=NOTTS, params=DATE)
    assert answer.status_code == 200, answer.text
    return {item["list"]: item["rows"] for item in answer.json()["lists"]}


def _stopping_after(calls: int, real: Any) -> Any:
    count = {"n": 0}

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if count["n"] == calls:
            raise Stop()
        count["n"] += 1
        return real(*args, **kwargs)

    return wrapped


def _sealed_tokens(store: Engine, settings: Settings) -> list[bytes]:
    names = list(keptfiles.names(store, settings, keptfiles.RECORDS))
    return [keptfiles.read(store, settings, name) for name in names]


def test_a_rotation_stopped_part_way_completes_and_the_old_keys_open_nothing(
    store: Engine, rotating: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = keys_for(rotating)
    before, rows = _histories(store, old)
    assert len(before) >= 2
    assert all(len(p) == 1 for p in before.values()), "a child has one pseudonym across uploads"
    assert sum(1 for child in before if rows[(child, "lineage")]) >= 2
    counts = _annex_a(store, rotating)
    assert len(_sealed_tokens(store, rotating)) == 4

    # Stopped once while sealing files again (after one of four), then once while re-keying children (after two).
    monkeypatch.setattr(rotation, "BATCH", 1)
    with monkeypatch.context() as stopped:
        stopped.setattr(keptfiles, "replace", _stopping_after(1, keptfiles.replace))
        with pytest.raises(Stop):
            rotation.rotate(store, rotating)
    new = keys_at(rotation.rotating_path(rotating))
    tokens = _sealed_tokens(store, rotating)
    assert sum(1 for t in tokens if rotation.opens(new, t)) == 1, "one file sealed anew, the others as they were"
    with monkeypatch.context() as stopped:
        stopped.setattr(rotation, "_move", _stopping_after(2, rotation._move))
        with pytest.raises(Stop):
            rotation.rotate(store, rotating)
    assert keys_at(rotating.records_keys_file or Path()).secret == old.secret, "the old keys stay until a run completes"
    assert keys_at(rotation.rotating_path(rotating)).secret == new.secret, "a run taken up again keeps its new keys"
    done = rotation.rotate(store, rotating)
    assert done.files == 0, "the files were sealed anew by the runs stopped"
    assert 0 < done.children < len(before), "two children were re-keyed by the run stopped"
    assert not rotation.rotating_path(rotating).exists()

    current = keys_for(rotating)
    assert current.secret == keys_at(rotating.records_keys_file or Path()).secret == new.secret != old.secret
    after, rows_after = _histories(store, current)
    assert after == {child: {current.pseudonym(child)} for child in before}
    assert rows_after == rows, "each child keeps its findings and lineage under its one new pseudonym"
    for token in _sealed_tokens(store, rotating):
        with pytest.raises(InvalidToken):
            old.fernet.decrypt(token)
    with Session(store) as session:
        for child in session.exec(select(RecordChild)).all():
            with pytest.raises(InvalidToken):
                old.fernet.decrypt(child.child_sealed.encode("ascii"))
    assert _annex_a(store, rotating) == counts
    again = rotation.rotate(store, rotating)
    assert (again.files, again.children) == (4, len(before)), "rotated again, everything moves to newer keys"
    assert _annex_a(store, rotating) == counts


def test_the_command_shows_progress_and_says_what_it_did(
    store: Engine, rotating: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONERETURN_DATABASE_URL", store.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ONERETURN_DATA_DIR", str(rotating.data_dir))
    monkeypatch.setenv("ONERETURN_RECORDS_KEYS_FILE", str(rotating.records_keys_file))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["records", "rotate-keys"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "sealed files" in said
    assert "4/4" in said
    assert "children" in said
    assert "4 sealed file(s) sealed again" in said
    assert "Give every host this file" in said
    assert not rotation.rotating_path(rotating).exists()


def _hold(store: Engine, submission_id: int, owner: str, *, until: datetime) -> None:
    """The upload as a worker (of another host) holds it while it runs DfE's rules."""
    with Session(store) as session:
        row = session.get(Submission, submission_id)
        assert row is not None
        row.lease_owner, row.lease_until, row.stage = owner, until, "dfe_rules"
        session.add(row)
        session.commit()


def test_a_rotation_waits_for_an_upload_a_worker_holds_names_it_and_changes_nothing(
    store: Engine, rotating: Settings
) -> None:
    old = checked_keys(store, rotating)
    got = receive(
        store,
        rotating,
        RecordFiles(agency_code="notts_cyp", collection_year="2024-25", files=[(p.name, p) for p in PASSING[:1]]),
    )
    assert got.submission.id is not None
    _hold(store, got.submission.id, "host-b-4242", until=datetime.now(UTC) + timedelta(minutes=5))
    with pytest.raises(
        Conflict, match=rf"upload {got.submission.id} of notts_cyp \(stage dfe_rules, worker host-b-4242\)"
    ):
        rotation.rotate(store, rotating, wait_seconds=0.3)
    assert not rotation.rotating_path(rotating).exists(), "a run that changed nothing leaves no .rotating file"
    with Session(store) as session:
        assert {k.state for k in session.exec(select(RecordsKey)).all()} == {"current"}, "nor its mark"
    assert checked_keys(store, rotating).fingerprint == old.fingerprint, "the hosts work on under the old keys"
    # The worker ends: the same command, run again, completes.
    _hold(store, got.submission.id, "", until=datetime.now(UTC) - timedelta(seconds=1))
    done = rotation.rotate(store, rotating, wait_seconds=0.3)
    assert done.files == 5
    assert not rotation.rotating_path(rotating).exists()


def test_an_upload_received_before_the_rotation_is_sealed_anew_and_runs_after_it(
    store: Engine, rotating: Settings
) -> None:
    got = receive(
        store,
        rotating,
        RecordFiles(agency_code="notts_cyp", collection_year="2024-25", files=[(p.name, p) for p in PASSING]),
    )
    assert got.submission.id is not None
    assert got.submission.status == "received"
    rotation.rotate(store, rotating, wait_seconds=0.3)
    new = keys_for(rotating)
    assert rotation.opens(new, keptfiles.read(store, rotating, got.submission.raw_path))
    assert process_records(store, rotating, got.submission.id).status in ("accepted", "partially_accepted", "queried")
    pseudonyms, _ = _histories(store, new)
    assert all(len(p) == 1 for p in pseudonyms.values()), "no child keyed twice"


def test_a_file_a_host_kept_as_the_rotation_began_is_sealed_anew(
    store: Engine, rotating: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = keys_for(rotating)
    late = tmp_path / "late"
    late.mkdir()
    (late / "cin_census.xml").write_text(CIN_XML + "\n", encoding="utf-8")
    kept: list[str] = []
    real = rotation._Run.rekey_children

    def racing(run: Any) -> int:
        # A host that passed its check of the keys a moment before the store named the new ones keeps a file now.
        kept.append(plant_kept_with(store, rotating, old, [late / "cin_census.xml"]))
        return int(real(run))

    monkeypatch.setattr(rotation._Run, "rekey_children", racing)
    rotation.rotate(store, rotating)
    new = keys_for(rotating)
    assert kept
    assert rotation.opens(new, keptfiles.read(store, rotating, kept[0]))
    assert all(rotation.opens(new, token) for token in _sealed_tokens(store, rotating))


def plant_kept_with(store: Engine, settings: Settings, keys: Keys, files: list[Path]) -> str:
    """Keep ``files`` sealed under ``keys``, as a host holding them does."""
    from collectors.records.kept import content_hash, keep

    named = [(p.name, p) for p in files]
    return keep(store, settings, keys, content_hash(named), named)


def test_a_rotation_that_cannot_open_a_file_names_it_and_its_upload_and_is_run_again(
    store: Engine, rotating: Settings, tmp_path: Path
) -> None:
    old = keys_for(rotating)
    other = keys_at(tmp_path / "other-host" / "records-keys.json")
    with Session(store) as session:
        upload = session.exec(select(Submission).where(Submission.source_format == "cin")).one()
    token = keptfiles.read(store, rotating, upload.raw_path)
    # Sealed by a host whose keys were never the deployment's.
    keptfiles.replace(store, rotating, upload.raw_path, other.seal(old.open(token)))
    with pytest.raises(rotation.RotationFailed) as failed:
        rotation.rotate(store, rotating)
    said = failed.value.message
    assert upload.raw_path in said
    assert f"upload {upload.id} of notts_cyp" in said
    assert "--also-open" in said
    new = keys_at(rotation.rotating_path(rotating))
    assert sum(1 for t in _sealed_tokens(store, rotating) if rotation.opens(new, t)) == 3, "all else is done"
    with pytest.raises(KeysRefused, match="being rotated"):
        checked_keys(store, rotating)
    done = rotation.rotate(store, rotating, also=[other])
    assert done.files == 1
    assert not rotation.rotating_path(rotating).exists()
    assert all(rotation.opens(new, t) for t in _sealed_tokens(store, rotating))
    assert checked_keys(store, rotating).fingerprint == new.fingerprint


def test_after_a_rotation_the_store_names_the_new_keys_and_a_host_with_the_old_is_refused(
    store: Engine, rotating: Settings, tmp_path: Path
) -> None:
    old = checked_keys(store, rotating)
    stale = tmp_path / "stale-host-keys.json"
    stale.write_bytes((rotating.records_keys_file or Path()).read_bytes())
    stale.chmod(0o600)
    rotation.rotate(store, rotating)
    new = checked_keys(store, rotating)
    with Session(store) as session:
        states = {k.fingerprint: k.state for k in session.exec(select(RecordsKey)).all()}
    assert states == {old.fingerprint: "retired", new.fingerprint: "current"}
    with pytest.raises(KeysRefused, match="not the deployment's"):
        checked_keys(store, Settings(data_dir=tmp_path / "stale", records_keys_file=stale))
    with pytest.raises(KeysRefused, match="nothing was changed"):
        rotation.rotate(store, Settings(data_dir=tmp_path / "stale", records_keys_file=stale))


def test_a_rotation_stopped_after_the_store_names_the_new_keys_completes(
    store: Engine, rotating: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked_keys(store, rotating)
    with monkeypatch.context() as stopped:
        stopped.setattr(rotation, "replace_keys_file", _stopping_after(0, rotation.replace_keys_file))
        with pytest.raises(Stop):
            rotation.rotate(store, rotating)
    new = keys_at(rotation.rotating_path(rotating))
    with pytest.raises(KeysRefused):
        checked_keys(store, rotating)
    done = rotation.rotate(store, rotating)
    assert (done.files, done.children) == (0, 0)
    assert checked_keys(store, rotating).fingerprint == new.fingerprint


def test_children_re_keyed_on_every_core_end_as_on_one(
    store: Engine, rotating: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = keys_for(rotating)
    before, rows = _histories(store, old)
    # Batches of one child, computed in processes of their own, several in flight while earlier ones are written.
    monkeypatch.setattr(rotation, "PARALLEL_FROM", 0)
    monkeypatch.setattr(rotation, "MAX_PROCESSES", 2)
    monkeypatch.setattr(rotation, "BATCH", 1)
    monkeypatch.setattr("collectors.records.rotation.os.cpu_count", lambda: 2)
    done = rotation.rotate(store, rotating)
    assert done.children == len(before)
    new = keys_for(rotating)
    after, rows_after = _histories(store, new)
    assert after == {child: {new.pseudonym(child)} for child in before}
    assert rows_after == rows
