"""The slim template read into the census's tables with the blades' checks, and GIAP's downloads by their headings."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from collectors.census.synthetic import Child, write_census
from collectors.census.template import GIAP, giap_headings, read_giap, read_sent, read_template, template_columns
from collectors.door.recognise import CENSUS, recognise
from onereturn.errors import InvalidInput
from tests.census.blades import ADA, BEN

NAME = "2025_spring_la_census_template.csv"


def _write(path: Path, heading: list[str], rows: list[dict[str, str]]) -> list[tuple[str, Path]]:
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, heading, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    return [(path.name, path)]


def _row(upn: str, **cells: str) -> dict[str, str]:
    return {
        "laestab": "8912001",
        "urn": "122001",
        "upn": upn,
        "sex": "F",
        "enrolstatus": "C",
        "senprovision": "E",
        "ncyearactual": "6",
        "dob": "2014-03-02",
        "entrydate": "2021-09-01",
        "termlysessionspossible": "120",
        **cells,
    }


def _template(tmp_path: Path, *rows: dict[str, str]) -> list[tuple[str, Path]]:
    return _write(tmp_path / NAME, template_columns(2025, "spring"), list(rows))


def test_the_template_reads_into_the_census_tables(tmp_path: Path) -> None:
    ada = _row(
        ADA,
        sessions_I="4",
        sessions_O="2",
        sentype="ASD",
        fsmstartdate="2023-01-09",
        exclusion1_category="SUSP",
        exclusion1_startdate="2024-11-04",
        exclusion1_sessions="2",
        exclusion1_reason="PA",
        exclusion2_category="LNCH",
        exclusion2_startdate="2024-12-02",
    )
    ben = _row(BEN, senprovision="K", leavingdate="2024-12-20", sessions_G="6")
    read = read_template(_template(tmp_path, ada, ben))
    records = read.records
    assert read.refused.is_empty()
    assert (records.year, records.term, records.source, records.census_day) == (2025, "spring", "la", date(2025, 1, 16))
    pupils = records.pupils.sort("upn")
    assert pupils.select("upn", "on_roll", "laestab", "urn", "senprovision", "primary_need", "left").rows() == sorted(
        [
            (ADA, True, "8912001", "122001", "E", "ASD", None),
            (BEN, False, "8912001", "122001", "K", None, date(2024, 12, 20)),
        ]
    )
    ada_id = pupils.filter(pl.col("upn") == ADA)["pupil"][0]
    assert sorted(records.sessions.filter(pl.col("pupil") == ada_id).select("code", "sessions").rows()) == [
        ("I", 4),
        ("O", 2),
    ]
    assert sorted(records.exclusions.select("category", "started", "sessions", "reason").rows(), key=str) == sorted(
        [("SUSP", date(2024, 11, 4), 2, "PA"), ("LNCH", date(2024, 12, 2), None, None)], key=str
    )
    assert records.fsm.select("started", "ended").rows() == [(date(2023, 1, 9), None)]
    assert records.schools.rows() == [("8912001", "122001", None, None)]


def test_the_template_is_checked_as_the_blades_are(tmp_path: Path) -> None:
    rows = [
        _row("A891000000001"),  # a wrong check letter
        _row(BEN, dob="2014-Mar-02 00:00:00", laestab="89120"),  # not the template's date; not a LAESTAB
        _row(BEN, laestab="8912001", sessions_I="100", sessions_O="30"),  # more missed than possible
        _row(BEN, fsmstartdate="2024-01-09", fsmenddate="2023-01-09", exclusion1_category="FIXD"),
    ]
    read = read_template(_template(tmp_path, *rows))
    assert set(read.refused.select("row", "column", "rule").rows()) == {
        (2, "upn", "not a UPN with DfE's check letter"),
        (3, "dob", "not a date written 2024-10-03 or 03/10/2024"),
        (3, "laestab", "not a LAESTAB (the council's three digits and the school's four)"),
        (4, "termlysessionspossible", "more sessions missed than possible in the period"),
        (4, "upn", "the pupil is on roll twice at one school"),
        (5, "upn", "the pupil is on roll twice at one school"),
        (5, "fsmenddate", "the period ends before it starts"),
        (5, "exclusion1_category", "not one of the schema's codes"),
    }
    assert not {"A891000000001", "89120", "FIXD"} & set(read.refused.to_series(4).to_list())


def test_a_template_with_two_councils_a_formula_or_a_column_missing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="schools of 2 councils"):
        read_template(_template(tmp_path, _row(ADA), _row(BEN, laestab="8922001")))
    with pytest.raises(InvalidInput, match="row 3, column sentype starts as a spreadsheet formula"):
        read_template(_template(tmp_path, _row(ADA), _row(BEN, sentype="@SUM(A1)")))
    short = _write(tmp_path / NAME, template_columns(2025, "spring")[:-1], [_row(ADA)])
    with pytest.raises(InvalidInput, match="no exclusion3_reason column"):
        read_template(short)


def _giap(path: Path, record: str, rows: list[dict[str, str]]) -> list[tuple[str, Path]]:
    fields = pl.read_csv(GIAP, infer_schema=False)
    heading = fields.filter(pl.col("dataset_record") == record).get_column("column_header").to_list()
    return _write(path, heading, rows)


def test_giaps_pupil_premium_and_census_downloads_are_read_by_their_headings(tmp_path: Path) -> None:
    premium = _giap(
        tmp_path / "pp.csv",
        "PupilPremiumOutputRecord",
        [
            {
                "UPN": ADA,
                "Surname": "Name",
                "Deprivation Pupil Premium": "1",
                "Looked After Premium": "0",
                "Service Child Premium": "0",
                "Adopted from Care Premium": "1",
            },
            {"UPN": "A891000000001", "Deprivation Pupil Premium": "yes"},
        ],
    )
    census = _giap(
        tmp_path / "census.csv",
        "CensusSpringOutputRecord",
        [
            {
                "UPN": BEN,
                "Surname": "Name",
                "Sex": "M",
                "DOB": "02/03/2014",
                "LAEstab": "8912001",
                "URN": "122001",
                "EnrolStatus": "C",
                "NCyearActual": "6",
                "SENProvision": "K",
                "PrimarySENeedsType": "SLCN",
            },
        ],
    )
    read = read_giap([*premium, *census], year=2025, term="spring", source="la")
    assert read.records.premium.rows() == [(ADA, True, False, True, False), (None, None, None, None, None)]
    assert read.records.pupils.select("upn", "born", "laestab", "senprovision", "primary_need").rows() == [
        (BEN, date(2014, 3, 2), "8912001", "K", "SLCN")
    ]
    assert set(read.refused.select("row", "column", "rule").rows()) == {
        (3, "UPN", "not a UPN with DfE's check letter"),
        (3, "Deprivation Pupil Premium", "not a whole number"),
    }
    assert "Name" not in read.records.pupils.select(pl.concat_str(pl.all().cast(pl.String), ignore_nulls=True))


def test_a_giap_download_the_service_does_not_read_is_refused_by_name(tmp_path: Path) -> None:
    assert "KS2OutputRecord" in giap_headings()
    ks2 = _giap(tmp_path / "ks2.csv", "KS2OutputRecord", [])
    with pytest.raises(InvalidInput, match="GIAP's KS2 download: the service reads GIAP's pupil premium and census"):
        read_giap(ks2, year=2025, term="spring", source="la")
    other = _write(tmp_path / "other.csv", ["UPN", "Something"], [])
    with pytest.raises(InvalidInput, match="none of GIAP's downloads"):
        read_giap(other, year=2025, term="spring", source="la")


def test_a_census_sent_in_the_template_or_with_giaps_premium_beside_it_is_read_whichever_it_is(tmp_path: Path) -> None:
    """The way in's reader tells each file by its heading: the template alone reads as the template does, blades with
    GIAP's pupil premium download beside them carry its flags, and GIAP's census download beside blades is refused."""
    template = _template(tmp_path, _row(ADA))
    assert read_sent(template).records.pupils.get_column("upn").to_list() == [ADA]
    assert recognise(*template[0]).kind == CENSUS
    (tmp_path / "blades").mkdir()
    blades = write_census(tmp_path / "blades", [Child(ADA, date(2014, 3, 2), "F", "E", "8912001", "122001")],
                          year=2025, term="spring", others=5, seed=1)  # fmt: skip
    premium = _giap(tmp_path / "pp.csv", "PupilPremiumOutputRecord",
                    [{"UPN": ADA, "Deprivation Pupil Premium": "1"}])  # fmt: skip
    assert recognise(*premium[0]).kind == CENSUS
    read = read_sent([*blades, *premium])
    assert read.records.premium.select("upn", "fsm_ever6").rows() == [(ADA, True)]
    assert read.records.pupils.height == 6
    census = _giap(tmp_path / "census.csv", "CensusSpringOutputRecord", [{"UPN": ADA}])
    with pytest.raises(InvalidInput, match="read alone"):
        read_sent([*blades, *census])
