"""The operator's commands: agencies, keys and the audit trail on the command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.commands import app
from onereturn import db
from onereturn.settings import get_settings

COMMANDS = [
    ["agencies"],
    ["agencies", "import"],
    ["agencies", "list"],
    ["agencies", "show"],
    ["keys"],
    ["keys", "create"],
    ["keys", "list"],
    ["keys", "revoke"],
    ["keys", "rotate"],
    ["audit"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.fixture
def demo_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh SQLite store with the demo agencies and keys."""
    monkeypatch.setenv("ONERETURN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ONERETURN_LOAD_DEMO", "true")
    monkeypatch.delenv("ONERETURN_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    engine = db._engines.pop(get_settings().effective_database_url, None)
    if engine is not None:
        engine.dispose()


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


@pytest.mark.usefixtures("demo_store")
def test_keys_list_revoke_rotate_and_audit() -> None:
    listed = run("keys", "list")
    assert "demo-officer-5e0" in listed
    assert "5e0b9c2a4f" not in listed
    key = run("keys", "create", "--role", "agency", "--agency", "notts_cyp", "--label", "Notts deputy").splitlines()[0]
    assert key.startswith("or_")
    rotated = run("keys", "rotate", key[:10]).splitlines()[0]
    assert rotated.startswith("or_")
    assert rotated != key
    run("keys", "revoke", rotated[:16])
    assert "already revoked" in str(CliRunner().invoke(app, ["keys", "revoke", rotated[:16]]).exception)
    assert CliRunner().invoke(app, ["keys", "create", "--role", "agency", "--label", "x"]).exit_code == 1
    active = run("keys", "list", "--active")
    assert key[:16] not in active
    assert "demo-officer-5e0" in active
    trail = run("audit", "--action", "key")
    for action in ("key.create", "key.rotate", "key.revoke"):
        assert action in trail
    assert "rejected" in trail
    assert key not in trail
    assert rotated not in trail
    shown = run("agencies", "show", "notts_cyp")
    assert "E10000024" in shown
    assert "bundled" in shown
    assert CliRunner().invoke(app, ["audit", "--outcome", "maybe"]).exit_code == 1


@pytest.mark.usefixtures("demo_store")
def test_uploads_and_pulls_on_the_command_line_are_audited(tmp_path: Path) -> None:
    figures = tmp_path / "figures.csv"
    figures.write_text(
        "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
        "cyp.cin_count,E10000024,2025-03-31,,5,,,,\n",
        encoding="utf-8",
    )
    run("collect", str(figures), "--agency", "notts_cyp")
    run("export", "dfe_cin_census", "FY2024-25", "-f", "csv", "-o", str(tmp_path / "cin.csv"))
    trail = run("audit")
    assert "submission.upload" in trail
    assert "return.pull" in trail
    assert "return dfe_cin_census FY2024-25 csv" in trail


def test_catalogue_load_without_the_demo_adds_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlmodel import Session, func, select

    from mappings.keys.models import ApiKey
    from mappings.models import Agency

    monkeypatch.setenv("ONERETURN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ONERETURN_LOAD_DEMO", "false")
    monkeypatch.delenv("ONERETURN_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        run("catalogue", "load")
        engine = db.get_engine()
        with Session(engine) as session:
            assert session.execute(select(func.count()).select_from(ApiKey)).scalar_one() == 0
            assert session.execute(select(func.count()).select_from(Agency)).scalar_one() == 0
    finally:
        get_settings.cache_clear()
        made = db._engines.pop(f"sqlite:///{tmp_path / 'onereturn.sqlite3'}", None)
        if made is not None:
            made.dispose()
