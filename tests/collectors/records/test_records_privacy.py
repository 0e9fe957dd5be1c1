"""The keys that guard children's data: made once per deployment outside the store, pseudonyms keyed by them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from collectors.records.privacy import keys_for, keys_path
from onereturn.errors import ConfigurationError
from onereturn.settings import Settings


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
