"""A host started without the demo leaves the store's demo as it is (another host sharing the store may use it);
removing the demo, asked for by name, keeps and logs what has uploads, figures or sign-offs behind it, removes the
rest, and the demo keys stop working."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from indicators.store.models import Observation, Submission
from mappings.agencies import demo_keys_live, remove_demo
from mappings.keys import key_prefix
from mappings.keys.models import ApiKey
from mappings.models import Agency
from mappings.service import load_bundled
from mappings.signoff.models import SignOff
from onereturn import db
from onereturn.models import ReturnDownload, WebSession

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
CSV = "indicator,org,period,value\ncyp.lac_count,E10000024,2025-03-31,812\n"


def _demo_key_id(session: Session, secret: str) -> int:
    key: ApiKey = (
        session.execute(select(ApiKey).where(col(ApiKey.demo), ApiKey.prefix == key_prefix(secret))).scalars().one()
    )
    assert key.id is not None
    return key.id


def test_turning_the_demo_off_keeps_what_has_data_behind_it(
    store: Engine, store_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # As the demo is used: Nottinghamshire uploads, Lewisham has a sign-off row, the officer and the DfE sign in,
    # and the DfE downloads a return.
    upload = store_client.post("/api/submissions", headers=NOTTS, files={"file": ("notts.csv", CSV, "text/csv")})
    assert upload.status_code == 201, upload.text
    now = datetime.now(UTC)
    with db.session_scope(store) as session:
        session.add(
            SignOff(
                agency_code="lewisham_council",
                return_id="dfe_ssda903",
                period="FY2024-25",
                state="open",
                updated_at=now,
            )
        )
        officer = _demo_key_id(session, "demo-officer-5e0b9c2a4f")
        dfe = _demo_key_id(session, "demo-regulator-dfe-7a3c18e2")
        for key_id, token in ((officer, "a" * 64), (dfe, "b" * 64)):
            session.add(WebSession(token_hash=token, key_id=key_id, csrf_token="c", created_at=now, expires_at=now))
        session.add(
            ReturnDownload(
                key_id=dfe, return_id="dfe_ssda903", period="FY2024-25", format="csv", snapshot_id=1, build_id=1,
                downloaded_at=now,
            )
        )  # fmt: skip
        before = {a.code for a in session.execute(select(Agency).where(Agency.origin == "bundled")).scalars()}
        figures = session.execute(select(func.count()).select_from(Observation)).scalar_one()
    assert {"notts_cyp", "lewisham_council", "ofsted"} <= before

    # A second host started with ONERETURN_LOAD_DEMO=false undoes nothing the first host's demo made.
    with db.session_scope(store) as session:
        live = demo_keys_live(session)
        load_bundled(session, demo_keys=False)
    with db.session_scope(store) as session:
        assert demo_keys_live(session) == live > 0
        assert before <= set(session.execute(select(Agency.code)).scalars())
        assert session.execute(select(func.count()).select_from(WebSession)).scalar_one() == 2
    assert store_client.get("/api/submissions", headers=NOTTS).status_code == 200

    caplog.set_level(logging.WARNING, logger="mappings.agencies")
    with db.session_scope(store) as session:
        assert remove_demo(session) == live

    with db.session_scope(store) as session:
        after = set(session.execute(select(Agency.code)).scalars())
        assert after == {"notts_cyp", "lewisham_council"}, "only the agencies with something behind them stay"
        assert session.execute(select(func.count()).select_from(Observation)).scalar_one() == figures
        assert session.execute(select(func.count()).select_from(Submission)).scalar_one() >= 1
        assert session.execute(select(func.count()).select_from(SignOff)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(WebSession)).scalar_one() == 0
        left = session.execute(select(ApiKey).where(col(ApiKey.demo), col(ApiKey.revoked_at).is_(None))).scalars().all()
        assert left == [], "no demo key is left working"
        assert session.execute(select(func.count()).select_from(ReturnDownload)).scalar_one() == 1
    said = {r.getMessage().split(" is kept")[0]: r.getMessage() for r in caplog.records}
    assert "it has 1 submission(s)" in said["Bundled agency notts_cyp"], said
    assert "it has 1 sign-off(s)" in said["Bundled agency lewisham_council"], said
    assert any("revoked rather than deleted" in m for m in said.values()), said
    refused = store_client.get("/api/submissions", headers=NOTTS)
    assert refused.status_code == 401, refused.text

    # Removed again, nothing changes; started with it again, the demo comes back whole.
    with db.session_scope(store) as session:
        assert remove_demo(session) == 0
    with db.session_scope(store) as session:
        load_bundled(session, demo_keys=True)
        assert before <= set(session.execute(select(Agency.code)).scalars())
    assert store_client.get("/api/submissions", headers=NOTTS).status_code == 200
