"""Record-level uploads through POST /api/submissions: 202 at once, DfE's own findings, nothing of a child in clear."""

from __future__ import annotations

import functools
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors.records.contract import Findings, Library, run_rules
from collectors.records.models import RecordChild, RecordLineage
from indicators.store.models import Observation, Submission
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records.samples import (
    CIN_2024,
    FIXTURES,
    PASSING,
    TABLES_903,
    cin_2024_of_notts,
    every_text,
    upload,
)
from tests.helpers import kept_names
from tests.stores import copied_store

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
LEWISHAM = {"X-API-Key": "demo-lewisham-council-8d2e6a51"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
NOTTS_LA = "E10000024"


@functools.cache
def _direct(kind: Library, ruleset: str, paths: tuple[Path, ...], local_authority: str | None = None) -> Findings:
    """DfE's rules run on the files directly, once a module: the tests only read what they found."""
    return run_rules(kind, ruleset, [(p.name, p) for p in paths], local_authority=local_authority)


def findings(client: TestClient, sid: int) -> list[dict[str, Any]]:
    """Every finding of the council's own record-level report, page by page."""
    items: list[dict[str, Any]] = []
    while True:
        page = client.get(f"/api/submissions/{sid}/records", headers=NOTTS, params={"offset": len(items)}).json()
        items += page["items"]
        if not page["items"] or len(items) >= page["total"]:
            return items


def child_ids(paths: list[Path]) -> set[str]:
    """Every CHILD (or LAchildID) value in the files, read as plain text."""
    import csv
    import re

    found: set[str] = set()
    for path in paths:
        if path.suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                found |= {r["CHILD"] for r in csv.DictReader(handle) if r.get("CHILD")}
        else:
            found |= set(re.findall(r"<(?:LAchildID|CHILDID)>([^<]+)<", path.read_text(errors="replace")))
    return found


def assert_no_child_in_clear(engine: Engine, data_dir: Path, ids: set[str]) -> None:
    """No child id stands as a value of its own anywhere in the store or the data folder.

    An id counts where no letter or digit touches it: a six-digit id is found by chance inside the hex of
    some pseudonym or digest about once in fifty runs of DfE's fake files, and that is no leak."""
    # Long enough to be a child's id and not a code or count that happens to match.
    ids = {i for i in ids if len(i) >= 5}
    assert ids
    found = _standing_alone(ids)
    leaks = {hit for text in every_text(engine) for hit in found(text)}
    assert not leaks, f"child ids in clear in the store: {sorted(leaks)[:5]}"
    for path in data_dir.rglob("*"):
        if path.is_file() and not path.name.endswith(".sqlite3") and "sqlite3-" not in path.name:
            hits = found(path.read_bytes().decode("latin-1"))
            assert not hits, f"child id {sorted(hits)[0]} in clear in {path}"


_RUN = re.compile("[0-9A-Za-z]+")
#: The fraction of a second of a time of day the store wrote (``01:05:12.601718``): six digits that are no child's id.
_FRACTION = re.compile(r"(?<=[0-9]{2}:[0-9]{2}:[0-9]{2})\.[0-9]+")


def _standing_alone(ids: set[str]) -> Callable[[str], set[str]]:
    """A finder of the ids that stand in a text with no letter or digit touching them.

    An id of letters and digits alone stands there exactly where it is one whole run of letters and digits, so
    those are looked up among the text's runs (one alternation of every id, tried at every place of every
    text, took seconds a store); any other id is searched for as it is. A time's fraction of a second is no id:
    a stored time's six digits matched one of DfE's fake files' six-digit ids in a run."""
    plain = {i for i in ids if _RUN.fullmatch(i)}
    other = sorted(ids - plain)
    alone = re.compile("|".join(rf"(?<![0-9A-Za-z]){re.escape(i)}(?![0-9A-Za-z])" for i in other)) if other else None

    def found(text: str) -> set[str]:
        text = _FRACTION.sub("", text)
        hits = plain.intersection(_RUN.findall(text))
        if alone is not None:
            hits.update(m.group(0) for m in alone.finditer(text))
        return hits

    return found


def test_a_child_id_counts_only_where_no_letter_or_digit_touches_it() -> None:
    found = _standing_alone({"123456", "A-1234"})
    assert found("child 123456 placed") == {"123456"}
    assert found("123456") == {"123456"}
    assert found('{"child": "123456"}') == {"123456"}
    assert found("ab123456cd") == set()
    assert found("1234567") == set()
    assert found("2026-11-29 01:05:12.123456") == set()
    assert found('"2026-11-29T01:05:12.123456+00:00"') == set()
    assert found("at 01:05:12 child 123456") == {"123456"}
    assert found("x_123456") == {"123456"}
    assert found("id A-1234.") == {"A-1234"}
    assert found("BA-1234") == set()


@dataclass
class Uploaded:
    """DfE's fake SSDA903 tables uploaded once to a private store, shared by the tests that only read it."""

    store: Engine
    client: TestClient
    settings: Settings
    answer: Any


@pytest.fixture(scope="module")
def fake_903(store_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Uploaded]:
    """The fake tables' upload, made once per backend: DfE's rules on them take seconds an upload."""
    root = tmp_path_factory.mktemp("fake_903")
    settings = Settings(data_dir=root / "data")
    with copied_store(store_template, root) as engine, client_on(settings, engine) as client:
        yield Uploaded(engine, client, settings, upload(client, TABLES_903))


def test_the_fake_903_tables_report_exactly_what_dfes_rules_find(fake_903: Uploaded) -> None:
    store, store_client, answer = fake_903.store, fake_903.client, fake_903.answer
    assert answer.status_code == 202, answer.text
    sid = answer.json()["id"]
    assert answer.headers["location"] == f"/api/submissions/{sid}"
    assert answer.json()["stage"] == "received"
    report = store_client.get(f"/api/submissions/{sid}", headers=NOTTS).json()
    assert (report["status"], report["stage"], report["kind"]) == ("rejected", "rejected", "records")
    direct = _direct("903", "lac2024_25", tuple(TABLES_903), NOTTS_LA)
    expected = {(f"dfe:{f.rule}", f.child, f.table, f.row) for f in direct.findings}
    items = findings(store_client, sid)
    assert len(items) == len(direct.findings)
    assert {(f["rule"], f["child"], f["table"], f["row"]) for f in items} == expected
    assert report["error_count"] == len(direct.findings)
    named = {p["rule"] for p in report["problems"]}
    assert {f"dfe:{n.rule}" for n in direct.rules_raised} <= named
    # The rules left out for a table not given are one notice that counts them and lists them, not one each.
    assert direct.rules_skipped
    (unchecked,) = [p for p in report["problems"] if p["rule"] == "records_rules_not_checked"]
    assert unchecked["message"].startswith(f"{len(direct.rules_skipped)} of DfE's rules were not checked (not a pass)")
    assert set(unchecked["message"].split(": rules ")[1].split(", ")) == {n.rule for n in direct.rules_skipped}
    assert not any(p["rule"] == f"dfe:{n.rule}" for p in report["problems"] for n in direct.rules_skipped)
    with Session(store) as session:
        assert session.exec(select(Observation).where(col(Observation.submission_id) == sid)).first() is None
        assert session.exec(select(RecordLineage).where(col(RecordLineage.submission_id) == sid)).first() is None
        sealed = session.exec(select(RecordChild).where(col(RecordChild.submission_id) == sid)).all()
    assert len(sealed) == len({f.child for f in direct.findings if f.child})
    assert_no_child_in_clear(store, fake_903.settings.data_dir, child_ids(TABLES_903))


def test_only_the_uploading_council_reads_its_findings_by_child(fake_903: Uploaded) -> None:
    store_client, sid = fake_903.client, fake_903.answer.json()["id"]
    assert store_client.get(f"/api/submissions/{sid}/records", headers=NOTTS).status_code == 200
    assert store_client.get(f"/api/submissions/{sid}/records", headers=OFFICER).status_code == 403
    assert store_client.get(f"/api/submissions/{sid}/records", headers=DFE).status_code == 403
    assert store_client.get(f"/api/submissions/{sid}/records", headers=LEWISHAM).status_code == 404
    # The officer sees the counts and the report without any child.
    seen = store_client.get(f"/api/submissions/{sid}", headers=OFFICER).json()
    assert seen["error_count"] > 0
    assert not child_ids(TABLES_903) & {str(v) for p in seen["problems"] for v in p.values()}
    trail = store_client.get("/api/audit", headers=OFFICER, params={"action": "records.read"}).json()
    assert any(e["object"].endswith(str(sid)) for e in trail["items"]), trail


def test_a_zip_that_unpacks_past_the_limit_is_refused_at_the_door_from_what_it_declares(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    """A small ZIP of 200 MiB of CSV is refused before the 202, from its central directory: nothing is inflated
    or kept (it was kept, then inflated whole by the worker, and DfE's rules ran out of memory on it)."""
    bomb = tmp_path / "return.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("episodes.csv", "w") as member:
        member.write(b"CHILD,DECOM\n")
        for _ in range(200):
            member.write(b"0" * 2**20)
    assert bomb.stat().st_size < 2**20 < store_settings.max_upload_bytes
    answer = upload(store_client, [bomb])
    assert answer.status_code == 413, answer.text
    assert "return.zip unpacks to 209,715,212 bytes, over the limit of 52,428,800" in answer.text
    with Session(store) as session:
        assert session.exec(select(Submission).where(col(Submission.kind) == "records")).first() is None
    assert kept_names(store, store_settings, "records") == []


def test_rejected_files_sent_again_are_a_new_upload(fake_903: Uploaded) -> None:
    """The council sends refused files again to have them read again, not to be pointed at the refusal (a repeat of
    an upload that was stored is answered as that upload: test_records_lifecycle.py)."""
    first = fake_903.answer.json()["id"]
    again = upload(fake_903.client, list(reversed(TABLES_903)))
    assert again.status_code == 202, again.text
    assert again.json()["id"] != first
    assert not again.json().get("duplicate")
    report = fake_903.client.get(f"/api/submissions/{again.json()['id']}", headers=NOTTS).json()
    assert report["status"] == "rejected"


def stored(engine: Engine, sid: int) -> dict[str, tuple[float | None, float | None, float | None]]:
    with Session(engine) as session:
        rows = session.exec(
            select(Observation).where(col(Observation.submission_id) == sid, col(Observation.is_current))
        ).all()
    return {o.indicator_id: (o.value, o.numerator, o.denominator) for o in rows}


def test_passing_tables_store_the_figures_dfes_method_gives_with_lineage(
    store: Engine, store_client: TestClient, store_settings: Any
) -> None:
    from collectors.checks.context import build_context
    from collectors.records.ssda903_figures import derive_ssda903
    from collectors.records.ssda903_tables import read_csv_tables

    answer = upload(store_client, PASSING)
    assert answer.status_code == 202, answer.text
    sid = answer.json()["id"]
    report = store_client.get(f"/api/submissions/{sid}", headers=NOTTS).json()
    assert (report["status"], report["stage"]) == ("accepted", "stored"), report["message"]
    # The distance from home to placement is DfE's library's, worked out from the postcodes.
    distances = _direct("903", "lac2024_25", tuple(PASSING), NOTTS_LA)
    tables = read_csv_tables(PASSING[0].parent)
    miles = [None if d is None else str(d) for d in distances.episode_distances]
    tables["Episodes"] = tables["Episodes"].with_columns(pl.Series("PL_DISTANCE", miles, dtype=pl.String))
    derived = derive_ssda903(tables, year_ending=2025)
    with Session(store) as session:
        theirs = build_context(session, "notts_cyp").agency_indicators
    expected = {i: (f.value, f.numerator, f.denominator) for i, f in derived.figures.items() if i in theirs}
    assert expected
    assert stored(store, sid) == expected
    assert expected["cyp.lac_count"][0] == 2.0
    assert expected["cyp.lac_placed_20_miles_n"][0] == 0.0
    left = {p["value"] for p in report["problems"] if p["rule"] == "records_left_to_template"}
    assert "cyp.lac_rate_per_10k" in left
    with Session(store) as session:
        lineage = session.exec(select(RecordLineage).where(col(RecordLineage.submission_id) == sid)).all()
        children = session.exec(select(RecordChild).where(col(RecordChild.submission_id) == sid)).all()
    behind = {(r.child, r.record_row) for r in lineage if r.indicator_id == "cyp.lac_count" and r.counted}
    assert len(behind) == 2
    assert {r.child for r in lineage} <= {c.pseudonym for c in children}
    assert_no_child_in_clear(store, store_settings.data_dir, child_ids(PASSING))
    # Postcodes are turned into the distance and then dropped.
    assert not [t for t in every_text(store) if "NG17 4NX" in t or "NG15 0A" in t]


def test_a_figure_also_keyed_in_a_template_is_kept_and_named(store: Engine, store_client: TestClient) -> None:
    keyed = (
        "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
        "cyp.lac_count,E10000024,2025-03-31,,99,,,final,keyed by hand\n"
    )
    files = {"file": ("keyed.csv", keyed.encode(), "text/csv")}
    first = store_client.post("/api/submissions", headers=NOTTS, files=files)
    assert first.status_code == 201, first.text
    sid = upload(store_client, PASSING).json()["id"]
    report = store_client.get(f"/api/submissions/{sid}", headers=NOTTS).json()
    conflicts = [p for p in report["problems"] if p["rule"] == "records_keyed_conflict"]
    assert [p["value"] for p in conflicts] == ["cyp.lac_count"]
    assert "the keyed figure is kept" in conflicts[0]["message"]
    assert "cyp.lac_count" not in stored(store, sid)
    assert stored(store, first.json()["id"])["cyp.lac_count"][0] == 99.0


CIN_PASSING = FIXTURES / "cin" / "cin_passing.xml"


def test_the_fake_cin_census_reports_exactly_what_dfes_rules_find(
    store: Engine, store_client: TestClient, store_settings: Any, tmp_path: Path
) -> None:
    census = tmp_path / CIN_2024.name
    census.write_bytes(cin_2024_of_notts())
    sid = upload(store_client, [census]).json()["id"]
    report = store_client.get(f"/api/submissions/{sid}", headers=NOTTS).json()
    assert (report["status"], report["stage"], report["source_format"]) == ("rejected", "rejected", "cin")
    direct = _direct("cin", "cin2024_25", (census,))
    items = findings(store_client, sid)
    assert sorted((f["rule"], f["child"], f["table"], f["row"]) for f in items) == sorted(
        (f"dfe:{f.rule}", f.child, f.table, f.row) for f in direct.findings
    )
    assert {f["severity"] for f in items} == {"error", "query"}
    assert_no_child_in_clear(store, store_settings.data_dir, child_ids([CIN_2024]))


def test_a_passing_cin_census_stores_the_figures_dfes_method_gives(
    store: Engine, store_client: TestClient, store_settings: Any
) -> None:
    from collectors.checks.context import build_context
    from collectors.records.cin_figures import derive_cin
    from collectors.records.cin_tables import read_cin_tables

    sid = upload(store_client, [CIN_PASSING]).json()["id"]
    report = store_client.get(f"/api/submissions/{sid}", headers=NOTTS).json()
    assert (report["status"], report["stage"]) == ("accepted", "stored"), report["message"]
    # DfE's queries are reported to the council and hold nothing back.
    assert {f["rule"] for f in findings(store_client, sid)} == {"dfe:8770Q", "dfe:2887Q"}
    derived = derive_cin(read_cin_tables(CIN_PASSING.read_bytes()), year_ending=2025)
    with Session(store) as session:
        theirs = build_context(session, "notts_cyp").agency_indicators
    expected = {i: (f.value, f.numerator, f.denominator) for i, f in derived.figures.items() if i in theirs}
    assert expected["cyp.cin_count"][0] == 1.0
    assert stored(store, sid) == expected
    assert_no_child_in_clear(store, store_settings.data_dir, child_ids([CIN_PASSING]))


@pytest.mark.parametrize(
    ("files", "year", "expected"),
    [
        ([("episodes.csv", b"CHILD,DECOM\n")], "2024-25", "episodes.csv is not one of the SSDA903 tables"),
        (
            [("header.csv", (FIXTURES / "ssda903_passing" / "header.csv").read_bytes())],
            "2024-25",
            "Episodes table is missing",
        ),
        ([(p.name, p.read_bytes()) for p in PASSING], "2019-20", "has no rule set for 2019-20"),
        ([(p.name, p.read_bytes()) for p in PASSING], "2022-23", "rules for 2022-23) found"),
        ([("census.xml", b'<!DOCTYPE m [<!ENTITY x "y">]><Message><Children/></Message>')], "2024-25", "DOCTYPE"),
    ],
    # An empty file, one of no return, an empty ZIP or one of another ZIP is refused at the door (422, nothing kept):
    # tests/collectors/test_child_files_sealed.py, tests/collectors/ssd/test_ssd_door.py.
    ids=["wrong-table", "no-episodes", "no-rule-set", "another-year", "hostile-xml"],
)
def test_bad_record_files_get_a_clear_report_and_store_nothing(
    store: Engine, store_client: TestClient, files: list[tuple[str, bytes]], year: str, expected: str
) -> None:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    answer = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": year}, files=parts)
    assert answer.status_code == 202, answer.text
    sid = answer.json()["id"]
    report = store_client.get(f"/api/submissions/{sid}", headers=NOTTS).json()
    assert (report["status"], report["stage"]) == ("rejected", "rejected")
    assert expected in report["message"], report["message"]
    assert report["error_count"] >= 1
    if "found" not in expected:
        # Refused by our own read, before DfE's rules ran.
        assert [p["rule"] for p in report["problems"] if p["severity"] == "error"] == ["records_unreadable"]
    assert stored(store, sid) == {}


@pytest.mark.parametrize(
    "year",
    [
        "../../etc",
        "2024-2025",
        "2" * 5000,
        "2024-25; DROP TABLE submission;--",
        "\uff12\uff10\uff12\uff14-\uff12\uff15",  # 2024-25 in fullwidth digits
        "2024-26",
    ],
    ids=["path", "four-digit-end", "5000-digits", "sql", "fullwidth", "not-consecutive"],
)
def test_a_collection_year_that_is_not_one_is_422_and_nothing_is_kept(
    store: Engine, store_client: TestClient, store_settings: Settings, year: str
) -> None:
    with Session(store) as session:
        before = len(session.exec(select(Submission)).all())
    answer = upload(store_client, PASSING, year=year)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert "is not a collection year" in body["error"]
    assert "for example 2024-25" in body["error"]
    assert len(answer.content) < 2000  # the 5,000 digits are not echoed back
    with Session(store) as session:
        assert len(session.exec(select(Submission)).all()) == before
    assert kept_names(store, store_settings, "records") == []


def test_a_collection_year_is_stored_in_one_form(store: Engine, store_client: TestClient) -> None:
    answer = upload(store_client, PASSING, year=" FY2024/25 ")
    assert answer.status_code == 202, answer.text
    with Session(store) as session:
        sub = session.get(Submission, answer.json()["id"])
    assert sub is not None
    assert sub.collection_year == "2024-25"


def test_a_record_level_upload_needs_files_and_no_mode(store_client: TestClient) -> None:
    none = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"})
    assert none.status_code in (400, 422)
    parts = [("files", (p.name, p.read_bytes(), "text/csv")) for p in PASSING]
    atomic = store_client.post(
        "/api/submissions", headers=NOTTS, data={"collection_year": "2024-25", "mode": "atomic"}, files=parts
    )
    assert atomic.status_code in (400, 422)
    assert "leave out mode" in atomic.text


def test_the_ssda903_return_from_records_equals_the_same_figures_keyed_by_hand(
    store: Engine, store_client: TestClient
) -> None:
    from exports import service as exports

    sid = upload(store_client, PASSING).json()["id"]
    figures = stored(store, sid)
    with Session(store) as session:
        periods = dict(
            session.exec(
                select(Observation.indicator_id, Observation.period).where(col(Observation.submission_id) == sid)
            ).all()
        )
    lines = ["indicator,org,period,breakdown,value,numerator,denominator,status,note"]
    for indicator, (value, numerator, denominator) in sorted(figures.items()):
        cells = ["" if v is None else repr(v) for v in (value, numerator, denominator)]
        lines.append(f"{indicator},E09000023,{periods[indicator]},,{','.join(cells)},final,keyed by hand")
    keyed = store_client.post(
        "/api/submissions", headers=LEWISHAM, files={"file": ("keyed.csv", "\n".join(lines).encode(), "text/csv")}
    )
    assert keyed.status_code == 201, keyed.text
    assert keyed.json()["rows_accepted"] == len(figures), keyed.json()["problems"][:3]
    with Session(store) as session:
        _, built = exports.build(session, "dfe_ssda903", "FY2024-25")
    grid = built.cells.select("field_code", "org_code", "display")
    from_records = dict(grid.filter(pl.col("org_code") == NOTTS_LA).select("field_code", "display").iter_rows())
    by_hand = dict(grid.filter(pl.col("org_code") == "E09000023").select("field_code", "display").iter_rows())
    assert sum(1 for d in from_records.values() if d not in (None, "")) >= 5
    assert from_records == by_hand


def test_the_councils_own_child_ids_come_back_as_written(store_client: TestClient, tmp_path: Path) -> None:
    # DfE's library upper-cases every cell before its rules run; the council's report keeps its own spelling.
    written = []
    for path in PASSING:
        text = path.read_text().replace("C100201", "abc-lower-1")
        if path.name == "header.csv":
            lines = text.splitlines()
            fields = lines[1].split(",")
            assert fields[0] == "abc-lower-1"
            fields[1] = "7"  # SEX: not a code DfE's rules accept
            text = "\n".join([lines[0], ",".join(fields), *lines[2:]]) + "\n"
        (tmp_path / path.name).write_text(text)
        written.append(tmp_path / path.name)
    answer = upload(store_client, written)
    assert answer.status_code == 202, answer.text
    children = {f["child"] for f in findings(store_client, answer.json()["id"])}
    assert "abc-lower-1" in children
    assert "ABC-LOWER-1" not in children
