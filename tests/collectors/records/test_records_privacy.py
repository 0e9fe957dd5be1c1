"""The keys that guard children's data: made once per deployment outside the store, pseudonyms keyed by them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine
from sqlmodel import Session, select

from collectors.records.models import RecordChild, RecordsKey
from collectors.records.privacy import Keys, KeysRefused, checked_keys, key_status, keys_for, keys_path, make_current
from indicators.store.models import Submission
from onereturn.errors import ConfigurationError
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records.samples import PASSING, upload


def test_keys_are_made_once_readable_by_the_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = keys_for(settings)
    path = keys_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = keys_for(Settings(data_dir=tmp_path / "data", records_keys_file=path))
    assert again.pseudonym("907440") == first.pseudonym("907440")


def test_pseudonyms_differ_between_deployments_and_hide_the_id(tmp_path: Path) -> None:
    one = keys_for(Settings(data_dir=tmp_path / "one"))
    two = keys_for(Settings(data_dir=tmp_path / "two"))
    assert one.pseudonym("907440") != two.pseudonym("907440")
    assert one.pseudonym("907440") != one.pseudonym("907441")
    assert "907440" not in one.pseudonym("907440")
    assert len(one.pseudonym("907440")) == 32


#: Pseudonyms under a fixed secret, as the store has kept them since record-level uploads began: a change to how
#: they are computed must give every child the same pseudonym, or an upload's children part from their history.
KEPT_PSEUDONYMS = {
    "907440": "4ad843b33147170e52fb686522e07942",
    " 907440 ": "4ad843b33147170e52fb686522e07942",
    "ABC-12": "2ba70389dee9ecb089a0d21ffe644d1f",
    "Zo\u00eb 7": "97dfa62b116400a88acdc3823a3fe106",
}


def _fixed_keys() -> Keys:
    key = Fernet.generate_key()
    return Keys(bytes(range(32)), Fernet(key), key)


def test_pseudonyms_are_the_ones_kept_before_for_the_same_child_and_key() -> None:
    keys = _fixed_keys()
    assert {child: keys.pseudonym(child) for child in KEPT_PSEUDONYMS} == KEPT_PSEUDONYMS
    assert keys.pseudonyms(KEPT_PSEUDONYMS) == KEPT_PSEUDONYMS


def test_pseudonyms_of_repeated_ids_are_made_once_into_the_uploads_own_map() -> None:
    keys = _fixed_keys()
    known: dict[str, str] = {}
    named = keys.pseudonyms(["907440", "ABC-12", "907440"], known)
    assert named is known
    assert named == {"907440": KEPT_PSEUDONYMS["907440"], "ABC-12": KEPT_PSEUDONYMS["ABC-12"]}
    # A second call of the same upload adds only what is new; another upload starts from nothing.
    assert keys.pseudonyms(["Zo\u00eb 7"], known) == {k: v for k, v in KEPT_PSEUDONYMS.items() if k != " 907440 "}
    assert keys.pseudonyms([]) == {}


def test_sealed_ids_open_only_with_their_own_key(tmp_path: Path) -> None:
    one = keys_for(Settings(data_dir=tmp_path / "one"))
    two = keys_for(Settings(data_dir=tmp_path / "two"))
    token = one.seal_text("907440")
    assert "907440" not in token
    assert one.open_text(token) == "907440"
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        two.open_text(token)


def test_an_unreadable_keys_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken-keys.json"
    path.write_text("{not json")
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="cannot be read"):
        keys_for(Settings(data_dir=tmp_path, records_keys_file=path))


def test_keys_are_made_beside_the_data_folder_not_in_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    keys_for(settings)
    path = keys_path(settings)
    assert path == tmp_path / "data-keys" / "records-keys.json"
    assert path.is_file()
    assert not data.exists() or not list(data.rglob("records-keys.json"))


def test_keys_an_earlier_release_made_in_the_data_folder_are_still_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "old"
    inside = data / "records-keys.json"
    made = keys_for(Settings(data_dir=data, records_keys_file=inside))
    with caplog.at_level("WARNING"):
        path = keys_path(Settings(data_dir=data))
    assert path == inside
    assert "move the file" in caplog.text
    assert keys_for(Settings(data_dir=data)).pseudonym("907440") == made.pseudonym("907440")
    assert not (tmp_path / "old-keys").exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_keys_file_others_can_read_is_refused_naming_file_and_mode(tmp_path: Path, mode: int) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    keys_for(settings)
    path = keys_path(settings)
    path.chmod(mode)
    with pytest.raises(KeysRefused, match=rf"has mode {mode:04o}.*chmod 600") as refused:
        keys_for(Settings(data_dir=tmp_path / "data"))
    # The file is named to the operator (the log), never in the message an agency may be answered.
    assert refused.value.where == path.resolve()
    assert str(tmp_path) not in refused.value.message


def test_the_first_host_records_its_fingerprint_and_a_host_with_another_key_is_refused(
    store: Engine, tmp_path: Path
) -> None:
    one = Settings(data_dir=tmp_path / "one")
    two = Settings(data_dir=tmp_path / "two")
    keys_for(two)  # a second host that made keys of its own before it met the store
    assert key_status(store, one)["status"] == "not_yet_used"
    first = checked_keys(store, one)
    with Session(store) as session:
        held = session.exec(select(RecordsKey)).all()
    assert [(k.fingerprint, k.state) for k in held] == [(first.fingerprint, "current")]
    # The store keeps a fingerprint, never the keys.
    assert first.secret.hex() not in held[0].fingerprint
    with pytest.raises(KeysRefused, match="not the deployment's") as refused:
        checked_keys(store, two)
    assert first.fingerprint[:12] in refused.value.message
    assert key_status(store, two)["status"] == "refused"
    with Session(store) as session:
        assert len(session.exec(select(RecordsKey)).all()) == 1


def test_a_host_given_the_deployments_keys_file_is_accepted(store: Engine, tmp_path: Path) -> None:
    one = Settings(data_dir=tmp_path / "one")
    first = checked_keys(store, one)
    shared = Settings(data_dir=tmp_path / "two", records_keys_file=keys_path(one))
    assert checked_keys(store, shared).pseudonym("907440") == first.pseudonym("907440")
    assert key_status(store, shared) == {"status": "ok", "fingerprint": first.fingerprint[:12]}


def test_a_host_without_keys_makes_none_once_the_store_names_a_key(store: Engine, tmp_path: Path) -> None:
    checked_keys(store, Settings(data_dir=tmp_path / "one"))
    bare = Settings(data_dir=tmp_path / "two")
    with pytest.raises(KeysRefused, match="no records keys file"):
        checked_keys(store, bare)
    assert not keys_path(bare).exists()
    assert key_status(store, bare)["status"] == "refused"


def test_a_rotation_makes_the_new_keys_current_and_the_old_refused(store: Engine, tmp_path: Path) -> None:
    old = Settings(data_dir=tmp_path / "old")
    new = Settings(data_dir=tmp_path / "new")
    checked_keys(store, old)
    made = keys_for(new)
    with Session(store) as session:
        make_current(session, made)
        session.commit()
    assert checked_keys(store, new).fingerprint == made.fingerprint
    with pytest.raises(KeysRefused):
        checked_keys(store, old)
    with Session(store) as session:
        states = sorted(k.state for k in session.exec(select(RecordsKey)).all())
    assert states == ["current", "retired"]


def test_a_host_with_other_keys_refuses_an_upload_and_writes_nothing(store: Engine, tmp_path: Path) -> None:
    checked_keys(store, Settings(data_dir=tmp_path / "a"))
    other = Settings(data_dir=tmp_path / "b")
    keys_for(other)

    def held() -> tuple[int, int]:
        with Session(store) as session:
            return len(session.exec(select(Submission)).all()), len(session.exec(select(RecordChild)).all())

    before = held()
    with client_on(other, store) as client:
        answer = upload(client, PASSING)
        assert answer.status_code == 503, answer.text
        assert "records_keys_refused" in answer.text
        assert "not the deployment's" in answer.text
        assert str(tmp_path) not in answer.text, "no answer to an agency shows a server path"
        ready = client.get("/health/ready")
    # A load balancer takes the host out of rotation: its record-level work is refused, and the answer says why.
    assert ready.status_code == 503, ready.text
    assert ready.headers["Retry-After"]
    assert "Record-level work is refused on this host" in ready.text
    assert "not the deployment's" in ready.text
    assert str(tmp_path) not in ready.text
    assert held() == before
    assert not (tmp_path / "b" / "records").exists()
