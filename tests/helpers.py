"""What many test modules share: the demo keys' headers, the one JSON error shape, and uploading keyed figures.

A plain module rather than a test module, so importing a helper runs and collects no other file's tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collectors.figures.service import submit
from onereturn import keptfiles, sealing
from onereturn.settings import Settings

DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
OHID = {"X-API-Key": "demo-regulator-ohid-c4d91f60"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
#: The front door, whose table is the one place the demo keys are written.
README = Path(__file__).resolve().parents[1] / "README.md"
#: The columns of a keyed figures file.
HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"


def assert_canonical_error(body: dict[str, Any], status: int) -> None:
    """Check an error body has exactly the canonical keys and item shape."""
    assert set(body) == {"ok", "status", "error", "errors", "request_id"}
    assert isinstance(body["request_id"], str)
    assert body["request_id"]
    assert body["ok"] is False
    assert body["status"] == status
    assert isinstance(body["error"], str)
    assert body["error"]
    assert body["errors"], "at least one error item"
    for item in body["errors"]:
        assert set(item) == {"type", "loc", "msg", "input"}


def upload(engine: Engine, settings: Settings, agency: str, *rows: str) -> int:
    """Submit keyed figure rows for ``agency`` straight to the collector; return the submission's id."""
    outcome = submit(
        engine, settings, agency_code=agency, filename=f"{agency}.csv", data=(HEADER + "\n".join(rows) + "\n").encode()
    )
    assert outcome.submission is not None
    assert outcome.submission.id is not None
    return outcome.submission.id


def upload_clean(engine: Engine, settings: Settings, agency: str, *rows: str) -> int:
    """Submit keyed figure rows as ``upload`` does, and check the collector found no problem in them."""
    outcome = submit(
        engine, settings, agency_code=agency, filename=f"{agency}.csv", data=(HEADER + "\n".join(rows) + "\n").encode()
    )
    assert outcome.submission is not None
    assert outcome.submission.id is not None
    assert outcome.problems is not None
    assert outcome.problems.height == 0, outcome.problems.to_dicts()
    return outcome.submission.id


def post_figures(client: TestClient, headers: dict[str, str], body: str, **form: str) -> tuple[int, dict[str, Any]]:
    """Post keyed figure rows (``body``, under the header) to POST /api/submissions; return its status and JSON."""
    response = client.post(
        "/api/submissions", headers=headers, files={"file": ("f.csv", (HEADER + body).encode(), "text/csv")}, data=form
    )
    return response.status_code, response.json()


def demo_keys() -> list[str]:
    """The demo keys as the README's table publishes them."""
    return re.findall(r"\| `(demo-[a-z0-9-]+)` \|", README.read_text(encoding="utf-8"))


def kept_bytes(engine: Engine, settings: Settings, raw_path: str) -> bytes:
    """The bytes a submission's ``raw_path`` names, from wherever the store keeps them, unsealed when sealed."""
    kept = keptfiles.read(engine, settings, raw_path)
    return sealing.keys_for(settings).open(kept) if keptfiles.is_sealed(raw_path) else kept


def kept_names(engine: Engine, settings: Settings, top: str) -> list[str]:
    """The names of every file kept under ``top`` (``uploads`` or ``records``), wherever the store keeps them."""
    return list(keptfiles.names(engine, settings, top))


def annex_cells_in_workbook(workbook: bytes, facts: dict[str, Any]) -> tuple[int, int, int]:
    """Annex A's cells of Lists 1 to 10 counted from the workbook a council downloads, with its summary (``facts``,
    which names the columns the SSD extract filled): all cells, those holding a value in a column the records fill,
    and those holding a value in a column the extract fills."""
    import fastexcel

    from mappings.annex_a import load_layout

    reader = fastexcel.read_excel(workbook)
    extract_filled = {item["list"]: set(item["ssd_filled"]) for item in facts["lists"]}
    cells = from_records = from_extract = 0
    for item in load_layout(facts["layout"]).lists[:10]:
        sheet = reader.load_sheet_by_name(item.sheet, dtypes="string").to_polars()
        cells += sheet.height * len(item.columns)
        for column in item.columns:
            held = sum(1 for v in sheet[column.heading].to_list() if v is not None and v.strip()) if sheet.height else 0
            if column.heading in extract_filled[item.number]:
                from_extract += held
            elif column.field is not None:
                from_records += held
    return cells, from_records, from_extract
