"""Record-level files the tests upload: DfE's own fake SSDA903 tables (a subset) and a CIN census."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, update
from sqlmodel import Session, col, select

from indicators.store.models import Observation, Submission
from tests.helpers import NOTTS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "records"
TABLES_903 = sorted((FIXTURES / "ssda903_subset").glob("*.csv"))
CIN_2024 = FIXTURES / "cin" / "CIN_Census_2024.xml"
#: Tables that pass every one of DfE's rules for 2024-25, so their figures are derived and stored.
PASSING = sorted((FIXTURES / "ssda903_passing").glob("*.csv"))


def cin_2024_of_notts() -> bytes:
    """DfE's fake CIN census with its header naming Nottinghamshire (891), the council the tests send it as: as
    published it names the City of London (201), and a file of another council is refused."""
    return CIN_2024.read_bytes().replace(b"<LEA>201</LEA>", b"<LEA>891</LEA>")


def upload(client: TestClient, paths: list[Path], year: str = "2024-25", headers: dict[str, str] = NOTTS) -> Any:
    """Send record-level files as one upload for a collection year."""
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    return client.post("/api/submissions", headers=headers, data={"collection_year": year}, files=files)


def every_text(engine: Engine) -> Iterator[str]:
    """Every text value in every table of the store."""
    tables = inspect(engine).get_table_names()
    with engine.connect() as connection:
        for table in tables:
            for row in connection.exec_driver_sql(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, str | bytes):
                        yield value if isinstance(value, str) else value.decode("latin-1")


def cut_off(
    store: Engine, sid: int, *, stage: str, until: datetime, owner: str = "gone-host:4242:20261125T060000"
) -> None:
    """Leave the upload as a worker that stopped mid-way leaves it."""
    with Session(store) as session:
        session.execute(
            update(Submission)
            .where(col(Submission.id) == sid)
            .values(status="received", stage=stage, lease_owner=owner, lease_until=until)
        )
        session.commit()


def figures_of(store: Engine, sid: int) -> int:
    with Session(store) as session:
        return len(session.exec(select(Observation).where(col(Observation.submission_id) == sid)).all())
