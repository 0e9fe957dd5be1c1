"""At scale 1 the synthetic England's councils are DfE's own size, and England's rows made from their records equal
DfE's published figures (SQLite and PostgreSQL). The smallest councils by DfE's counts each send their SSDA903, CIN
census and SEN2 file through the door with their own key (DfE's rules run); then each council's looked after and in
need on 31 March, referrals in the year and EHC plans in England's rows are DfE's figure for it, read from the
publisher's file the service ships, shown as DfE's rows show them (a council's small number withheld), and
England's and each region's row is the sum of those councils, rounded as DfE's rows are, the other councils named as
missing."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from benchmarks.england import current_code, onboard
from cli.synthetic.england import (
    IN_NEED,
    LOOKED_AFTER,
    PLANS,
    REFERRALS,
    YEAR,
    Council,
    england_councils,
    write_england,
)
from collectors.published.sources import EHCP_RELEASE, FILES_DIR
from collectors.regions.england_figures import CIN
from onereturn.settings import Settings
from tests.apps import client_on

#: How many of the smallest councils are sent: as many as DfE's rules check in about a minute on two cores.
SMALLEST = 3
#: Each count's file and column as DfE publishes it (the files docs/england.md names), and its filter.
PUBLISHED = {
    LOOKED_AFTER: (
        "cla_number_and_rate_per_10k_children.csv",
        "children_count",
        ("population_type", "Children looked after on 31 March each year"),
    ),
    IN_NEED: ("b1_children_in_need_2013_to_2025.csv", "At31_episodes", None),
    REFERRALS: ("c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv", "referral_count", None),
}
#: Each count's figure in England's rows: the return, the catalogue's indicator.
FIGURE = {
    LOOKED_AFTER: ("dfe_ssda903", "cyp.lac_count"),
    IN_NEED: ("dfe_cin_census", "cyp.cin_count"),
    REFERRALS: ("dfe_cin_census", "cyp.cin_referrals"),
}


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def published(councils: list[Council]) -> dict[str, dict[str, str]]:
    """DfE's figure of each council (by DfE's number) and kind, as its file writes it ("c", "z" where withheld)."""
    found: dict[str, dict[str, str]] = {c.lea: {} for c in councils}
    for kind, (name, column, keep) in PUBLISHED.items():
        for row in _rows((FILES_DIR / name).read_text(encoding="utf-8-sig")):
            ours = row["time_period"] == "2025" and row["geographic_level"] == "Local authority"
            if ours and row["old_la_code"] in found and (keep is None or row[keep[0]] == keep[1]):
                found[row["old_la_code"]][kind] = row[column]
    with zipfile.ZipFile(EHCP_RELEASE) as archive:
        caseload = archive.read("data/caseload.csv").decode("utf-8-sig")
    for row in _rows(caseload):
        ours = row["time_period"] == "202425" and row["geographic_level"] == "Local authority"
        if ours and row["old_la_code"] in found and row["breakdown_topic"] == "All EHC plans":
            found[row["old_la_code"]][PLANS] = row["ehcplans"]
    return found


def _nearest_ten(count: int) -> str:
    return f"{(Decimal(count) / 10).quantize(Decimal(1), rounding=ROUND_HALF_UP) * 10:.0f}"


@pytest.fixture(scope="module")
def smallest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Council]]:
    """The smallest councils by DfE's counts (all four added), their files written at DfE's own size."""
    every = sorted(england_councils(), key=lambda c: sum(n or 0 for n in c.published.values()))
    out = tmp_path_factory.mktemp("england-at-scale-1")
    return out, write_england(out, scale=1, seed=1, codes=[c.code for c in every[:SMALLEST]])


def test_england_made_from_the_smallest_councils_records_equals_dfes_published_figures(
    smallest: tuple[Path, list[Council]], store: Engine, store_settings: Settings
) -> None:
    out, councils = smallest
    assert len({c.region_code for c in councils}) >= 2
    dfe = published(councils)
    keys, regulator = onboard(store, councils)
    with client_on(store_settings, store) as client:
        for c in councils:
            home = out / f"{c.code}-{c.lea}"
            for files in (sorted((home / "ssda903").glob("*.csv")), [*(home / "cin").glob("*.xml")]):
                body = [("files", (p.name, p.read_bytes(), "text/plain")) for p in files]
                sent = client.post(
                    "/api/submissions", headers={"X-API-Key": keys[c.code]}, data={"collection_year": YEAR}, files=body
                )
                assert sent.status_code in (201, 202), sent.text
                seen = client.get(f"/api/submissions/{sent.json()['id']}", headers={"X-API-Key": keys[c.code]}).json()
                assert (seen["status"], seen["stage"]) == ("accepted", "stored"), (c.name, seen["message"])
            sen2 = next((home / "sen2").glob("*.xml"))
            sent = client.post(
                "/api/submissions",
                headers={"X-API-Key": keys[c.code]},
                data={"collection_year": YEAR},
                files=[("files", (sen2.name, sen2.read_bytes(), "application/xml"))],
            )
            assert sent.status_code in (201, 202), sent.text
        regulator_key = {"X-API-Key": regulator}
        rows = {
            ret: _rows(client.get(f"/api/england/{ret}/{YEAR}.csv", headers=regulator_key).text)
            for ret in ("dfe_ssda903", "dfe_cin_census")
        }
        coverage = client.get(f"/api/england/dfe_cin_census/{YEAR}", headers=regulator_key).json()
        plans = _rows(client.get(f"/api/sen2/{YEAR}/england/caseload.csv", headers=regulator_key).text)

    codes = {c.code for c in councils}
    assert set(coverage["councils_counted"]) == codes
    assert len(coverage["councils_missing"]) == 153 - len(councils)
    for kind, (ret, indicator) in FIGURE.items():
        figure = [r for r in rows[ret] if r["indicator"] == indicator]
        for c in councils:
            theirs = [r["value"] for r in figure if r["new_la_code"] in (c.code, current_code(c))]
            said = dfe[c.lea][kind]
            # DfE's number as published; a figure DfE withholds ("c", "z": the files hold 1 child) is withheld here.
            assert theirs == ([said] if said.isdigit() else [CIN.symbol]), (c.name, kind, theirs, said)
        # England's row and each region's: the councils' counts added, rounded to the nearest 10 as DfE's are.
        counts = {c.code: int(dfe[c.lea][kind]) if dfe[c.lea][kind].isdigit() else 1 for c in councils}
        national = [r["value"] for r in figure if r["geographic_level"] == "National"]
        assert national == [_nearest_ten(sum(counts.values()))], (kind, national)
        for region in {c.region_code for c in councils}:
            theirs = [r["value"] for r in figure if r["geographic_level"] == "Regional" and r["region_code"] == region]
            mine = sum(counts[c.code] for c in councils if c.region_code == region)
            assert theirs == [_nearest_ten(mine)], (kind, region, theirs)
    # DfE's EHC plan tables are neither rounded nor suppressed: each council's plans in force are DfE's, exactly.
    every = [r for r in plans if r["breakdown_topic"] == "All EHC plans"]
    for c in councils:
        assert [r["ehcplans"] for r in every if r["new_la_code"] in (c.code, current_code(c))] == [dfe[c.lea][PLANS]]
    national = [r["ehcplans"] for r in every if r["geographic_level"] == "National"]
    assert national == [str(sum(int(dfe[c.lea][PLANS]) for c in councils))]
