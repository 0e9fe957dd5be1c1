"""The command line: every command has help; errors are one line with no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.commands import app

COMMANDS = [
    [],
    ["serve"],
    ["db"],
    ["db", "upgrade"],
    ["db", "revision"],
    ["catalogue"],
    ["catalogue", "check"],
    ["catalogue", "list"],
    ["catalogue", "load"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_catalogue_list_filters_by_return() -> None:
    result = CliRunner().invoke(app, ["catalogue", "list", "--return", "county_cyp_core"])
    assert result.exit_code == 0, result.output
    assert "63 of" in result.output


def test_domain_error_is_one_red_line_without_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import cli; cli.main()", "catalogue", "list", "--return", "no_such_return"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "ERROR: Unknown return 'no_such_return'" in result.stderr
    assert "Traceback" not in result.stderr


def test_catalogue_load_into_a_fresh_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONERETURN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ONERETURN_DATABASE_URL", raising=False)
    from onereturn.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["catalogue", "load"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert (tmp_path / "onereturn.sqlite3").exists()
    assert "org units" in result.output


def test_serve_refuses_to_embed_the_scheduler_in_several_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONERETURN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ONERETURN_DATABASE_URL", raising=False)
    monkeypatch.delenv("ONERETURN_SCHEDULER_EMBEDDED", raising=False)
    from onereturn.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "--workers", "2"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "run `onereturn scheduler`" in result.output
    assert "ONERETURN_SCHEDULER_EMBEDDED=false" in result.output
    assert not any(tmp_path.iterdir()), "nothing was started or created"


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_freezes_each_api_workers_startup_heap(
    workers: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its one worker and each of several keep what they made as they started out of the collector's way."""
    import uvicorn

    import api.main

    monkeypatch.setenv("ONERETURN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ONERETURN_DATABASE_URL", raising=False)
    monkeypatch.setenv("ONERETURN_LOAD_DEMO", "false")
    monkeypatch.setenv("ONERETURN_SCHEDULER_EMBEDDED", "true" if workers == 1 else "false")
    made: list[dict[str, object]] = []
    real = api.main.create_app

    def create_app(*args: Any, **kwargs: Any) -> Any:
        made.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(api.main, "create_app", create_app)

    def run(_app: object, **options: object) -> None:
        # Several workers each build the app from the factory, as uvicorn's would.
        if options.get("factory"):
            api.main.served_app()

    monkeypatch.setattr(uvicorn, "run", run)
    from onereturn.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "--workers", str(workers)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert [k.get("freeze_heap") for k in made] == [True]
