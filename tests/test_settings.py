"""Settings come from ONERETURN_* variables; a bad one is named in the error."""

from __future__ import annotations

import pytest

from onereturn.errors import ConfigurationError
from onereturn.settings import load_settings


def test_defaults_use_sqlite_in_the_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv("ONERETURN_DATABASE_URL", raising=False)
    monkeypatch.setenv("ONERETURN_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path}/onereturn.sqlite3"
    assert settings.timezone == "Europe/London"
    assert settings.is_sqlite


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("ONERETURN_DATABASE_URL", "mysql://x", "ONERETURN_DATABASE_URL"),
        ("ONERETURN_MAX_UPLOAD_BYTES", "-1", "ONERETURN_MAX_UPLOAD_BYTES"),
        ("ONERETURN_TIMEZONE", "Mars/Olympus", "ONERETURN_TIMEZONE"),
        ("ONERETURN_PORT", "http", "ONERETURN_PORT"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=named):
        load_settings()


def test_postgres_url_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONERETURN_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    settings = load_settings()
    assert not settings.is_sqlite
