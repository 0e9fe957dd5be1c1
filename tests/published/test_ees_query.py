"""The EES API's JSON: ``/query`` results, with ``/meta`` naming their ids, built from DfE's real table C1 in the
envelope DfE's API documentation and its R client eesyapi.R read (``timePeriod``, ``geographicLevel``,
``locations``, ``filters``, ``values``), are read into exactly the figures the tidy CSV gives, symbols included."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import polars as pl
import pytest

from collectors.published.formats import read_published
from collectors.published.read import PublishedFormatError, read_ees_csv
from collectors.published.sources import load_sources

SPEC = load_sources().sources["dfe_cin_c1"]
_LEVELS = {"National": "NAT", "Regional": "REG", "Local authority": "LA"}
_FILTERS = ["category"]
_INDICATORS = [c for c in SPEC.columns if c.endswith(("_count", "_percent"))]


def _api_answer(text: str) -> dict[str, Any]:
    """The real CSV as the API serves it: ids for filters, options, indicators and locations, named in ``/meta``."""
    rows = list(csv.DictReader(io.StringIO(text)))
    options: dict[str, dict[str, str]] = {f: {} for f in _FILTERS}
    places: dict[str, dict[str, str]] = {"NAT": {}, "REG": {}, "LA": {}}
    results = []
    for row in rows:
        locations = {}
        for level, column in (("NAT", "country_code"), ("REG", "region_code"), ("LA", "new_la_code")):
            if row[column]:
                locations[level] = places[level].setdefault(row[column], f"{level.lower()}{len(places[level])}")
        results.append(
            {
                "timePeriod": {"code": "RY", "period": row["time_period"]},
                "geographicLevel": _LEVELS[row["geographic_level"]],
                "locations": locations,
                "filters": {f"f_{f}": options[f].setdefault(row[f], f"o{len(options[f])}") for f in _FILTERS},
                "values": {f"i_{c}": row[c] for c in _INDICATORS},
            }
        )
    meta = {
        "timePeriods": [{"code": "RY", "period": p, "label": p} for p in sorted({r["time_period"] for r in rows})],
        "filters": [
            {
                "id": f"f_{f}",
                "column": f,
                "label": f,
                "options": [{"id": i, "label": lab} for lab, i in options[f].items()],
            }
            for f in _FILTERS
        ],
        "indicators": [{"id": f"i_{c}", "column": c, "label": c} for c in _INDICATORS],
        "locations": [
            {
                "level": {"code": level, "label": level},
                "options": [{"id": i, "label": code, "code": code} for code, i in found.items()],
            }
            for level, found in places.items()
        ],
    }
    return {"meta": meta, "results": results}


def _key(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop("file_row").sort(["indicator_id", "org_code", "period", "breakdown"])


def test_the_api_answer_gives_the_same_figures_as_the_csv_symbols_included() -> None:
    text = SPEC.bundled.read_text(encoding="utf-8-sig")
    from_csv, csv_rows = read_ees_csv(SPEC, text.encode())
    from_api, api_rows = read_published(SPEC, json.dumps(_api_answer(text)).encode())
    assert api_rows == csv_rows == 2132
    assert _key(from_api).equals(_key(from_csv))
    withheld = from_api.filter(pl.col("symbol").is_not_null())
    assert set(withheld["symbol"]) >= {"c", "x"}
    assert withheld["value"].is_null().all()
    # A sample compared with the file itself: Hartlepool's referrals in 2025, and a row DfE withheld.
    rows = list(csv.DictReader(io.StringIO(text)))
    row = next(r for r in rows if r["new_la_code"] == "E06000001" and r["time_period"] == "2025")
    for indicator, column in (("cyp.cin_referrals", "referral_count"), ("cyp.cin_rereferrals_n", "rereferral_count")):
        got = from_api.filter(
            (pl.col("indicator_id") == indicator)
            & (pl.col("org_code") == "E06000001")
            & (pl.col("period") == "FY2024-25")
        ).row(0, named=True)
        assert (got["value"], got["symbol"]) == (float(row[column]), None)
    hidden = next(r for r in rows if r["rereferral_count"] == "c" and r["new_la_code"])
    period = f"FY{int(hidden['time_period']) - 1}-{hidden['time_period'][2:]}"
    got = from_api.filter(
        (pl.col("indicator_id") == "cyp.cin_rereferrals_n")
        & (pl.col("org_code") == hidden["new_la_code"])
        & (pl.col("period") == period)
    ).row(0, named=True)
    assert (got["value"], got["symbol"]) == (None, "c")


def test_a_data_set_without_a_column_the_source_reads_is_refused_naming_it() -> None:
    answer = _api_answer(SPEC.bundled.read_text(encoding="utf-8-sig"))
    answer["meta"]["indicators"] = [i for i in answer["meta"]["indicators"] if i["column"] != "rereferral_count"]
    with pytest.raises(PublishedFormatError, match="no column rereferral_count that source 'dfe_cin_c1' reads"):
        read_published(SPEC, json.dumps(answer).encode())


def test_a_result_naming_an_id_meta_does_not_give_is_refused() -> None:
    answer = _api_answer(SPEC.bundled.read_text(encoding="utf-8-sig"))
    answer["results"][5]["filters"] = {"f_unknown": "o0"}
    with pytest.raises(PublishedFormatError, match="query result 6"):
        read_published(SPEC, json.dumps(answer).encode())
