"""The officer's pages read the store a bounded number of times once viewed, however many agencies owe returns:
what each agency owes and still owes is kept until the figures, the catalogue or an agency change, and the
dashboard reads each return's completeness from its last build while nothing it shows has changed.

Times are measured by ``./run bench pages``, never here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, insert
from sqlmodel import Session, select

from mappings.calendar import outstanding
from mappings.models import Agency, AgencyIndicator, AgencyOrg, AgencyReturn, OrgUnit
from mappings.obligations import obligations
from onereturn import db
from onereturn.settings import Settings
from tests.helpers import upload
from tests.web.pages import OFFICER, sign_in

PAGES = ("/officer", "/officer/approvals", "/calendar")


@contextmanager
def counted(store: Engine) -> Iterator[list[str]]:
    """Collect every SQL statement sent to the store inside the block."""
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(" ".join(str(args[2]).split()))

    event.listen(store, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(store, "before_cursor_execute", count)


def _copies_of_notts(store: Engine, copies: int) -> None:
    """Add agencies owing what Nottinghamshire owes, each for an org unit of its own."""
    now = datetime.now(UTC)
    with db.session_scope(store) as session:
        notts = session.get(Agency, "notts_cyp")
        assert notts is not None
        inds = list(
            session.execute(
                select(AgencyIndicator.indicator_id).where(AgencyIndicator.agency_code == "notts_cyp")
            ).scalars()
        )
        rets = list(
            session.execute(select(AgencyReturn.return_id).where(AgencyReturn.agency_code == "notts_cyp")).scalars()
        )
        unit = session.get(OrgUnit, "E10000024")
        assert unit is not None
        for k in range(copies):
            code = f"notts_copy_{k}"
            session.add(Agency(code=code, name=f"Copy {k}", body_type=notts.body_type, email="", source="test",
                               origin="api", definition={}, created_at=now, updated_at=now))  # fmt: skip
            session.add(OrgUnit(code=f"E1000002{k}X", name=f"Copy {k}", type=unit.type, source="test"))
            session.flush()
            session.execute(insert(AgencyOrg), [{"agency_code": code, "org_code": f"E1000002{k}X"}])
            session.execute(insert(AgencyIndicator), [{"agency_code": code, "indicator_id": i} for i in inds])
            session.execute(insert(AgencyReturn), [{"agency_code": code, "return_id": r} for r in rets])


def _warm_views(web: TestClient, store: Engine) -> dict[str, list[str]]:
    """View each page twice; return the statements of each second view."""
    out = {}
    for path in PAGES:
        assert web.get(path).status_code == 200
        with counted(store) as statements:
            assert web.get(path).status_code == 200
        out[path] = statements
    return out


def test_a_viewed_officer_page_reads_the_store_the_same_number_of_times_however_many_agencies_owe(
    web: TestClient, store: Engine, store_settings: Settings
) -> None:
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,901,,,,")
    sign_in(web, OFFICER)
    few = _warm_views(web, store)
    _copies_of_notts(store, 6)
    many = _warm_views(web, store)
    for path in PAGES:
        # What each agency owes, and what it still owes, is not worked out again on a view that changed nothing.
        assert not [s for s in many[path] if "FROM agency_org WHERE agency_org.agency_code" in s], path
        assert not [s for s in many[path] if "FROM observation WHERE observation.is_current" in s], path
        # The calendar and the approvals queue do not read each agency's sign-off one at a time.
        assert not [s for s in many[path] if "FROM signoff WHERE signoff.agency_code = " in s], path
        # What stands in the way of each agency's sign-off (its uploads' errors and open queries) is still read
        # agency by agency, for the rows the queue shows; everything else is read the same number of times.
        assert len(_besides_blockers(many[path])) == len(_besides_blockers(few[path])), path
    # Here no return was ever pulled, so nothing counts the changes behind its periods and the dashboard builds
    # each return it shows (the same statements however many agencies owe it); on the demo they are tracked.
    assert len(_besides_blockers(many["/officer"])) <= 200, many["/officer"]
    # Nothing the dashboard shows changed: no return is built again (a build reads every stored figure of its period).
    assert not [s for s in many["/officer"] if s.startswith("INSERT INTO return_build")]


def _besides_blockers(statements: list[str]) -> list[str]:
    """The statements other than the sign-off blockers' own for each row (the agency's uploads, and the catalogue's
    version they check their cached links against)."""
    return [
        s for s in statements if "submission.agency_code = " not in s and "FROM catalogue_version ORDER BY" not in s
    ]


def test_what_an_agency_owes_follows_its_links_and_figures(store: Engine, store_settings: Settings) -> None:
    with Session(store) as session:
        owed = obligations(session, "notts_cyp", "FY2024-25")
        missing = outstanding(session, "notts_cyp", "FY2024-25")
        assert any(o.indicator_id == "cyp.lac_count" and o.org_code == "E10000024" for o in missing)
        # A link added in the same transaction is seen at once, flushed or not.
        session.add(AgencyOrg(agency_code="notts_cyp", org_code="E10000016"))
        more = obligations(session, "notts_cyp", "FY2024-25")
        assert len(more) > len(owed)
        assert {o.org_code for o in more} == {"E10000024", "E10000016"}
        session.rollback()
        assert obligations(session, "notts_cyp", "FY2024-25") == owed
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,901,,,,")
    with Session(store) as session:
        after = outstanding(session, "notts_cyp", "FY2024-25")
    assert len(after) == len(missing) - 1
    assert not any(o.indicator_id == "cyp.lac_count" and o.org_code == "E10000024" and o.breakdown == "" for o in after)


def test_what_an_agency_owes_at_each_deadline_reads_its_indicators_once_and_sees_a_link_added(store: Engine) -> None:
    from mappings import obligations as owing

    with Session(store) as session:
        owing._OWED.clear()
        with counted(store) as statements:
            obligations(session, "notts_cyp", "FY2024-25")
            obligations(session, "notts_cyp", "FY2023-24")
        # The agency's indicators (and org units) are the same for every period: read for the first only.
        assert len([s for s in statements if "JOIN agency_indicator" in s]) == 1
        # A link added in the same transaction is seen at once by the next period asked for.
        session.add(AgencyOrg(agency_code="notts_cyp", org_code="E10000016"))
        assert {o.org_code for o in obligations(session, "notts_cyp", "FY2022-23")} == {"E10000024", "E10000016"}
        session.rollback()


def test_a_return_never_pulled_is_built_once_for_the_dashboard_across_restarts_until_a_figure_changes(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exports import service

    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,901,,,,")
    built: list[str] = []
    real = service.build

    def counted_build(session: Session, return_id: str, period: str, **kwargs: Any) -> Any:
        built.append(period)
        return real(session, return_id, period, **kwargs)

    monkeypatch.setattr(service, "build", counted_build)

    def view() -> tuple[int | None, dict[str, int]]:
        with Session(store) as session:
            record = service.current_build(session, "dfe_ssda903", "FY2024-25")
            # Never pulled: nothing counts the changes behind the period.
            assert service.source_mark(session, "dfe_ssda903", "FY2024-25").startswith("r-")
            session.commit()
            return record.id, dict(record.completeness)

    first, counts = view()
    # Each view a session of its own, as after a restart: the build is found by the mark stored with it.
    assert view() == (first, counts)
    assert built == ["FY2024-25"]
    # A figure added: the next view builds the return again and counts the cell it fills.
    upload(store, store_settings, "notts_cyp", "cyp.lac_during_year,E10000024,FY2024-25,,900,,,,")
    after, now = view()
    assert built == ["FY2024-25", "FY2024-25"]
    assert after != first
    assert sum(now.values()) == sum(counts.values())
    assert now != counts


def test_the_dashboard_keeps_whose_figures_are_behind_each_return_for_the_next_start(
    web: TestClient, store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exports.signoff import behind
    from mappings.signoff.models import SignOffBehind

    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,901,,,,")
    sign_in(web, OFFICER)
    # The first view builds the returns it shows (writing their builds) and keeps what each build found behind them.
    assert web.get("/officer").status_code == 200
    with Session(store) as session:
        kept = {(k.return_id, k.period) for k in session.execute(select(SignOffBehind)).scalars()}
    assert ("dfe_ssda903", "FY2024-25") in kept
    built: list[str] = []
    real = behind._figures_behind

    def counted_behind(session: Session, ret: Any, period: str, shared: dict[str, Any]) -> Any:
        built.append(period)
        return real(session, ret, period, shared)

    monkeypatch.setattr(behind, "_figures_behind", counted_behind)
    behind._BEHIND.clear()  # as after a restart
    assert web.get("/officer").status_code == 200
    assert built == []
