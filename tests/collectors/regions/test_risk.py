"""A pooled table's disclosure risk: the share of children unique and in k-anonymity's smallest classes on a small
hand-made table whose answer is known, a child of several rows as exposed as its smallest class, each further
degrading of a use case changing the table and the risk, and the tables as built from the councils' records
(SQLite and PostgreSQL) measured as counting by hand measures them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.regions.degrade import further, main_groups
from collectors.regions.pooled import build
from collectors.regions.risk import QUASI_SETS, measure, table_risk
from mappings.regions import consent, policy
from mappings.regions.policy import use_cases
from onereturn.settings import Settings
from tests.collectors.regions.world import COUNCILS, REGION, Files, make_files, onboard

BASE = QUASI_SETS[0]


def persons() -> pl.DataFrame:
    """Six children: three alike, two alike, one alone (council, birth month, sex, ethnicity)."""
    rows = [
        ("c1", "E1", date(2010, 1, 1), "1", "WBRI"),
        ("c2", "E1", date(2010, 1, 1), "1", "WBRI"),
        ("c3", "E1", date(2010, 1, 1), "1", "WBRI"),
        ("c4", "E1", date(2010, 1, 1), "1", "WIRI"),
        ("c5", "E1", date(2010, 1, 1), "1", "WIRI"),
        ("c6", "E2", date(2011, 2, 1), "2", "WOTH"),
    ]
    return pl.DataFrame(rows, schema=["child_key", "council", "born", "sex", "ethnicity"], orient="row")


def test_the_share_unique_and_in_classes_under_3_and_5_on_a_known_table() -> None:
    risk = measure(persons(), BASE)
    assert risk.columns == ("council", "born", "sex", "ethnicity")
    assert (risk.children, risk.unique, risk.under_3, risk.under_5) == (6, 1, 3, 6)
    assert risk.share(risk.unique) == pytest.approx(1 / 6)
    # Birth month alone: five born in January 2010, one in February 2011.
    by_month = measure(persons(), ["birth month"])
    assert (by_month.unique, by_month.under_3, by_month.under_5) == (1, 1, 1)


def test_a_child_of_several_rows_is_as_exposed_as_its_smallest_class() -> None:
    episodes = pl.DataFrame(
        {
            "child_key": ["c1", "c1", "c2", "c3"],
            "council": ["E1"] * 4,
            "DECOM": [date(2024, 1, 1), date(2024, 2, 3), date(2024, 1, 1), date(2024, 3, 9)],
        }
    )
    risk = measure(episodes, ["council", "exact date"])
    # 1 January is c1's and c2's; c1's 3 February and c3's 9 March are theirs alone.
    assert (risk.children, risk.unique, risk.under_3) == (3, 2, 3)
    # To the month, the three dates are three months still; c1 shares January with c2, so it is unique no more.
    month = further(episodes, use_cases()["pan"].tables["ssda903_episodes"], ["dates_to_month"])
    assert month["DECOM"].to_list() == [date(2024, 1, 1), date(2024, 2, 1), date(2024, 1, 1), date(2024, 3, 1)]
    assert measure(month, ["council", "exact date"]).unique == 2


def test_each_option_changes_the_table_and_the_risk_before_it_is_asked() -> None:
    table = use_cases()["pan"].tables["sen2_persons"]
    (measured,) = table_risk(persons(), table)
    assert measured.risk.unique == 1
    # WBRI and WIRI are both of DfE's main group WHIT: c4 and c5 join c1 to c3 (a class of 5); WOTH is WHIT too,
    # but c6 is alone by council and birth month still.
    grouped = further(persons(), table, ["ethnicity_to_main_group"])
    assert grouped["ethnicity"].to_list() == ["WHIT"] * 6
    assert main_groups()["OOTH"] == "AOEG"
    assert main_groups()["REFU"] == "REFU"
    assert measured.with_option["ethnicity_to_main_group"].under_3 == 1
    assert measured.risk.under_3 == 3
    # An option the use case already asks is not offered again.
    (asked,) = table_risk(grouped, table, ["ethnicity_to_main_group"])
    assert "ethnicity_to_main_group" not in asked.with_option
    episodes = use_cases()["pan"].tables["ssda903_episodes"]
    homes = pl.DataFrame({"child_key": ["a", "b"], "council": ["E1", "E1"], "HOME_POST": ["NG1 5", "NG1 6"]})
    council_only, on_sector = table_risk(homes, episodes)
    assert council_only.risk.columns == ("council",)
    assert on_sector.risk.unique == 2
    # Only the option that would change the table is offered: it has no date and no ethnicity.
    assert set(on_sector.with_option) == {"sector_to_district"}
    assert further(homes, episodes, ["sector_to_district"])["HOME_POST"].to_list() == ["NG1", "NG1"]
    assert on_sector.with_option["sector_to_district"].unique == 0
    with pytest.raises(ValueError, match="unknown degrade"):
        further(homes, episodes, ["to_the_year"])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return make_files(tmp_path_factory.mktemp("risk-files"))


@pytest.fixture
def degrading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The use cases read from a copy of the file the test may change."""
    copy = tmp_path / "use_cases.toml"
    copy.write_text(policy.FILE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(policy, "FILE", copy)
    use_cases.cache_clear()
    yield copy
    use_cases.cache_clear()


def test_tables_as_built_are_measured_as_counting_by_hand(
    store: Engine, store_settings: Settings, files: Files
) -> None:
    onboard(store, store_settings, files)
    with Session(store) as session:
        for code in COUNCILS:
            consent.give(session, code, REGION, ["pan"], by="test")
        session.commit()
    header = build(store, store_settings, REGION, "pan", "ssda903_header").frame
    assert header.height > 100
    risk = measure(header, BASE)
    sizes = Counter(header.select("council", "DOB", "SEX", "ETHNIC").iter_rows())
    # A child in two councils' headers is two rows of one key, and counts once, by its smaller class.
    by_child: dict[str, int] = {}
    for key, *values in header.select("child_key", "council", "DOB", "SEX", "ETHNIC").iter_rows():
        by_child[key] = min(by_child.get(key, 10**6), sizes[tuple(values)])
    assert risk.children == len(by_child) == header["child_key"].n_unique()
    assert risk.unique == sum(k == 1 for k in by_child.values())
    assert risk.under_5 == sum(k < 5 for k in by_child.values())
    assert 0 < risk.unique < risk.under_5 <= risk.children


def test_a_use_case_asking_a_degrade_gets_its_tables_so(
    store: Engine, store_settings: Settings, files: Files, degrading: Path
) -> None:
    onboard(store, store_settings, files)
    with Session(store) as session:
        for code in COUNCILS:
            consent.give(session, code, REGION, ["pan"], by="test")
        session.commit()
    before = build(store, store_settings, REGION, "pan", "ssda903_episodes").frame
    assert any(d.day != 1 for d in before["DECOM"].drop_nulls())
    text = degrading.read_text(encoding="utf-8")
    degrading.write_text(text.replace("degrade = []", 'degrade = ["dates_to_month", "sector_to_district"]', 1))
    use_cases.cache_clear()
    after = build(store, store_settings, REGION, "pan", "ssda903_episodes").frame
    assert after.height == before.height
    assert all(d.day == 1 for d in after["DECOM"].drop_nulls())
    assert all(" " not in p for p in after["HOME_POST"].drop_nulls())
    assert measure(after, QUASI_SETS[2]).unique < measure(before, QUASI_SETS[2]).unique
    degrading.write_text(text.replace("degrade = []", 'degrade = ["to_the_year"]', 1))
    use_cases.cache_clear()
    with pytest.raises(ValueError, match="unknown degrade to_the_year"):
        use_cases()
