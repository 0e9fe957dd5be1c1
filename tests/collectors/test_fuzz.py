"""Fuzz the upload readers over HTTP: every file either is stored (with a report) or gets a clean 4xx report.

Hypothesis builds CSV, XLSX and JSON uploads from the cells agencies really send (numbers, symbols,
dates, codes) mixed with hostile ones (NaN, negative zero, NUL, lone surrogates, formulas, quotes,
line breaks, huge numbers, deep nesting) and damages whole files byte by byte. Anything other than
201/200 with a stored submission, or a 4xx in the canonical shape with a report, fails the test.
Bounded for CI by ``ONERETURN_FUZZ_EXAMPLES`` (default 40 per format). Each crash found became a
case in ``tests/collectors/corpus/`` (see test_corpus.py).
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from api.main import create_app
from onereturn.settings import Settings

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
EXAMPLES = int(os.environ.get("ONERETURN_FUZZ_EXAMPLES", "40"))
COLUMNS = ["indicator", "org", "period", "breakdown", "value", "numerator", "denominator", "status", "note"]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: How each upload was answered, per format; written to ``ONERETURN_FUZZ_REPORT`` (a JSON file) when set.
OUTCOMES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def fuzzing_counts() -> Iterator[None]:
    """Write the fuzzing counts when the module's tests are done, if asked to."""
    yield
    if target := os.environ.get("ONERETURN_FUZZ_REPORT"):
        Path(target).write_text(json.dumps(dict(sorted(OUTCOMES.items())), indent=2) + "\n")


# Laid out by hand, the formatter told to leave it: cells read across the lines; one a line they would run to a page.
GOOD_CELLS = [
    "cyp.cin_count", "cyp.lac_count", "cyp.lac_iro_consultation", "pop.resident_0_17", "E10000024", "E09000023",
    "2024-06-30", "FY2024-25", "FY2024-25-Q2", "CY2023", "2024/25", "sex=F", "age=19-21;sex=M", "512", "0", "1,234",
    "12.5", "50%", "7u", "x", "..", ":", "-", "provisional", "final", "estimated",
]  # fmt: skip
HOSTILE_CELLS = [
    "NaN", "nan", "inf", "-Infinity", "1e999", "-0", "-0.0", "1e-400", "9" * 400, "=1+1", "@SUM(A1)", "+1", "\t=x",
    "a\ud800b", "\udfff", '"', '""', "a,b", "a;b", "a\tb", "line\nbreak", "\r", "\x00", "a\x00b", "\ufeff", "\u202e", "ß", "日本", "😀",
    " ", "", "null", "true", "[1]", "{}", "row", "INDICATOR", "E10000024 ", "2024-02-30", "FY2024-26", "-5", "1e308",
]  # fmt: skip
cells = st.one_of(st.sampled_from(GOOD_CELLS), st.sampled_from(HOSTILE_CELLS), st.text(max_size=20))
headers = st.one_of(
    st.just(COLUMNS),
    st.permutations(COLUMNS).map(lambda cs: list(cs)[: max(3, len(cs) - 2)]),
    st.lists(
        st.one_of(st.sampled_from([*COLUMNS, "row", "Value", " value ", "extra"]), st.text(max_size=8)), max_size=8
    ),
)
#: Rows close to what an agency sends, so that the storing path is fuzzed too, not only the refusals.
plausible_row = st.tuples(
    st.sampled_from(["cyp.cin_count", "cyp.lac_count", "cyp.cin_count"]),
    st.sampled_from(["E10000024", "E10000024", "E09000023"]),
    st.sampled_from(["2024-06-30", "2025-03-31", "2023-03-31", "2024-02-30"]),
    st.sampled_from(["", "", "sex=F", "sex=Q"]),
    st.one_of(st.integers(0, 100_000).map(str), st.sampled_from(HOSTILE_CELLS)),
    st.just(""),
    st.just(""),
    st.sampled_from(["", "final", "provisional", "odd"]),
    cells,
).map(list)
plausible_rows = st.lists(plausible_row, min_size=1, max_size=12)
tables = st.one_of(
    st.tuples(headers, st.lists(st.lists(cells, max_size=11), max_size=12)),
    st.tuples(st.just(COLUMNS), plausible_rows),
)


@pytest.fixture
def fuzz_client(store: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One client for every example of a test; the store keeps what the examples upload."""
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("fuzz")), engine=store)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def check_upload(client: TestClient, name: str, data: bytes, fmt: str) -> None:
    """Upload a file; fail unless it was stored with a report or refused with a clean 4xx report."""
    response = client.post(
        "/api/submissions",
        headers=OFFICER,
        files={"file": (name, data, "application/octet-stream")},
        data={"agency": "notts_cyp"},
    )
    status = response.status_code
    OUTCOMES[f"{fmt} {status}"] += 1
    body: dict[str, Any] = response.json()
    assert status < 500, f"{status} for {data[:300]!r}: {body}"
    if status in (200, 201):
        # "queried": stored with its figures held by a plausibility query (a 0 after earlier figures, say).
        assert body["status"] in ("accepted", "partially_accepted", "rejected", "queried"), body
        assert body["status"] != "queried" or body["queries_open"] > 0, body
        assert isinstance(body["id"], int)
    elif "problems" in body:
        assert body["status"] == "rejected", body
        assert body["problems"] or body["message"], (status, body)
        assert all(p["message"] for p in body["problems"]), (status, body)
    else:
        assert status == 413, body
        assert body["ok"] is False, body
        assert body["error"], body


def _delimited(table: tuple[list[str], list[list[str]]], delimiter: str) -> str:
    def quote(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in (delimiter, '"', "\n", "\r")) else cell

    header, rows = table
    return "\n".join(delimiter.join(quote(c) for c in line) for line in [header, *rows]) + "\n"


def test_a_nul_in_a_json_key_is_shown_not_stored(fuzz_client: TestClient) -> None:
    """The case the JSON fuzz found: a key of a NUL alone made a column PostgreSQL refused to store (a 500)."""
    row = {"indicator": "cyp.cin_count", "org": "E10000024", "period": "2024-06-30", "value": 0}
    values: tuple[object, ...] = (None, [], {"\u0000": 1})
    for value in values:
        check_upload(fuzz_client, "f.json", json.dumps([row, {"\u0000": value}]).encode(), "json")


@FUZZ
@given(
    table=tables,
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    damage=st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=4)), max_size=3),
)
def test_fuzz_csv(fuzz_client: TestClient, table: Any, delimiter: str, encoding: str, damage: Any) -> None:
    data = bytearray(_delimited(table, delimiter).encode(encoding, errors="replace"))
    for at, junk in damage:
        data[at % (len(data) + 1) : at % (len(data) + 1)] = junk
    check_upload(fuzz_client, "f.csv", bytes(data), "csv")


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), cells),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)
json_items = st.one_of(
    plausible_row.map(lambda row: {k: int(v) if v.isdigit() else v for k, v in zip(COLUMNS, row, strict=True)}),
    plausible_row.map(lambda row: dict(zip(COLUMNS, row, strict=True))),
    st.dictionaries(st.sampled_from([*COLUMNS, "row", "Value", "x"]), st.one_of(cells, json_values), max_size=9),
    json_values,
)


@FUZZ
@given(
    items=st.lists(json_items, max_size=8),
    wrap=st.sampled_from(["list", "figures", "other"]),
    cut=st.one_of(st.none(), st.integers(0, 2000)),
    nesting=st.integers(0, 3000),
)
def test_fuzz_json(fuzz_client: TestClient, items: list[Any], wrap: str, cut: int | None, nesting: int) -> None:
    document: Any = {"list": items, "figures": {"figures": items}, "other": {"meta": items}}[wrap]
    text = json.dumps(document, allow_nan=True)
    if nesting:
        text = text.replace("[", "[" * nesting + "[", 1) + "]" * nesting if text.startswith("[") else text
    data = text.encode("utf-8", errors="surrogatepass")
    check_upload(fuzz_client, "f.json", data[:cut] if cut is not None else data, "json")


@FUZZ
@given(
    table=tables,
    numbers=st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=5),
    sheet=st.sampled_from(["Figures", "Sheet1", "figures ", "Data"]),
    damage=st.lists(st.tuples(st.integers(0, 100_000), st.integers(0, 255)), max_size=3),
)
def test_fuzz_xlsx(fuzz_client: TestClient, table: Any, numbers: list[float], sheet: str, damage: Any) -> None:
    header, rows = table
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    ws = book.add_worksheet(sheet)
    for r, line in enumerate([header, *rows]):
        for c, cell in enumerate(line):
            ws.write_string(r, c, cell.replace("\x00", "").encode("utf-8", "replace").decode())
    for c, number in enumerate(numbers):
        ws.write_number(len(rows) + 1, c, number)
    book.close()
    data = bytearray(buffer.getvalue())
    for at, byte in damage:
        data[at % len(data)] = byte
    check_upload(fuzz_client, "f.xlsx", bytes(data), "xlsx")
