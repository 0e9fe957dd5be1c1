"""A publisher's file is held to the catalogue's rules as an agency's upload is: a figure that breaks one refuses
the file with its row and rule named and nothing stored; a jump from the publisher's previous release is held
until an officer confirms it; an earlier release's file, imported again, puts its figures back."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from collectors.published.check import ImplausibleRelease
from collectors.published.intake import import_release
from collectors.published.read import PublishedFormatError
from collectors.published.sources import load_sources
from indicators.published import PublishedFigure, PublishedRelease
from indicators.store.models import HeldFigure, Observation, Submission
from onereturn.settings import Settings
from tests.helpers import assert_canonical_error

SPEC = load_sources().sources["ons_population_0_17"]
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
URL = "/api/published/sources/ons_population_0_17/releases"
#: Nottinghamshire's row for mid-2024 in the bundled file, and its estimate (collectors/demo/README.md).
NOTTS_2024 = "Nottinghamshire,Children aged 0 to 17 years,171572"


def _text() -> str:
    return SPEC.bundled.read_text(encoding="utf-8-sig")


def _edited(new: str) -> bytes:
    text = _text()
    assert NOTTS_2024 in text
    return text.replace(NOTTS_2024, f"Nottinghamshire,Children aged 0 to 17 years,{new}").encode()


def _notts(session: Session) -> list[tuple[int, float | None, bool]]:
    """Nottinghamshire's mid-2024 population in the store, every version."""
    rows = session.execute(
        select(Observation.version, Observation.value, Observation.is_current)
        .where(
            Observation.indicator_id == "pop.resident_0_17",
            Observation.org_code == "E10000024",
            Observation.period == "CY2024",
        )
        .order_by(col(Observation.version))
    ).all()
    return [tuple(r) for r in rows]


def _count(session: Session, table: type) -> int:
    return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_negative_population_is_refused_with_file_row_and_rule_and_nothing_stored(
    store: Engine, store_settings: Settings
) -> None:
    """Nottinghamshire's 0-17 population set to -5: the catalogue refuses a negative count from an agency, and so
    from a publisher; the store keeps the genuine figure the returns (DfE's CIN rate per 10,000) are built on."""
    import_release(store, store_settings, SPEC, SPEC.bundled.read_bytes(), filename=SPEC.file, fetched_from="upload")
    with Session(store) as session:
        before = _notts(session)
        figures_before = _count(session, PublishedFigure)
    with pytest.raises(ImplausibleRelease) as refused:
        import_release(store, store_settings, SPEC, _edited("-5"), filename="edited.csv", fetched_from="upload")
    message = refused.value.message
    text_rows = _text().splitlines()
    row = next(n for n, line in enumerate(text_rows, start=1) if NOTTS_2024 in line)
    assert message.startswith(f"edited.csv row {row}: -5 is negative")
    assert "(rule not-negative)" in message
    assert refused.value.status_code == 422
    # Named as the publisher's file names it: its row and the column the figure was read from.
    assert refused.value.errors[0]["loc"] == ["edited.csv", f"row {row}", "population_estimate"]
    assert refused.value.errors[0]["input"] == "-5"
    with Session(store) as session:
        assert _notts(session) == before == [(1, 171572.0, True)]
        assert _count(session, PublishedRelease) == 1
        assert _count(session, PublishedFigure) == figures_before
        # No submission for the refused file: nothing of it reached the store.
        assert _count(session, Submission) == 1


def test_a_file_for_years_the_publisher_never_published_is_refused(store: Engine, store_settings: Settings) -> None:
    """The source declares the publisher's first year (2012): a file for 1780 to 2011 is not a release of it."""
    lines = _text().splitlines(keepends=True)
    header, rows = lines[0], [line for line in lines[1:] if line.startswith("2012,")]
    old = [f"{year}{line[4:]}" for year in range(2011, 1779, -1) for line in rows]
    with pytest.raises(PublishedFormatError) as refused:
        import_release(
            store, store_settings, SPEC, (header + "".join(old)).encode(), filename="history.csv", fetched_from="upload"
        )
    assert refused.value.message.startswith("history.csv row 2: time_period '2011' is before 2012")
    with Session(store) as session:
        assert _count(session, PublishedRelease) == 0
        assert _count(session, PublishedFigure) == 0


def test_a_year_not_yet_begun_is_refused(store: Engine, store_settings: Settings) -> None:
    """Periods that have not begun are refused as in an agency's upload (the catalogue's future-period rule)."""
    text = _text().replace("2024,Reporting year,National", "2099,Reporting year,National", 1)
    with pytest.raises(ImplausibleRelease, match=r"future\.csv row 2: CY2099 has not begun yet"):
        import_release(store, store_settings, SPEC, text.encode(), filename="future.csv", fetched_from="upload")


def test_a_jump_from_the_previous_release_is_held_until_an_officer_confirms_it(
    store_client: TestClient, store: Engine
) -> None:
    """Three times the last release's estimate: held (not stored, not current) with the rule named; confirmed over
    the API with a note, it becomes the publisher's current figure and the store's."""
    first = store_client.post(URL, headers=OFFICER, files={"file": (SPEC.file, SPEC.bundled.read_bytes())})
    assert first.status_code == 201, first.text
    negative = store_client.post(URL, headers=OFFICER, files={"file": ("edited.csv", _edited("-5"))})
    assert negative.status_code == 422
    assert_canonical_error(negative.json(), 422)
    assert negative.json()["error"].startswith("edited.csv row ")
    assert "(rule not-negative)" in negative.json()["error"]
    jumped = store_client.post(URL, headers=OFFICER, files={"file": ("jumped.csv", _edited("514716"))})
    assert jumped.status_code == 201, jumped.text
    release = jumped.json()["release"]
    assert release["held"] == 1
    assert "1 held by a query" in release["message"]
    with Session(store) as session:
        assert _notts(session) == [(1, 171572.0, True)]
    held = store_client.get("/api/published/queries", headers=OFFICER).json()
    assert held["total"] == 1
    item = held["items"][0]
    assert (item["org_code"], item["period"], item["value"], item["filename"]) == (
        "E10000024",
        "CY2024",
        514716.0,
        "jumped.csv",
    )
    assert item["rule"] == "change.revision"
    assert "171,572" in item["message"]
    # The agency's query route does not take a publisher's figure: it would not be kept as the publisher's.
    sub = release["submission_id"]
    wrong = store_client.post(f"/api/submissions/{sub}/queries/{item['id']}", headers=OFFICER, json={"note": "x"})
    assert wrong.status_code == 422
    assert (
        store_client.post(f"/api/published/queries/{item['id']}", headers=OFFICER, json={"note": ""}).status_code == 422
    )
    done = store_client.post(
        f"/api/published/queries/{item['id']}", headers=OFFICER, json={"note": "ONS rebased the estimate"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "answered"
    with Session(store) as session:
        assert _notts(session) == [(1, 171572.0, False), (2, 514716.0, True)]
        current = session.execute(
            select(PublishedFigure.value, PublishedFigure.release_id).where(
                PublishedFigure.org_code == "E10000024",
                PublishedFigure.period == "CY2024",
                col(PublishedFigure.is_current),
            )
        ).one()
        assert tuple(current) == (514716.0, release["id"])
        assert session.get(Submission, sub).queries_open == 0  # type: ignore[union-attr]
    assert store_client.get("/api/published/queries", headers=OFFICER).json()["total"] == 0
    again = store_client.post(f"/api/published/queries/{item['id']}", headers=OFFICER, json={"note": "again"})
    assert again.status_code == 422


def test_the_genuine_file_after_an_edited_one_puts_its_figures_back(store: Engine, store_settings: Settings) -> None:
    """As an agency's earlier file sent again: the first release's file, read again after a later one, is applied
    again as a release of its own that names it, and its figures are current again."""
    original = SPEC.bundled.read_bytes()
    first = import_release(store, store_settings, SPEC, original, filename=SPEC.file, fetched_from="upload")
    edited = import_release(
        store, store_settings, SPEC, _edited("171600"), filename="edited.csv", fetched_from="upload"
    )
    assert edited.release.stored_revised == 1
    again = import_release(store, store_settings, SPEC, original, filename=SPEC.file, fetched_from="upload")
    assert not again.duplicate
    assert again.release.reapplies == first.release.id
    assert again.release.stored_revised == 1
    assert again.release.message.startswith(f"the file of release {first.release.id} applied again")
    with Session(store) as session:
        assert _notts(session) == [(1, 171572.0, False), (2, 171600.0, False), (3, 171572.0, True)]
        releases = session.execute(select(PublishedRelease.id).order_by(col(PublishedRelease.id))).scalars().all()
        assert len(releases) == 3
    # Sent a fourth time, the file is what is current: nothing to do.
    fourth = import_release(store, store_settings, SPEC, original, filename=SPEC.file, fetched_from="upload")
    assert fourth.duplicate
    assert fourth.release.id == again.release.id


def test_the_bundled_files_pass_the_rules_whole(store: Engine, store_settings: Settings) -> None:
    """Every bundled publisher's file is stored whole, with no figure held: the rules refuse edits, not DfE's data."""
    for spec in load_sources().sources.values():
        if not spec.bundled.is_file():
            continue
        done = import_release(
            store, store_settings, spec, spec.bundled.read_bytes(), filename=spec.file, fetched_from="upload"
        )
        assert done.release.held == 0, spec.id
    with Session(store) as session:
        assert _count(session, HeldFigure) == 0
