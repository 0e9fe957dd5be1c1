"""OHID's Fingertips unmet-need indicators (93517, 93532) read from OHID's own all-data CSV, cell by cell."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors.published.intake import import_release
from collectors.published.sources import load_sources
from indicators.published import PublishedFigure
from onereturn.settings import Settings

SOURCES = load_sources().sources
#: Source -> (Fingertips indicator id, the catalogue's count and denominator it stores).
UNMET = {
    "fingertips_unmet_need_opiates": (93517, "ohid.ocu_not_in_treatment", "ohid.ocu_estimated"),
    "fingertips_unmet_need_alcohol": (
        93532,
        "ohid.dependent_drinkers_not_in_treatment",
        "ohid.dependent_drinkers_estimated",
    ),
}


@pytest.mark.parametrize("source_id", sorted(UNMET))
def test_each_row_is_stored_as_ohid_wrote_it(source_id: str, store: Engine, store_settings: Settings) -> None:
    spec = SOURCES[source_id]
    indicator_id, count, denominator = UNMET[source_id]
    # The scheduled fetch asks FingertipsNext for exactly this indicator.
    assert spec.fingertips_indicators == [indicator_id]
    rows = list(csv.DictReader(io.StringIO(spec.bundled.read_text(encoding="utf-8-sig"))))
    assert {r["Indicator ID"] for r in rows} == {str(indicator_id)}
    done = import_release(
        store, store_settings, spec, spec.bundled.read_bytes(), filename=spec.file, fetched_from="upload"
    )
    assert done.release.figures == 2 * len(rows)
    assert done.release.skipped == 0
    with Session(store) as session:
        stored = {
            (f.indicator_id, f.org_code, f.period): f
            for f in session.execute(
                select(PublishedFigure).where(col(PublishedFigure.release_id) == done.release.id)
            ).scalars()
        }
    for number, row in enumerate(rows, start=2):
        period = f"FY{row['Time period'][:4]}-{row['Time period'][5:]}"
        for indicator, column in ((count, "Count"), (denominator, "Denominator")):
            figure = stored[(indicator, row["Area Code"], period)]
            assert (figure.value, figure.file_row) == (float(row[column]), number)
        # OHID's own percentage is the stored terms' ratio to within 0.02 points (the terms are published as
        # three-year averages), so the service's derived one is OHID's to its one decimal place.
        numerator, whole = (
            stored[(count, row["Area Code"], period)].value,
            stored[(denominator, row["Area Code"], period)].value,
        )
        assert numerator is not None
        assert whole is not None
        worked_out = 100 * numerator / whole
        assert worked_out == pytest.approx(float(row["Value"]), abs=0.02)
