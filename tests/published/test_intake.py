"""The published-figures intake: each bundled publisher's file is read as the publisher wrote it and stored
as the publisher's, whole or not at all."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from collectors.published.intake import import_release
from collectors.published.read import PublishedFormatError, read_ees_csv
from collectors.published.sources import SourceSpec, load_sources
from indicators.published import PublishedFigure, PublishedRelease
from indicators.store.models import Observation, Submission
from onereturn.settings import Settings

SOURCES = load_sources().sources


def _rows(spec: SourceSpec) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(spec.bundled.read_text(encoding="utf-8-sig"))))


def _org(row: dict[str, str], spec: SourceSpec) -> str:
    return row[spec.levels[row["geographic_level"]]]


def _published(session: Session, indicator: str, org: str, period: str) -> PublishedFigure:
    found: PublishedFigure = session.execute(
        select(PublishedFigure).where(
            PublishedFigure.indicator_id == indicator,
            PublishedFigure.org_code == org,
            PublishedFigure.period == period,
            col(PublishedFigure.is_current),
        )
    ).scalar_one()
    return found


# EES files here; NDTMS's ViewIt exports, whose areas are named, in test_viewit.py.
@pytest.mark.parametrize(
    "source_id", sorted(s for s, spec in SOURCES.items() if spec.bundled.is_file() and spec.format == "ees_csv")
)
def test_each_bundled_file_is_stored_as_its_publisher_wrote_it(
    source_id: str, store: Engine, store_settings: Settings
) -> None:
    spec = SOURCES[source_id]
    done = import_release(
        store, store_settings, spec, spec.bundled.read_bytes(), filename=spec.file, fetched_from="upload"
    )
    assert not done.duplicate
    rows = _rows(spec)
    assert done.release.rows_read == len(rows)
    with Session(store) as session:
        for fig in spec.figure:
            chosen = [
                r for r in rows if r["geographic_level"] in spec.levels and all(r[c] == v for c, v in fig.where.items())
            ]
            # A sample across the file, the publisher's symbols included.
            sample = chosen[:: max(1, len(chosen) // 25)] + [r for r in chosen if not r[fig.value].isdigit()][:10]
            for row in sample:
                year = int(row["time_period"][:4])
                period = {
                    "calendar_year": f"CY{year}",
                    "march_snapshot": f"{year}-03-31",
                    "september_snapshot": f"{year}-09-30",
                    "financial_year_ending": f"FY{year - 1}-{year % 100:02d}",
                    # EES's 202425 is the academic year 2024/25.
                    "academic_year": f"AY{year}-{row['time_period'][4:6]}",
                    # DfE's December to February average, dated the last day of February.
                    "winter_average": f"{year}-02-{29 if year % 4 == 0 else 28}",
                }[fig.period]
                org = _org(row, spec)
                found = session.execute(
                    select(PublishedFigure).where(
                        PublishedFigure.indicator_id == fig.indicator,
                        PublishedFigure.org_code == org,
                        PublishedFigure.period == period,
                        col(PublishedFigure.is_current),
                    )
                ).scalar_one_or_none()
                if found is None:
                    continue  # an area the geography does not hold (counted as skipped)
                raw = row[fig.value]
                assert found.file_row == rows.index(row) + 2
                assert found.release_id == done.release.id
                if raw.replace(".", "", 1).isdigit():
                    assert found.value == float(raw)
                    assert found.symbol is None
                elif raw == "u":
                    assert found.value is None
                    assert found.symbol == "x"
                    assert found.flag == "u"
                else:
                    assert found.value is None
                    assert found.symbol == spec.symbols[raw]
                # The rate's numerator and denominator as the file gives them (a withheld one is no number).
                for column, stored in ((fig.numerator, found.numerator), (fig.denominator, found.denominator)):
                    if column is None:
                        assert stored is None
                    elif row[column].replace(".", "", 1).isdigit():
                        assert stored == float(row[column])
                    else:
                        assert stored is None
        counted = session.execute(
            select(func.count()).where(col(PublishedFigure.release_id) == done.release.id)
        ).scalar_one()
        assert counted == done.release.figures - done.release.skipped
        assert done.release.skipped < done.release.figures / 10


def test_population_is_stored_as_ons_figures_and_needs_no_sign_off(store: Engine, store_settings: Settings) -> None:
    spec = SOURCES["ons_population_0_17"]
    done = import_release(
        store, store_settings, spec, spec.bundled.read_bytes(), filename=spec.file, fetched_from="upload"
    )
    with Session(store) as session:
        obs = session.execute(
            select(Observation).where(
                Observation.indicator_id == "pop.resident_0_17",
                Observation.org_code == "E10000024",
                Observation.period == "CY2024",
                col(Observation.is_current),
            )
        ).scalar_one()
        # Nottinghamshire, mid-2024 (the file's row for 2024, E10000024): 171,572 (collectors/demo/README.md).
        assert obs.value == 171572
        assert obs.submission_id == done.release.submission_id
        sub = session.get(Submission, done.release.submission_id)
        assert sub is not None
        assert sub.agency_code == "ons"
        assert sub.kind == "published"
        assert sub.status == "accepted"
        assert _published(session, "pop.resident_0_17", "E10000024", "CY2024").stored_as == "store"
    assert done.release.stored_new > 2000


def test_an_unchanged_release_is_recognised_and_does_nothing(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collectors import ways_in
    from collectors.published import intake

    spec = SOURCES["ons_population_0_17"]
    data = spec.bundled.read_bytes()
    first = import_release(store, store_settings, spec, data, filename=spec.file, fetched_from="upload")

    def unread(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a release the source's newest release already read is read again")

    # The door tells the repeat by the way's own key in the table of ways in, before the file is read: the daily
    # fetch of an unchanged release reads nothing.
    assert ways_in.WAYS_IN["published"].way.repeat == intake.WAY.repeat
    monkeypatch.setattr(intake, "read_release", unread)
    again = import_release(store, store_settings, spec, data, filename=spec.file, fetched_from="upload")
    assert again.duplicate
    assert again.release.id == first.release.id
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(PublishedRelease)).scalar_one() == 1


def test_a_changed_release_revises_exactly_the_cells_that_changed(store: Engine, store_settings: Settings) -> None:
    spec = SOURCES["ons_population_0_17"]
    data = spec.bundled.read_bytes()
    import_release(store, store_settings, spec, data, filename=spec.file, fetched_from="upload")
    text = data.decode("utf-8-sig")
    # Nottinghamshire's 2024 estimate revised; one council's 2012 estimate withheld.
    changed = text.replace(
        "Nottinghamshire,Children aged 0 to 17 years,171572", "Nottinghamshire,Children aged 0 to 17 years,171600"
    )
    lines = changed.splitlines(keepends=True)
    last = lines[-1].rsplit(",", 1)
    lines[-1] = f"{last[0]},c\n"
    assert changed != text
    second = import_release(
        store, store_settings, spec, "".join(lines).encode(), filename=spec.file, fetched_from="upload", version="2.0"
    )
    assert (second.release.stored_new, second.release.stored_revised) == (0, 2)
    assert second.release.unchanged == second.release.figures - second.release.skipped - 2
    with Session(store) as session:
        history = session.execute(
            select(Observation.version, Observation.value, Observation.is_current)
            .where(
                Observation.indicator_id == "pop.resident_0_17",
                Observation.org_code == "E10000024",
                Observation.period == "CY2024",
            )
            .order_by(col(Observation.version))
        ).all()
        assert [tuple(h) for h in history] == [(1, 171572.0, False), (2, 171600.0, True)]


def test_a_new_release_layout_is_refused_with_the_difference_named_and_nothing_stored(
    store: Engine, store_settings: Settings
) -> None:
    spec = SOURCES["ons_population_0_17"]
    text = spec.bundled.read_text(encoding="utf-8-sig").replace("population_estimate", "population_count", 1)
    with pytest.raises(
        PublishedFormatError, match=r"missing population_estimate; 1 column\(s\) it does not declare \(column \d+\)"
    ):
        import_release(store, store_settings, spec, text.encode(), filename=spec.file, fetched_from="upload")
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(PublishedFigure)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(Observation)).scalar_one() == 0


def test_a_layout_with_fifty_thousand_new_columns_is_refused_in_a_few_words() -> None:
    """The refusal gives the positions of a few of the new columns and counts the rest, naming none of them."""
    spec = SOURCES["ons_population_0_17"]
    header = ",".join([*spec.columns, *(f"extra_{n}" for n in range(50_000))])
    with pytest.raises(PublishedFormatError) as refused:
        read_ees_csv(spec, (header + "\n").encode())
    assert "50,000 column(s) it does not declare (column 13, 14, 15, 16, 17 and 49,995 more)" in refused.value.message
    assert "extra_" not in refused.value.message
    assert len(refused.value.message) < 1_000


def test_a_value_that_is_neither_a_number_nor_a_symbol_is_refused(store: Engine, store_settings: Settings) -> None:
    spec = SOURCES["ons_population_0_17"]
    text = spec.bundled.read_text(encoding="utf-8-sig")
    text = text.replace("Children aged 0 to 17 years,542710", "Children aged 0 to 17 years,542 710", 1)
    with pytest.raises(PublishedFormatError, match=r"row 3: population_estimate = '542 710'"):
        import_release(store, store_settings, spec, text.encode(), filename=spec.file, fetched_from="upload")
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(Observation)).scalar_one() == 0
