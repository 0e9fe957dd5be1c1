"""List 1's school columns and List 2's pupils from censuses as councils send them: COLLECT's blades made for given
children (``collectors.census.synthetic``), read and checked by the blade reader, two censuses in turn so that their
shared term's exclusions are reported twice."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from collectors.census.blades import read_census
from collectors.census.lists import school_columns, sen_support
from collectors.census.synthetic import Child, made_upn, write_census

ON = date(2025, 6, 30)


def test_two_censuses_read_from_blades_fill_the_lists_each_exclusion_once(tmp_path: Path) -> None:
    children = [
        Child(made_upn("891", n), date(2014, 1, n), "F", "E" if n <= 3 else "K", "8912001", "100001")
        for n in range(1, 7)
    ]
    reads = []
    for term in ("spring", "summer"):
        folder = tmp_path / term
        folder.mkdir()
        read = read_census(write_census(folder, children, year=2025, term=term, others=300, seed=7))
        assert not read.refusals
        reads.append(read.records)
    spring, summer = reads
    columns = school_columns([summer, spring], ON)
    assert columns is not None
    upns = [c.upn.upper() for c in children]
    held = columns.filter(pl.col("key").is_in(upns))
    assert held.height == 6
    assert held["Absence"].drop_nulls().is_between(0, 100).all()
    # Each exclusion once: by pupil, school, start date and category across both censuses, in the academic year.
    stacked = pl.concat(
        [c.exclusions.join(c.pupils.select("pupil", "upn", "laestab"), on="pupil") for c in (summer, spring)]
    ).filter(pl.col("started").is_between(date(2024, 9, 1), summer.census_day))
    once = stacked.unique(["upn", "laestab", "started", "category"])
    assert stacked.height > once.height  # the censuses report a shared term's exclusions twice
    counted = int(columns["Suspensions"].sum()) + int(columns["Permanent exclusions"].sum())
    assert counted == once.filter(pl.col("category").is_in(["SUSP", "LNCH", "PERM"])).height
    support = sen_support([summer, spring], ON)
    assert set(upns[3:]) <= set(support["key"].to_list())
    assert not set(upns[:3]) & set(support["key"].to_list())
