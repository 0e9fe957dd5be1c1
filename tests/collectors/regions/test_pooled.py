"""A region's pooled tables from the councils' kept records (SQLite and PostgreSQL): the child key survives a rotation
of the records keys and no council or output holds the secret it is made with; each use case keeps its own years;
every source column is written in the use case's policy and one that is not refuses the table; the regional
pipeline's CIN referral outcomes report is made from the pooled census; placements are read to their host council
through ONS's postcode directory as ONS publishes it."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors.records import rotation
from collectors.records.cin_tables import read_cin_tables
from collectors.records.privacy import keys_at
from collectors.regions import frames, onspd, pooled
from collectors.regions.childkey import secret_name
from collectors.regions.onspd import store_directory
from collectors.regions.pooled import apply_policy, build
from collectors.regions.sources import Held
from collectors.regions.sufficiency import pending_placements, placements
from indicators.store.models import Submission
from mappings.regions import consent
from mappings.regions.policy import use_cases
from onereturn import keptfiles
from onereturn.errors import InvalidInput
from onereturn.settings import Settings
from tests.collectors.regions.world import COUNCILS, REGION, Files, make_files, onboard, plant

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "regions" / "onspd_feb2023_sample.csv"
#: The days within which an assessment or enquiry follows a referral, as the pipeline's reports read them
#: (liiatools/cin_census_pipeline/spec/reports.yml, ``ref_assessment: 30``, at commit 4aff918).
REF_ASSESSMENT = 30


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return make_files(tmp_path_factory.mktemp("region-files"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a keys file of the test's own, so the records keys can be rotated."""
    return Settings(data_dir=tmp_path / "data", records_keys_file=tmp_path / "keys" / "records-keys.json")


def consent_all(engine: Engine, name: str, councils: tuple[str, ...] = tuple(COUNCILS)) -> None:
    with Session(engine) as session:
        for code in councils:
            held = consent.consent_of(session, code, REGION).use_cases
            consent.give(session, code, REGION, [*held, name], by="test")
        session.commit()


def test_the_child_key_survives_a_rotation_of_the_records_keys(store: Engine, settings: Settings, files: Files) -> None:
    onboard(store, settings, files)
    consent_all(store, "pan")
    before = build(store, settings, REGION, "pan", "ssda903_header").frame
    sealed = keptfiles.read(store, settings, secret_name(REGION))
    old = keys_at(settings.records_keys_file)  # type: ignore[arg-type]
    assert old.opens(sealed)
    rotation.rotate(store, settings)
    after = build(store, settings, REGION, "pan", "ssda903_header").frame
    assert after["child_key"].to_list() == before["child_key"].to_list()
    # The secret was sealed again with every kept record file: the retired keys open it no more.
    resealed = keptfiles.read(store, settings, secret_name(REGION))
    assert not old.opens(resealed)
    assert keys_at(settings.records_keys_file).opens(resealed)  # type: ignore[arg-type]
    # A plain SHA-256 of a UPN is not the key: it cannot be recomputed without the region's secret.
    assert hashlib.sha256(f"upn:{files.shared_upn}".encode()).hexdigest()[:32] not in set(after["child_key"])


def test_each_use_case_keeps_its_own_years(store: Engine, settings: Settings, files: Files) -> None:
    onboard(store, settings, files)
    consent_all(store, "pan")
    consent_all(store, "sufficiency", ("leics_cs",))
    # Leicestershire's only looked-after file then is for 2016-17: inside pan's 12 years, outside sufficiency's 7.
    made, _ = files.folders["leics_cs"]
    plant(store, settings, "leics_cs", "903", made, "2016-17")
    with Session(store) as session:
        newer = session.exec(
            select(Submission).where(
                col(Submission.agency_code) == "leics_cs", col(Submission.collection_year) == "2024-25"
            )
        ).all()
        for sub in newer:
            sub.status = "rejected"
            session.add(sub)
        session.commit()
    pan = build(store, settings, REGION, "pan", "ssda903_header", today=date(2026, 6, 1))
    assert "2016-17" in set(pan.frame.filter(pl.col("council") == "E10000018")["collection_year"])
    suff = placements(store, settings, REGION, date(2017, 3, 31))
    assert suff.frame.is_empty()
    assert any("E10000018" in said and "7 years" in said for said in suff.left_out), suff.left_out


def test_every_source_column_is_in_the_policy_and_one_that_is_not_refuses_the_table(files: Files) -> None:
    pan = use_cases()["pan"]
    census = read_cin_tables(files.folders["notts_cyp"][1].read_bytes())
    events = frames.cin_events(census)
    table = pan.tables["cin_census"]
    assert [table.action(c) for c in events.columns]  # each named, none refused
    assert {c.name for c in table.columns} == set(events.columns)
    with pytest.raises(InvalidInput, match="does not say what is done with the column 'Name'"):
        apply_policy(events.with_columns(pl.lit("x").alias("Name")), table)


def referral_outcomes(cin: pl.DataFrame, by: tuple[str, str]) -> pl.DataFrame:
    """The regional pipeline's CIN referral outcomes (liiatools/cin_census_pipeline/reports/_reports_referrals.py,
    ``referral_outcomes``, at commit 4aff918), made anew from a cin table of events: each referral is NFA, S17 (an
    assessment begun 0 to 30 days after it), S47 (an enquiry begun so) or BOTH; ``by`` names the child's council and
    id columns."""
    keys = [*by, "CINreferralDate"]

    def within(kind: str, column: str) -> pl.DataFrame:
        found = cin.filter(pl.col("Type") == kind).select(*keys, column).unique()
        days = (pl.col(column).cast(pl.Date) - pl.col("CINreferralDate").cast(pl.Date)).dt.total_days()
        return found.filter(days.is_between(0, REF_ASSESSMENT)).group_by(keys).agg(pl.col(column).min())

    referrals = cin.filter(pl.col("Type") == "CINreferralDate").select(keys).unique()
    merged = referrals.join(within("AssessmentActualStartDate", "AssessmentActualStartDate"), on=keys, how="left")
    merged = merged.join(within("S47ActualStartDate", "S47ActualStartDate"), on=keys, how="left")
    s17, s47 = pl.col("AssessmentActualStartDate").is_not_null(), pl.col("S47ActualStartDate").is_not_null()
    outcome = pl.when(s17 & s47).then(pl.lit("BOTH")).when(s17).then(pl.lit("S17")).when(s47).then(pl.lit("S47"))
    return merged.with_columns(outcome.otherwise(pl.lit("NFA")).alias("referral_outcome"))


def test_the_pipelines_referral_outcomes_are_made_from_the_pooled_census(
    store: Engine, settings: Settings, files: Files
) -> None:
    onboard(store, settings, files)
    consent_all(store, "pan")
    pooled = build(store, settings, REGION, "pan", "cin_census").frame
    report = referral_outcomes(pooled, ("council", "child_key"))
    made = Counter(zip(report["council"], report["referral_outcome"], strict=True))
    # The same report from each council's own census, by its own child ids, counts the same outcomes.
    expected: Counter[tuple[str, str]] = Counter()
    for code, (gss, _, _) in COUNCILS.items():
        tables = read_cin_tables(files.folders[code][1].read_bytes())
        for child, episode, referred in tables["CINdetails"].select("CHILD", "_episode", "CINreferralDate").iter_rows():
            follows = {
                name: any(
                    0 <= (started - referred).days <= REF_ASSESSMENT
                    for c, e, started in tables[table].select("CHILD", "_episode", name).iter_rows()
                    if (c, e) == (child, episode) and started is not None
                )
                for table, name in (("Assessments", "AssessmentActualStartDate"), ("Section47", "S47ActualStartDate"))
            }
            s17, s47 = follows.values()
            expected[(gss, "BOTH" if s17 and s47 else "S17" if s17 else "S47" if s47 else "NFA")] += 1
    assert made == expected
    assert set(report["referral_outcome"]) >= {"NFA", "S17"}


def test_placements_are_read_to_their_host_council_through_onss_directory(
    store: Engine, settings: Settings, files: Files, tmp_path: Path
) -> None:
    onboard(store, settings, files)
    consent_all(store, "sufficiency", ("notts_cyp", "derbyshire_cs"))
    assert store_directory(store, FIXTURE) == 140
    # A file that is not ONS's directory is refused, naming what it lacks, and the directory read before stays.
    other = tmp_path / "not-onspd.csv"
    other.write_text("pcds\nNG1 7GJ\n")
    with pytest.raises(InvalidInput, match="lacks oslaua, oscty, doterm"):
        store_directory(store, other)
    with Session(store) as session:
        assert onspd.held(session) == FIXTURE.name
    on = date(2025, 3, 31)
    built = placements(store, settings, REGION, on)
    frame = built.frame
    assert set(frame["council"]) == {"E10000024", "E10000007"}
    assert "PL_POST" not in frame.columns
    assert "HOME_POST" not in frame.columns
    # Each open episode's host, worked out here from the file and the directory: a county district is its county.
    directory = {r["pcds"]: r["oscty"] or r["oslaua"] for r in csv.DictReader(FIXTURE.open())}
    expected: Counter[tuple[str, str | None]] = Counter()
    for code in ("notts_cyp", "derbyshire_cs"):
        gss = COUNCILS[code][0]
        for row in csv.DictReader((files.folders[code][0][0].parent / "episodes.csv").open()):
            start = date(*map(int, reversed(row["DECOM"].split("/"))))
            end = date(*map(int, reversed(row["DEC"].split("/")))) if row["DEC"] else None
            if start <= on and (end is None or end > on):
                expected[(gss, directory.get(row["PL_POST"]))] += 1
    assert Counter(zip(frame["council"], frame["host_council"], strict=True)) == expected
    placed_out = frame.filter(pl.col("host_council") != pl.col("council"))
    assert placed_out.height > 0
    assert not files.leaked(built.csv().decode())


def test_one_build_of_every_table_reads_each_upload_once_and_makes_the_same_tables(
    store: Engine, settings: Settings, files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    onboard(store, settings, files)
    consent_all(store, "pan")
    consent_all(store, "sufficiency")
    store_directory(store, FIXTURE)
    names = ("ssda903_header", "ssda903_episodes", "cin_census", "sen2_persons")
    alone = [build(store, settings, REGION, "pan", name) for name in names]
    alone.append(placements(store, settings, REGION))
    counted: Counter[int] = Counter()
    for reader in ("read_tables", "read_sen2"):
        given = getattr(pooled, reader)

        def counting(engine: Engine, s: Settings, held: Held, given: Any = given) -> Any:
            counted[held.submission_id] += 1
            return given(engine, s, held)

        monkeypatch.setattr(pooled, reader, counting)
    together = pooled.make(
        store,
        settings,
        [
            *(pooled.pending(store, settings, REGION, "pan", name) for name in names),
            pending_placements(store, settings, REGION),
        ],
    )
    # Four councils' SSDA903 and CIN census and one SEN2 file: nine uploads, each read once for the five tables
    # (one build per table reads each SSDA903 and CIN census file for each of four tables, the UPNs' too).
    assert len(counted) == 9, counted
    assert set(counted.values()) == {1}, counted
    for one, other in zip(alone, together, strict=True):
        assert one.frame.equals(other.frame), one.table.name
        assert [h.submission_id for h in one.sources] == [h.submission_id for h in other.sources]
        assert one.left_out == other.left_out
