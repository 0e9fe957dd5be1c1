"""A user's first ``onereturn serve`` on an empty store loads the bundled demo: the publishers' files, the demo
agencies' uploads and the synthetic council's records, every one stored, and every return's figures signed off.

The store it leaves is the one the tests that need "a server with the demo" start on copies of (tests/demo_store.py).
"""

from __future__ import annotations

import re
from contextlib import closing

import pytest
from sqlalchemy import text

from cli.demo import AGENCIES, RECORDS_AGENCY, RECORDS_CENSUS_TERMS, RECORDS_CHILDREN, demo_files
from collectors.published.sources import load_sources
from onereturn import db
from tests.demo_store import served_demo


def test_the_first_start_loads_the_demo_into_an_empty_store(tmp_path_factory: pytest.TempPathFactory) -> None:
    first = served_demo(tmp_path_factory)
    published = [s for s in load_sources().sources.values() if s.bundled_bytes() is not None]
    said = re.search(r"Loaded (\d+) demo uploads", first.log)
    assert said, first.log[-3000:]
    # The synthetic council's two files are uploaded as its own and made again from its SSD extract; then its SEN2 file
    # and its school censuses.
    made = 2 * len(RECORDS_CHILDREN) + 1 + len(RECORDS_CENSUS_TERMS)
    assert int(said[1]) == len(published) + len(demo_files()) + made
    store = db.make_engine(f"sqlite:///{first.folder / 'onereturn.sqlite3'}")
    try:
        with closing(store.connect()) as conn:
            uploads = conn.execute(text("SELECT agency_code, kind, status FROM submission")).all()
            signoffs = conn.execute(text("SELECT agency_code, state FROM signoff")).all()
    finally:
        store.dispose()
    # Each demo upload, and the Annex A rows kept from the synthetic council's SSD extract as an upload of their own.
    assert len(uploads) == int(said[1]) + 1
    assert {agency for agency, _, _ in uploads} >= {*AGENCIES, RECORDS_AGENCY, *(s.publisher for s in published)}
    assert {status for _, _, status in uploads} <= {"accepted", "partially_accepted", "queried"}, uploads
    assert {kind for _, kind, _ in uploads} >= {"published", "records"}
    # Every demo agency that keys or sends records signed its figures off; the publishers sign nothing.
    assert {agency for agency, _ in signoffs} == {*AGENCIES, RECORDS_AGENCY}
    assert {state for _, state in signoffs} == {"signed_off"}
