"""A region's hub tried as a region would (SQLite and PostgreSQL): four councils' files kept, three consent to pan,
the region's pooled header holds exactly their children with a child known to two of them once by key, a withdrawal
takes a council out of the next pull, nothing in any pooled table names a child; and each bad input refused with its
reason."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from mappings import keys, registry
from onereturn.errors import InvalidInput
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.regions.world import COUNCILS, REGION, Files, Region, make_files, onboard, store_figures

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
TABLES = ("ssda903_header", "ssda903_episodes", "cin_census")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return make_files(tmp_path_factory.mktemp("region-files"))


@dataclass
class Hub:
    """A client on a store holding the region, its councils and their kept files."""

    client: TestClient
    region: Region
    files: Files

    def council(self, code: str) -> dict[str, str]:
        return {"X-API-Key": self.region.approvers[code]}

    @property
    def hub(self) -> dict[str, str]:
        return {"X-API-Key": self.region.region_key}

    def rows(self, table: str) -> list[dict[str, str]]:
        answer = self.client.get(f"/api/regions/{REGION}/pan/{table}.csv", headers=self.hub)
        assert answer.status_code == 200, answer.text
        return list(csv.DictReader(io.StringIO(answer.text)))


@pytest.fixture
def hub(store: Engine, store_settings: Settings, files: Files) -> Iterator[Hub]:
    region = onboard(store, store_settings, files)
    with Session(store) as session:
        # A second region, of which no council of the first is a member.
        registry.import_agencies(
            session, b"code,name,body_type,orgs\nwest_hub,West hub (test),region,E08000025\n", "w.csv"
        )
        session.commit()
    with client_on(store_settings, store) as client:
        yield Hub(client, region, files)


def header_rows(path: Path) -> int:
    return sum(1 for _ in csv.DictReader(path.open()))


def test_three_councils_consent_and_the_region_reads_exactly_their_children(hub: Hub) -> None:
    for code in ("notts_cyp", "derbyshire_cs", "leics_cs"):
        given = hub.client.put(
            f"/api/agencies/{code}/consent/{REGION}", headers=hub.council(code), json={"use_cases": ["pan"]}
        )
        assert given.status_code == 200, given.text
        assert given.json()["use_cases"] == ["pan"]
    header = hub.rows("ssda903_header")
    gss = {COUNCILS[c][0] for c in ("notts_cyp", "derbyshire_cs", "leics_cs")}
    assert {r["council"] for r in header} == gss
    root = hub.files.folders
    expected = sum(header_rows(root[c][0][0].parent / "header.csv") for c in ("notts_cyp", "derbyshire_cs", "leics_cs"))
    assert len(header) == expected
    # The child two councils share by UPN is one key in both councils' rows: counted once by key.
    keys = [r["child_key"] for r in header]
    assert len(set(keys)) == len(keys) - 1
    (shared,) = {k for k in keys if keys.count(k) == 2}
    assert {r["council"] for r in header if r["child_key"] == shared} == {"E10000024", "E10000007"}
    # Birth dates to the first of the month; no UPN, no council id, no name, no full postcode in any table.
    assert all(r["DOB"].endswith("-01") for r in header if r["DOB"])
    assert "UPN" not in header[0]
    assert "CHILD" not in header[0]
    for table in TABLES:
        text = hub.client.get(f"/api/regions/{REGION}/pan/{table}.csv", headers=hub.hub).text
        assert not hub.files.leaked(text), table
    episodes = hub.rows("ssda903_episodes")
    assert all(len(r["PL_POST"].split(" ")[1]) == 1 for r in episodes if r["PL_POST"])

    # A child's SEN2 in one council beside its SSDA903 in two others: one key, and no name of SEN2's leaves.
    sen2 = hub.client.get(f"/api/regions/{REGION}/pan/sen2_persons.csv", headers=hub.hub)
    assert sen2.status_code == 200
    assert sen2.headers["x-councils"] == "E10000018"
    persons = list(csv.DictReader(io.StringIO(sen2.text)))
    assert shared in {p["child_key"] for p in persons}
    assert all(p["born"].endswith("-01") for p in persons)
    assert not hub.files.leaked(sen2.text)

    withdrawn = hub.client.delete(f"/api/agencies/derbyshire_cs/consent/{REGION}", headers=hub.council("derbyshire_cs"))
    assert withdrawn.status_code == 200
    assert withdrawn.json()["use_cases"] == []
    after = hub.rows("ssda903_header")
    assert {r["council"] for r in after} == gss - {"E10000007"}
    assert shared in {r["child_key"] for r in after}
    assert len({r["child_key"] for r in after}) == len(after)
    # Each change is in the audit trail, with the use cases before and after.
    trail = hub.client.get("/api/audit", headers=OFFICER, params={"action": "consent.withdraw"}).json()["items"]
    assert [(e["object"], e["detail"]) for e in trail] == [
        (f"consent of derbyshire_cs to {REGION}", "withdrawn: use cases pan -> none")
    ]


def test_each_bad_input_is_refused_with_its_reason(hub: Hub) -> None:
    put = hub.client.put
    notts = hub.council("notts_cyp")
    unknown = put(f"/api/agencies/notts_cyp/consent/{REGION}", headers=notts, json={"use_cases": ["marketing"]})
    assert unknown.status_code == 422
    assert "not a use case" in unknown.text
    assert "pan" in unknown.text
    # Lewisham is a member; the demo's Barnet drug and alcohol partnership sends no children's records.
    with_no_records = put("/api/agencies/notts_cyp/consent/no_such_region", headers=notts, json={"use_cases": ["pan"]})
    assert with_no_records.status_code == 404
    assert "not known" in with_no_records.text
    elsewhere = put("/api/agencies/notts_cyp/consent/west_hub", headers=notts, json={"use_cases": ["pan"]})
    assert elsewhere.status_code == 422, elsewhere.text
    assert "not a member of the region west_hub" in elsewhere.text
    assert "E08000025" in elsewhere.text
    other = put(f"/api/agencies/leics_cs/consent/{REGION}", headers=notts, json={"use_cases": ["pan"]})
    assert other.status_code == 404
    assert "its own council's consent only" in other.text
    region_records = hub.client.get(
        "/api/agencies/notts_cyp/annex-a", headers=hub.hub, params={"inspection_date": "2025-03-31"}
    )
    assert region_records.status_code == 403
    assert "nothing of any council's own" in region_records.text
    council_reads_region = hub.client.get(f"/api/regions/{REGION}/pan/ssda903_header.csv", headers=notts)
    assert council_reads_region.status_code == 403
    assert "key of the region's own agency" in council_reads_region.text
    for who in (OFFICER, DFE):
        assert hub.client.get(f"/api/regions/{REGION}/pan/ssda903_header.csv", headers=who).status_code == 403
    assert hub.client.get(f"/api/regions/{REGION}/pan/no_table.csv", headers=hub.hub).status_code == 404


def test_a_region_is_onboarded_by_import_and_its_keys_read_its_outputs_alone(hub: Hub, store: Engine) -> None:
    overview = hub.client.get(f"/api/regions/{REGION}", headers=hub.hub)
    assert overview.status_code == 200, overview.text
    members = {m["council"]: m["gss"] for m in overview.json()["members"]}
    assert members == {code: gss for code, (gss, _, _) in COUNCILS.items()}
    assert [c["retention_years"] for c in overview.json()["use_cases"]] == [12, 7]
    assert hub.client.get(f"/api/regions/{REGION}", headers=OFFICER).status_code == 200
    assert hub.client.get("/api/regions/west_hub", headers=hub.hub).status_code == 404
    # Its key reads nothing of a council's own, not even the agencies' list, and uploads nothing.
    for path in ("/api/agencies", "/api/submissions", "/api/figures", f"/api/agencies/{REGION}"):
        refused = hub.client.get(path, headers=hub.hub)
        assert refused.status_code == 403, path
        assert "nothing of any council's own" in refused.text
    # A region's key is never an approver; a region owes no return and its org units are councils.
    with Session(store) as session:
        with pytest.raises(InvalidInput, match="is a region"):
            keys.create_key(session, role="agency", agency_code=REGION, label="x", approver=True)
        bad = b"code,name,body_type,orgs,returns\nbad_hub,Bad hub,region,E07000170,dfe_ssda903\n"
        with pytest.raises(InvalidInput) as refused_import:
            registry.import_agencies(session, bad, "bad.csv")
    said = str(refused_import.value.errors)
    assert "not an upper-tier council" in said
    assert "owes no return" in said


def test_the_regions_figures_add_counts_take_rates_as_ratios_of_sums_and_withhold_small_numbers(
    hub: Hub, store: Engine, store_settings: Settings
) -> None:
    store_figures(store, store_settings, hub.region)
    for code in COUNCILS:
        hub.client.put(f"/api/agencies/{code}/consent/{REGION}", headers=hub.council(code), json={"use_cases": ["pan"]})
    answer = hub.client.get(f"/api/regions/{REGION}/figures", headers=hub.hub)
    assert answer.status_code == 200, answer.text
    items = {(i["indicator"], i["period"]): i for i in answer.json()["items"]}
    count = items[("cyp.lac_count", "2025-03-31")]
    assert len(count["councils"]) == 4
    assert count["region"]["value"] == sum(c["value"] for c in count["councils"])
    rate = items[("cyp.cin_assessments_in_timescale", "FY2024-25")]
    parts = rate["councils"]
    numerator, denominator = sum(c["numerator"] for c in parts), sum(c["denominator"] for c in parts)
    assert rate["region"]["value"] == pytest.approx(100 * numerator / denominator)
    assert rate["region"]["value"] != pytest.approx(sum(c["value"] for c in parts) / len(parts))
    assert "the widest any does" in rate["small_numbers"]
    # A figure of a return with a small-number rule (NIS: 1 to 5 as "c", and one more), and its numerator beside it,
    # withhold the same councils.
    held = items[("cyp.lac_long_term_placement", "2025-03-31")]
    assert held["small_numbers"].startswith("nis's: 1")
    hidden = {c["council"] for c in held["councils"] if c["symbol"] == "c"}
    assert hidden
    assert all(c["value"] is None for c in held["councils"] if c["council"] in hidden)
    counts = items[("cyp.lac_long_term_placement_n", "2025-03-31")]
    assert {c["council"] for c in counts["councils"] if c["symbol"] == "c"} == hidden
    assert "england" in count
    assert hub.client.get(f"/api/regions/{REGION}/figures", headers=hub.council("notts_cyp")).status_code == 403
