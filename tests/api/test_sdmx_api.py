"""SDMX REST 2.1: structure paths, data queries with keys and windows, negotiation, and who may see what."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime

import pytest
import sdmx
from fastapi.testclient import TestClient
from sdmx.message import DataMessage, StructureMessage
from sqlalchemy import Engine

from mappings.catalogue import Catalogue
from onereturn.settings import Settings
from tests.helpers import DFE, NOTTS, OFFICER, OHID, assert_canonical_error, upload
from tests.signoffs import sign_off_everything

FLOW = "DF_DFE_SSDA903"
FY = {"startPeriod": "2024-04", "endPeriod": "2025-03"}


def _structure(response_content: bytes) -> StructureMessage:
    message = sdmx.read_sdmx(io.BytesIO(response_content))
    assert isinstance(message, StructureMessage)
    return message


def _notts(store: Engine, settings: Settings, count: int = 1100) -> None:
    upload(
        store,
        settings,
        "notts_cyp",
        f"cyp.lac_count,E10000024,2025-03-31,,{count},,,,",
        "cyp.lac_3plus_placements_n,E10000024,2025-03-31,,43,,,,",
    )
    sign_off_everything(store)


@pytest.mark.parametrize("path", ["/sdmx/dataflow", f"/sdmx/data/{FLOW}", "/sdmx/codelist/all/all/latest"])
def test_same_keys_and_roles_as_the_json_api(store_client: TestClient, path: str) -> None:
    anonymous = store_client.get(path)
    assert anonymous.status_code == 401
    assert_canonical_error(anonymous.json(), 401)
    assert store_client.get(path, headers=NOTTS).status_code == 403


def test_dataflows_one_per_visible_return(store_client: TestClient, bundled_catalogue: Catalogue) -> None:
    listing = store_client.get("/sdmx/dataflow/all/all/latest", headers=OFFICER)
    officer = _structure(listing.content)
    same = store_client.get(
        "/sdmx/dataflow/all/all/latest", headers={**OFFICER, "If-None-Match": listing.headers["etag"]}
    )
    assert same.status_code == 304
    assert len(officer.dataflow) == len(bundled_catalogue.returns)
    dfe = _structure(store_client.get("/sdmx/dataflow", headers=DFE).content)
    assert sorted(dfe.dataflow) == ["DF_DFE_CIN_CENSUS", "DF_DFE_SEN2", "DF_DFE_SSDA903"]
    # references=none by default: the flows only, their structures just referenced.
    assert all(dsd.is_external_reference for dsd in dfe.structure.values())
    # A flow addressed to another recipient is not there at all for this regulator.
    hidden = store_client.get("/sdmx/dataflow/ONERETURN/DF_NDTMS_ADULT_MONTHLY", headers=DFE)
    assert hidden.status_code == 404
    assert_canonical_error(hidden.json(), 404)
    assert store_client.get("/sdmx/dataflow/ONERETURN/DF_NDTMS_ADULT_MONTHLY", headers=OHID).status_code == 200
    for path in ("/sdmx/dataflow/ESTAT", "/sdmx/dataflow/ONERETURN/all/2.0", "/sdmx/dataflow/all/DF_NOPE"):
        assert store_client.get(path, headers=OFFICER).status_code == 404, path
    assert store_client.get("/sdmx/dataflow?detail=allstubs", headers=OFFICER).status_code == 422


def test_dataflow_with_references_all_describes_everything(store_client: TestClient) -> None:
    response = store_client.get(f"/sdmx/dataflow/ONERETURN/{FLOW}/1.0", params={"references": "all"}, headers=DFE)
    assert response.headers["content-type"].startswith("application/vnd.sdmx.structure+xml")
    message = _structure(response.content)
    dsd = message.structure["DSD_DFE_SSDA903"]
    assert message.dataflow[FLOW].structure is dsd
    assert not dsd.is_external_reference
    assert [d.id for d in dsd.dimensions] == ["FIELD", "REF_AREA", "TIME_PERIOD", "BREAKDOWN"]
    fields = message.codelist["CL_DFE_SSDA903_FIELD"]
    originals = {str(a.title) for code in fields for a in code.annotations if a.type == "ORIGINAL_CODE"}
    assert "EPI.CLA_31MAR" in originals
    areas = message.codelist["CL_DFE_SSDA903_REF_AREA"]
    assert "E10000024" in areas
    assert str(areas["E10000024"].name) == "Nottinghamshire"
    assert {"CL_OBS_STATUS", "CL_CONF_STATUS", "CL_UNIT_MULT"} <= set(message.codelist)
    assert "CS_ONERETURN" in message.concept_scheme


def test_datastructures_and_codelists_at_their_paths(store_client: TestClient) -> None:
    both = _structure(
        store_client.get("/sdmx/datastructure/ONERETURN/DSD_DFE_SSDA903+DSD_DFE_CIN_CENSUS", headers=DFE).content
    )
    assert sorted(both.structure) == ["DSD_DFE_CIN_CENSUS", "DSD_DFE_SSDA903"]
    with_parents = _structure(
        store_client.get("/sdmx/datastructure/all/DSD_DFE_SSDA903/latest?references=parents", headers=DFE).content
    )
    assert list(with_parents.dataflow) == [FLOW]
    status = _structure(store_client.get("/sdmx/codelist/ONERETURN/CL_OBS_STATUS/1.0", headers=DFE).content)
    assert sorted(status.codelist["CL_OBS_STATUS"]) == ["A", "D", "L", "O", "P", "Q", "U"]
    catalogue = _structure(store_client.get("/sdmx/codelist/ONERETURN/CL_SEX", headers=DFE).content)
    assert len(catalogue.codelist["CL_SEX"]) >= 2
    everything = _structure(store_client.get("/sdmx/codelist", headers=DFE).content)
    assert "CL_NDTMS_ADULT_MONTHLY_FIELD" not in everything.codelist, "not this regulator's return"
    assert "CL_DFE_SSDA903_FIELD" in everything.codelist


def test_data_keys_wildcards_and_several_values(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    _notts(store, store_settings)

    def series(key: str) -> set[tuple[str, str, str]]:
        response = store_client.get(f"/sdmx/data/{FLOW}/{key}", params=FY, headers=DFE)
        assert response.status_code == 200, response.text
        message = sdmx.read_sdmx(io.BytesIO(response.content))
        assert isinstance(message, DataMessage)
        return {
            (k.values["FIELD"].value, k.values["REF_AREA"].value, k.values["BREAKDOWN"].value)
            for k in message.data[0].series
        }

    every = series("all")
    notts = series(".E10000024.")
    assert notts == series("*.E10000024.*") == {s for s in every if s[1] == "E10000024"}
    assert len(every) > len(notts) > 2
    two = series("EPI_CLA_31MAR+EPI_PLACEMENTS_3PLUS_N.E10000024.")
    assert two == {("EPI_CLA_31MAR", "E10000024", "_T"), ("EPI_PLACEMENTS_3PLUS_N", "E10000024", "_T")}
    wrong = store_client.get(f"/sdmx/data/{FLOW}/E10000024", params=FY, headers=DFE)
    assert wrong.status_code == 422
    assert "FIELD.REF_AREA.BREAKDOWN" in wrong.json()["error"]
    none = store_client.get(f"/sdmx/data/{FLOW}/.E99999999.", params=FY, headers=DFE)
    assert none.status_code == 404


def test_data_periods_window_and_flow_refs(store: Engine, store_settings: Settings, store_client: TestClient) -> None:
    _notts(store, store_settings)

    def count(params: dict[str, str], flow: str = FLOW) -> int:
        response = store_client.get(f"/sdmx/data/{flow}/.E10000024.", params=params, headers=DFE)
        if response.status_code == 404:
            return 0
        assert response.status_code == 200, response.text
        return len(list(csv.DictReader(io.StringIO(response.text))))

    with_csv = {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}
    store_client.headers.update(with_csv)
    one_year = count(FY)
    assert one_year > 0
    assert count({"startPeriod": "FY2024-25", "endPeriod": "FY2024-25"}) == one_year
    assert count({"startPeriod": "2023-04", "endPeriod": "2025-03"}) == 2 * one_year
    assert count({"startPeriod": "2024-Q2", "endPeriod": "2024-Q4"}) == 0, "no financial year lies inside"
    # Built periods are served without a window: the two years built above.
    assert count({}) == 2 * one_year
    assert count(FY, flow=f"ONERETURN,{FLOW},1.0") == count(FY, flow=f"ONERETURN,{FLOW}") == one_year
    assert store_client.get(f"/sdmx/data/OTHER,{FLOW}/all", headers=DFE).status_code == 404
    bad = store_client.get(f"/sdmx/data/{FLOW}/all", params={"startPeriod": "soon"}, headers=DFE)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["query", "startPeriod"]
    for nonsense in ("0000", "2025-02-30", "2024-13"):
        refused = store_client.get(f"/sdmx/data/{FLOW}/all", params={"startPeriod": nonsense}, headers=DFE)
        assert refused.status_code == 422, nonsense
    too_wide = store_client.get(
        f"/sdmx/data/{FLOW}/all", params={"startPeriod": "1900", "endPeriod": "2100"}, headers=DFE
    )
    assert too_wide.status_code == 422
    assert "leave out startPeriod or endPeriod" in too_wide.json()["error"]
    backwards = store_client.get(
        f"/sdmx/data/{FLOW}/all", params={"startPeriod": "2025", "endPeriod": "2024"}, headers=DFE
    )
    assert backwards.status_code == 422


def test_updated_after_sends_only_changed_observations(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    _notts(store, store_settings)
    assert store_client.get(f"/sdmx/data/{FLOW}/all", params=FY, headers=DFE).status_code == 200
    pulled = datetime.now(UTC).isoformat()
    unchanged = store_client.get(f"/sdmx/data/{FLOW}/all", params={**FY, "updatedAfter": pulled}, headers=DFE)
    assert unchanged.status_code == 404
    _notts(store, store_settings, count=1120)
    response = store_client.get(
        f"/sdmx/data/{FLOW}/all",
        params={**FY, "updatedAfter": pulled},
        headers={**DFE, "Accept": "application/vnd.sdmx.data+csv"},
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows
    assert {r["REF_AREA"] for r in rows} == {"E10000024"}
    assert {"EPI_CLA_31MAR", "EPI_CLA_RATE_10K"} <= {r["FIELD"] for r in rows}
    assert "EPI_PLACEMENTS_3PLUS_N" not in {r["FIELD"] for r in rows}, "its figure did not change"
    assert next(r for r in rows if r["FIELD"] == "EPI_CLA_31MAR")["OBS_VALUE"] == "1120"


def test_accept_chooses_the_message(store: Engine, store_settings: Settings, store_client: TestClient) -> None:
    _notts(store, store_settings)
    path = f"/sdmx/data/{FLOW}/.E10000024."
    generic = store_client.get(path, params=FY, headers=DFE)
    assert generic.headers["content-type"].startswith("application/vnd.sdmx.genericdata+xml")
    structure = _structure(
        store_client.get("/sdmx/datastructure/ONERETURN/DSD_DFE_SSDA903?references=children", headers=DFE).content
    )
    dsd = structure.structure["DSD_DFE_SSDA903"]
    for accept in (
        "application/vnd.sdmx.structurespecificdata+xml;version=2.1",
        "application/vnd.sdmx.genericdata+xml;version=2.1",
    ):
        response = store_client.get(
            path, params={**FY, "dimensionAtObservation": "AllDimensions"}, headers={**DFE, "Accept": accept}
        )
        assert response.headers["content-type"].startswith(accept.split(";")[0])
        message = sdmx.read_sdmx(io.BytesIO(response.content), structure=dsd)
        assert isinstance(message, DataMessage)
        values = {(o.dimension["FIELD"].value, o.dimension["TIME_PERIOD"].value): o.value for o in message.data[0].obs}
        assert any(
            not math.isnan(float(v)) and float(v) == 1100 for (f, _), v in values.items() if f == "EPI_CLA_31MAR"
        )
    v1 = store_client.get(path, params=FY, headers={**DFE, "Accept": "application/vnd.sdmx.data+csv;version=1.0.0"})
    assert v1.text.startswith("DATAFLOW,FIELD,REF_AREA,TIME_PERIOD,BREAKDOWN,OBS_VALUE")
    assert "ONERETURN:DF_DFE_SSDA903(1.0)" in v1.text
    v2 = store_client.get(path, params=FY, headers={**DFE, "Accept": "text/csv"})
    assert v2.text.startswith("STRUCTURE,STRUCTURE_ID,ACTION,FIELD")
    refused = store_client.get(path, params=FY, headers={**DFE, "Accept": "application/json"})
    assert refused.status_code == 406
    assert_canonical_error(refused.json(), 406)
    again = store_client.get(path, params=FY, headers={**DFE, "If-None-Match": generic.headers["etag"]})
    assert again.status_code == 304
    dataonly = store_client.get(path, params={**FY, "detail": "dataonly"}, headers=DFE)
    assert b"OBS_STATUS" not in dataonly.content


def test_only_released_cells_never_raw_figures(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    upload(store, store_settings, "lewisham_drugs", "drugs.new_presentations,PRV-LEW-01,2024-03,,3,,,,")
    sign_off_everything(store)
    response = store_client.get(
        "/sdmx/data/DF_NDTMS_ADULT_MONTHLY/NEW_PRESENTATIONS..",
        params={"startPeriod": "2024-03", "endPeriod": "2024-03"},
        headers={**OHID, "Accept": "application/vnd.sdmx.data+csv"},
    )
    assert response.status_code == 200, response.text
    (row,) = [r for r in csv.DictReader(io.StringIO(response.text)) if r["BREAKDOWN"] == "_T"]
    assert row["OBS_VALUE"] == "NaN"
    assert (row["OBS_STATUS"], row["CONF_STATUS"]) == ("Q", "C")
    exported = store_client.get("/api/returns/ndtms_adult_monthly/2024-03.sdmx.csv", headers=OHID).text
    assert row["STRUCTURE_ID"] in exported
    assert ",".join(row.values()) in exported


def test_data_without_a_period_serves_the_periods_with_figures_or_names_them(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    with_csv = {**DFE, "Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}
    # Nothing stored yet: the answer says so rather than only "not found".
    empty = store_client.get(f"/sdmx/data/{FLOW}", headers=with_csv)
    assert empty.status_code == 404
    assert "no period of DF_DFE_SSDA903 has figures yet" in empty.json()["error"]
    _notts(store, store_settings)
    # No build has been made: the period the figures reach is built as a window's would be.
    served = store_client.get(f"/sdmx/data/{FLOW}", headers=with_csv)
    assert served.status_code == 200, served.text
    rows = list(csv.DictReader(io.StringIO(served.text)))
    assert {r["TIME_PERIOD"] for r in rows} == {"2024-04-01/P1Y"}
    assert "1100" in {r["OBS_VALUE"] for r in rows}
    unmatched = store_client.get(f"/sdmx/data/{FLOW}/NO_SUCH_FIELD..", headers=with_csv)
    assert unmatched.status_code == 404
    assert "periods with figures: FY2024-25" in unmatched.json()["error"]
