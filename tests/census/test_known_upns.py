"""The UPNs a census upload keeps pupils by: the council's SEN2 children and those of the newest CIN census and
SSDA903 of each year that passed DfE's rules, no older upload of a return and year opened; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from collectors import ways_in
from collectors.annex_a import build
from indicators.store.models import Submission
from onereturn.settings import Settings
from tests.collectors.records.annex_a_cases import plant_kept, write_903

OLD, NEW, LAST_YEAR = "A801200001001", "B801200001001", "C801200001001"


def _903(engine: Engine, settings: Settings, folder: Path, upn: str, year: str, received: datetime) -> int:
    """An SSDA903 kept as passed, its first child given ``upn``."""
    write_903(folder)
    lines = (folder / "header.csv").read_text().splitlines()
    first = lines[1].split(",")[0]
    named = [lines[0], *(re.sub(r",WBRI,,", f",WBRI,{upn if line.startswith(first) else ''},", line)
                         for line in lines[1:])]  # fmt: skip
    (folder / "header.csv").write_text("\n".join(named) + "\n")
    planted = plant_kept(engine, settings, "903", sorted(folder.iterdir()))
    with Session(engine) as session:
        row = session.get(Submission, planted)
        assert row is not None
        row.collection_year, row.received_at = year, received
        session.add(row)
        session.commit()
    return planted


def test_only_the_newest_passed_upload_of_each_return_and_year_is_opened(
    store: Engine, store_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _903(store, store_settings, tmp_path / "old", OLD, "2024-25", datetime(2025, 5, 1, tzinfo=UTC))
    newer = _903(store, store_settings, tmp_path / "new", NEW, "2024-25", datetime(2025, 6, 1, tzinfo=UTC))
    last_year = _903(store, store_settings, tmp_path / "last", LAST_YEAR, "2023-24", datetime(2024, 6, 1, tzinfo=UTC))
    opened: list[int] = []
    reading = build.read_sources

    def counted(session: Session, settings: Settings, sources: list[build.Source]) -> Any:
        opened.extend(s.submission_id for s in sources)
        return reading(session, settings, sources)

    monkeypatch.setattr(ways_in, "read_sources", counted)
    known = ways_in.known_upns(store, store_settings, "notts_cyp")
    assert sorted(opened) == sorted([newer, last_year])
    # The newest of 2024-25 and 2023-24's own: the upload the newer one replaced is not read.
    assert {NEW, LAST_YEAR} <= known
    assert OLD not in known
