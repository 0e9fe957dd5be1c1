"""A census made for given children reads back whole, by the schema, the same from one seed, and reports an
exclusion in the two censuses whose terms in arrears hold it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from collectors.census.blades import read_census
from collectors.census.synthetic import Child, made_upn, write_census

CHILDREN = [
    Child(made_upn("891", 901), date(2013, 11, 2), "F", "E", "8912003", "122003"),
    Child(made_upn("891", 902), date(2016, 2, 29), "M", "K", "8912004", "122004"),
    Child(made_upn("891", 903), date(2011, 9, 1), "M", "N", "8912003", "122003"),
]


def test_a_made_census_reads_back_whole_with_the_children_asked_for(tmp_path: Path) -> None:
    read = read_census(write_census(tmp_path, CHILDREN, year=2024, term="autumn", others=300, seed=3))
    assert read.refused.is_empty()
    assert read.pupils_read == 303
    pupils = read.records.pupils
    held = pupils.filter(pl.col("upn").is_in([c.upn for c in CHILDREN])).sort("upn")
    assert held.select("upn", "born", "sex", "senprovision", "laestab", "urn").rows() == sorted(
        (c.upn, c.born, c.sex, c.provision, c.laestab, c.urn) for c in CHILDREN
    )
    # Every session the pupil could attend is recorded under a code: present or absent.
    recorded = read.records.sessions.group_by("pupil", "period").agg(pl.col("sessions").sum().alias("recorded"))
    joined = recorded.join(read.records.possible, on=["pupil", "period"])
    assert joined.height == 2 * 303
    assert (joined["recorded"] == joined["sessions"]).all()
    assert set(read.records.schools["laestab"]) >= {"8912003", "8912004"}
    assert read.records.census_day == date(2024, 10, 3)


def test_names_and_addresses_are_never_read(tmp_path: Path) -> None:
    files = write_census(tmp_path, CHILDREN, year=2025, term="spring", others=50, seed=4)
    assert any("addresses" in name for name, _ in files)
    assert "Made-up-1" in next(path for name, path in files if name.endswith("pupilonroll.csv")).read_text()
    records = read_census(files).records
    for name in ("pupils", "schools"):
        frame = getattr(records, name)
        text = frame.select(pl.concat_str(pl.all().cast(pl.String), ignore_nulls=True)).to_series()
        assert not text.str.contains("Made-up-|ZZ99").any()
    assert records.pupils["primary_need"].drop_nulls().len() == (records.pupils["senprovision"] != "N").sum()


def test_one_seed_makes_the_same_census(tmp_path: Path) -> None:
    first, second, other = (tmp_path / "a", tmp_path / "b", tmp_path / "c")
    for folder, seed in ((first, 5), (second, 5), (other, 6)):
        folder.mkdir()
        write_census(folder, CHILDREN, year=2025, term="summer", others=40, seed=seed)
    names = sorted(p.name for p in first.iterdir())
    assert all((first / n).read_bytes() == (second / n).read_bytes() for n in names)
    assert (first / "2025_summer_la_pupilonroll.csv").read_bytes() != (
        other / "2025_summer_la_pupilonroll.csv"
    ).read_bytes()


def test_an_exclusion_is_reported_in_the_two_censuses_that_hold_its_term(tmp_path: Path) -> None:
    def exclusions(year: int, term: str) -> set[tuple[str, date, str]]:
        (tmp_path / term).mkdir()
        read = read_census(write_census(tmp_path / term, CHILDREN, year=year, term=term, others=2000, seed=8))
        joined = read.records.exclusions.join(read.records.pupils.select("pupil", "upn"), on="pupil")
        return set(joined.select("upn", "started", "category").rows())

    autumn, spring = exclusions(2024, "autumn"), exclusions(2025, "spring")
    both = autumn & spring
    assert both
    assert autumn - both
    assert spring - both
    # The term they share is the summer of 2024: in arrears for both censuses.
    assert all(date(2024, 4, 1) <= started <= date(2024, 8, 31) for _, started, _ in both)


def test_a_childs_own_absences_and_exclusions_are_the_ones_read(tmp_path: Path) -> None:
    worked = Child(
        made_upn("891", 904),
        date(2013, 5, 5),
        "F",
        "E",
        "8912003",
        "122003",
        absences=(("I", 9), ("O", 3)),
        exclusions=((date(2024, 5, 13), "SUSP", 3), (date(2024, 11, 4), "PERM", 1)),
    )
    none = Child(made_upn("891", 905), date(2013, 5, 6), "M", "K", "8912003", "122003", absences=(), exclusions=())
    read = read_census(write_census(tmp_path, [worked, none], year=2025, term="spring", others=100, seed=9))
    pupils = read.records.pupils.filter(pl.col("upn").is_in([worked.upn, none.upn])).select("pupil", "upn")
    mine = dict(zip(pupils["upn"], pupils["pupil"], strict=True))
    sessions = read.records.sessions.filter(pl.col("pupil") == mine[worked.upn], ~pl.col("code").is_in(["/", "\\"]))
    assert sorted(sessions.select("code", "sessions").rows()) == [("I", 9), ("O", 3)]
    absent = read.records.sessions.filter(pl.col("pupil") == mine[none.upn], ~pl.col("code").is_in(["/", "\\"]))
    assert absent.is_empty()
    # The spring census of 2025 reports the summer and autumn terms of 2024: both exclusions, and no made-up one.
    excluded = read.records.exclusions.filter(pl.col("pupil").is_in(list(mine.values())))
    assert sorted(excluded.select("started", "category", "sessions").rows()) == [
        (date(2024, 5, 13), "SUSP", 3),
        (date(2024, 11, 4), "PERM", 1),
    ]
