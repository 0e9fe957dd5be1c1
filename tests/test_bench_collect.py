"""`bench collect` in small: its upload reaches back to the first year a period may name with every breakdown the
catalogue declares, the pipeline takes it whole, and the floor writes the same figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from benchmarks import collect
from tests.stores import copied_store


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _figures(engine: Engine) -> set[tuple[str, str, str, str, float]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT indicator_id, org_code, period, breakdown, value FROM observation")).all()
    return {(i, o, p, b, float(v)) for i, o, p, b, v in rows}


def test_a_year_more_than_the_periods_allow_is_refused_before_anything_is_made(store: Engine, tmp_path: Path) -> None:
    most = collect.most_figures(_url(store))
    with pytest.raises(SystemExit, match=f"at most {most:,} figures"):
        collect._make_upload(_url(store), most + 1, tmp_path / "upload.csv")
    assert not (tmp_path / "upload.csv").exists()


def test_the_pipeline_takes_the_upload_whole_and_the_floor_stores_the_same_figures(
    store_template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two years ending at the first a period may name's next: the oldest figures the full-size upload would send.
    monkeypatch.setattr(collect, "LAST_YEAR", collect.FIRST_YEAR + 1)
    upload = tmp_path / "population.csv"
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "floor").mkdir()
    with (
        copied_store(store_template, tmp_path / "pipeline") as pipeline,
        copied_store(store_template, tmp_path / "floor") as floor,
    ):
        rows = collect.most_figures(_url(pipeline)) // 2 + 500
        collect._make_upload(_url(pipeline), rows, upload)
        taken = collect._phase_pipeline(_url(pipeline), upload, tmp_path / "data")
        written = collect._phase_floor(_url(floor), upload)
        assert taken["rows"] == written["rows"] == rows
        stored = _figures(pipeline)
        assert stored == _figures(floor)
    assert {p for _, _, p, _, _ in stored} == {f"CY{collect.FIRST_YEAR}", f"CY{collect.FIRST_YEAR + 1}"}
    assert {b for i, _, _, b, _ in stored if i == "pop.resident_0_17"} == {"", "sex=F", "sex=M", "sex=U"}
    assert "age_band_5y=90+;sex=U" in {b for i, _, _, b, _ in stored if i == "pop.resident_all_ages"}
