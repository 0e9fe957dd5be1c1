"""A data query is answered from the snapshots kept for each period's current build: the same bytes a build made now
would give, in every message, without building again while nothing behind the return changed."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from typing import Literal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from exports import dataflows
from exports import service as exports
from exports.build import Builder
from exports.changes import changed_since
from exports.sdmx.ml import ATTRIBUTES
from exports.sdmx.rest import DataKind, Flow, data_message
from exports.sdmx.writer import write_sdmx_csv
from mappings.models import Return
from onereturn.settings import Settings
from tests.helpers import DFE, OFFICER, upload
from tests.signoffs import sign_off_everything

FLOW, RETURN = "DF_DFE_SSDA903", "dfe_ssda903"
FY = {"startPeriod": "2023-04", "endPeriod": "2025-03"}
#: Each message a query may ask for: its Accept header, its kind and its SDMX-CSV version.
MESSAGES: list[tuple[str, DataKind, Literal["1.0.0", "2.0.0"]]] = [
    ("application/vnd.sdmx.genericdata+xml;version=2.1", "generic", "2.0.0"),
    ("application/vnd.sdmx.structurespecificdata+xml;version=2.1", "structurespecific", "2.0.0"),
    ("application/vnd.sdmx.data+csv;version=2.0.0", "csv", "2.0.0"),
    ("application/vnd.sdmx.data+csv;version=1.0.0", "csv", "1.0.0"),
]


def _figures(store: Engine, settings: Settings, count: int) -> None:
    """Nottinghamshire's children looked after at two year ends (one suppressed by its size), signed off."""
    upload(
        store,
        settings,
        "notts_cyp",
        f"cyp.lac_count,E10000024,2025-03-31,,{count},,,,",
        "cyp.lac_3plus_placements_n,E10000024,2025-03-31,,43,,,,",
        "cyp.lac_count,E10000024,2024-03-31,,1050,,,,",
        "cyp.lac_3plus_placements_n,E10000024,2024-03-31,,4,,,,",
    )
    sign_off_everything(store)


def _built_now(
    store: Engine,
    key: str,
    kind: DataKind,
    csv_version: Literal["1.0.0", "2.0.0"],
    *,
    dimension: str = "TIME_PERIOD",
    updated_after: datetime | None = None,
) -> bytes:
    """The message a build of every period made now gives (as every data query was answered before), nothing kept."""
    with Session(store) as session:
        ret = session.get(Return, RETURN)
        assert ret is not None
        (flow,) = dataflows.flows(session, [RETURN])
        selector = dataflows.parse_key(key)
        rows: list[dict[str, str]] = []
        newest: list[datetime] = []
        for period in dataflows.periods_for(session, ret, date(2023, 4, 1), date(2025, 3, 31)):
            record, built = exports.build(session, RETURN, period.code)
            if updated_after is not None:
                built = changed_since(session, record, built, updated_after)
            text = write_sdmx_csv(built).decode()
            rows += [r for r in csv.DictReader(io.StringIO(text, newline="")) if selector.matches(r)]
            newest.append(built.generated_at)
        session.rollback()
    return data_message(
        flow, rows, kind=kind, dimension_at_observation=dimension, prepared=max(newest), csv_version=csv_version
    )


@pytest.mark.parametrize(("accept", "kind", "version"), MESSAGES)
@pytest.mark.parametrize("key", ["all", ".E10000024.", "EPI_CLA_31MAR+EPI_PLACEMENTS_3PLUS_N.."])
def test_a_query_gives_the_bytes_a_build_made_now_gives(
    store: Engine,
    store_settings: Settings,
    store_client: TestClient,
    accept: str,
    kind: DataKind,
    version: Literal["1.0.0", "2.0.0"],
    key: str,
) -> None:
    _figures(store, store_settings, 1100)
    for dimension in ("TIME_PERIOD", "AllDimensions"):
        params = {**FY, "dimensionAtObservation": dimension}
        answer = store_client.get(f"/sdmx/data/{FLOW}/{key}", params=params, headers={**DFE, "Accept": accept})
        assert answer.status_code == 200, answer.text
        assert answer.content == _built_now(store, key, kind, version, dimension=dimension)


def test_a_query_asked_again_builds_nothing_until_a_figure_changes(
    store: Engine, store_settings: Settings, store_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _figures(store, store_settings, 1100)
    path = f"/sdmx/data/{FLOW}/all"
    first = store_client.get(path, params=FY, headers=OFFICER)
    assert first.status_code == 200, first.text
    pulled = datetime.now(UTC)

    def refused(*_: object, **__: object) -> None:
        raise AssertionError("a data query built a return nothing behind had changed")

    with monkeypatch.context() as patched:
        patched.setattr(Builder, "build", refused)
        # Another message of the same snapshots, so none already written is reused: read from what is kept.
        for accept, _, _ in MESSAGES:
            again = store_client.get(path, params=FY, headers={**OFFICER, "Accept": accept})
            assert again.status_code == 200, again.text
        assert store_client.get(path, params=FY, headers=OFFICER).content == first.content
    # A figure revised and signed off again: its period is built anew, and the answer is a build's of now.
    _figures(store, store_settings, 1120)
    changed = store_client.get(path, params=FY, headers=OFFICER)
    assert changed.content != first.content
    assert changed.content == _built_now(store, "all", "generic", "2.0.0")
    assert b'value="1120"' in changed.content
    # Only what changed since the first query, read from the cell digests each build kept.
    since = {**FY, "updatedAfter": pulled.isoformat()}
    csv_v2 = "application/vnd.sdmx.data+csv;version=2.0.0"
    only = store_client.get(path, params=since, headers={**OFFICER, "Accept": csv_v2})
    assert only.status_code == 200, only.text
    assert only.content == _built_now(store, "all", "csv", "2.0.0", updated_after=pulled)
    assert {r["REF_AREA"] for r in csv.DictReader(io.StringIO(only.text))} == {"E10000024"}


@pytest.mark.parametrize("kind", ["generic", "structurespecific"])
@pytest.mark.parametrize("dimension", ["TIME_PERIOD", "AllDimensions"])
def test_observations_written_as_text_read_back_whole(kind: DataKind, dimension: str) -> None:
    # Every character an attribute may carry, quoted so that an XML reader gives back exactly what was written.
    awkward = "a&b<c>d\"e'f\ng\th\ri é ✓ 𝔘 ]]> =1+2"
    rows = [
        {"FIELD": f, "REF_AREA": "E1", "TIME_PERIOD": "2024", "BREAKDOWN": "_T", "OBS_VALUE": "NaN"}
        | dict.fromkeys(ATTRIBUTES, "")
        | {"COMMENT_OBS": awkward, "OBS_STATUS": "O"}
        for f in ("A", "B")
    ]
    flow = Flow(RETURN, "t", "r", [], [])
    body = data_message(flow, rows, kind=kind, dimension_at_observation=dimension, prepared=datetime.now(UTC))
    root = ET.fromstring(body)
    observed = [o for o in root.iter() if o.tag.endswith("}Obs") or o.tag == "Obs"]
    assert len(observed) == 2
    if kind == "generic":
        comments = [v.get("value") for v in root.iter() if v.get("id") == "COMMENT_OBS"]
    else:
        comments = [o.get("COMMENT_OBS") for o in observed]
    assert comments == [awkward, awkward]
