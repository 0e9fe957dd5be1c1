"""A regulator's statistical software reads the service over real HTTP with the sdmx1 client, no custom code."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import requests
import sdmx
import sdmx.source
from sqlalchemy import Engine

from api.main import create_app
from exports.sdmx.writer import OBS_STATUS
from onereturn.settings import Settings
from tests.helpers import DFE, upload
from tests.live import live_server
from tests.signoffs import sign_off_everything

FLOW = "DF_DFE_SSDA903"


@pytest.fixture
def live_url(store: Engine, store_settings: Settings) -> Iterator[str]:
    """The real service under uvicorn on 127.0.0.1, on a private database."""
    with live_server(create_app(store_settings, engine=store)) as url:
        yield url


@pytest.fixture
def onereturn_source(live_url: str) -> Iterator[str]:
    """The service registered with sdmx1 as a data source, as a regulator would register it."""
    # sdmx1 asks for structures of the agency named like the source, so the source is named ONERETURN.
    sdmx.add_source({"id": "ONERETURN", "url": f"{live_url}/sdmx", "name": "onereturn"}, override=True)
    try:
        yield live_url
    finally:
        sdmx.source.sources.pop("ONERETURN", None)


def test_sdmx1_lists_flows_reads_a_structure_and_the_data_of_a_period(
    store: Engine, store_settings: Settings, onereturn_source: str
) -> None:
    upload(
        store,
        store_settings,
        "notts_cyp",
        "cyp.lac_count,E10000024,2025-03-31,,1100,,,,",
        "cyp.lac_3plus_placements_n,E10000024,2025-03-31,,43,,,,",
    )
    sign_off_everything(store)
    client = sdmx.Client("ONERETURN")
    client.session.headers["X-API-Key"] = DFE["X-API-Key"]

    flows = client.dataflow()
    assert sorted(flows.dataflow) == ["DF_DFE_CIN_CENSUS", "DF_DFE_SEN2", FLOW]

    structure = client.datastructure("DSD_DFE_SSDA903")
    dsd = structure.structure["DSD_DFE_SSDA903"]
    assert [d.id for d in dsd.dimensions] == ["FIELD", "REF_AREA", "TIME_PERIOD", "BREAKDOWN"]
    field_ids = {
        str(a.title): code.id
        for code in structure.codelist["CL_DFE_SSDA903_FIELD"]
        for a in code.annotations
        if a.type == "ORIGINAL_CODE"
    }

    # One return's data for FY2024-25, with the key validated against the structure (structure-specific data).
    data = client.data(
        FLOW, key={"REF_AREA": "E10000024"}, params={"startPeriod": "2024-04", "endPeriod": "2025-03"}, dsd=dsd
    )
    assert "structurespecificdata" in data.response.headers["content-type"]
    got = {
        (o.key["FIELD"].value, o.key["REF_AREA"].value, o.key["BREAKDOWN"].value): (
            float(o.value),
            o.attached_attribute["OBS_STATUS"].value,
        )
        for o in data.data[0].obs
    }

    export = requests.get(f"{onereturn_source}/api/returns/dfe_ssda903/FY2024-25.json", headers=DFE, timeout=60)
    export.raise_for_status()
    cells = [c for c in export.json()["cells"] if c["org_code"] == "E10000024"]
    want = {
        (field_ids.get(c["field_code"], c["field_code"]), c["org_code"], c["breakdown"] or "_T"): (
            math.nan if c["value"] is None else c["value"],
            OBS_STATUS[c["status"]],
        )
        for c in cells
    }
    assert set(got) == set(want)
    assert len(got) == len(cells) > 2
    for key, (value, status) in want.items():
        assert got[key][1] == status, key
        assert (math.isnan(got[key][0]) and math.isnan(value)) or got[key][0] == value, key
    assert got[(field_ids["EPI.CLA_31MAR"], "E10000024", "_T")] == (1100.0, "A")

    # The same query as generic data, with the key written in the URL.
    generic = client.data(FLOW, key=".E10000024.", params={"startPeriod": "FY2024-25", "endPeriod": "FY2024-25"})
    frame = sdmx.to_pandas(generic)
    assert len(frame) == len(want)


@pytest.mark.usefixtures("onereturn_source")
def test_sdmx1_without_a_key_or_outside_its_scope_is_refused() -> None:
    anonymous = sdmx.Client("ONERETURN")
    with pytest.raises(requests.HTTPError) as refused:
        anonymous.dataflow()
    assert refused.value.response is not None
    assert refused.value.response.status_code == 401
    regulator = sdmx.Client("ONERETURN")
    regulator.session.headers["X-API-Key"] = DFE["X-API-Key"]
    with pytest.raises(requests.HTTPError) as hidden:
        regulator.data("DF_NDTMS_ADULT_MONTHLY", params={"startPeriod": "2024-06", "endPeriod": "2024-06"})
    assert hidden.value.response is not None
    assert hidden.value.response.status_code == 404
