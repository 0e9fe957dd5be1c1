"""The CIN census and SSDA903 made from a synthetic SSD extract are the synthetic census and return of the same
children, table by table and figure by figure; DfE's own rules find no error in them (DfE's libraries run here)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli.commands import app
from cli.synthetic import SYNTHETIC_LA, synthetic_903, synthetic_cin
from cli.synthetic.ssd import synthetic_ssd
from collectors.records.cin_figures import derive_cin
from collectors.records.cin_tables import read_cin_tables
from collectors.records.contract import run_rules
from collectors.records.kept import CIN_FILE, SSDA903_FILE
from collectors.records.ssda903_figures import Derivation, derive_ssda903
from collectors.records.ssda903_tables import read_csv_tables
from collectors.ssd.service import make_returns
from collectors.ssd.ssda903 import MADE

SEED, CHILDREN, LOOKED_AFTER = 11, 300, 200
#: The SSD holds no INTERVENTION_OFFERED: the OC2 made writes 0 where DfE's rules ask for it, blank elsewhere
#: (collectors/ssd/ssda903_oc2.py); the synthetic return has its own made-up answers there.
NOT_HELD = ("OC2", "INTERVENTION_OFFERED")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("ssd")
    path = synthetic_ssd(SEED, CHILDREN, "2024-25", folder, looked_after=LOOKED_AFTER)
    return dict(make_returns(path, path.name, "2024-25", "891", max_unpacked=50 * 1024 * 1024).files)


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("direct")
    census = synthetic_cin(SEED, CHILDREN, "2024-25", folder / "cin")
    synthetic_903(SEED, LOOKED_AFTER, "2024-25", folder / "903")
    return census, folder / "903"


def _made_903(made: dict[str, bytes], folder: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(made[SSDA903_FILE])) as archive:
        archive.extractall(folder)
    return folder


def test_the_census_made_from_the_ssd_is_the_synthetic_census(
    made: dict[str, bytes], direct: tuple[Path, Path]
) -> None:
    ours, theirs = read_cin_tables(made[CIN_FILE]), read_cin_tables(direct[0].read_bytes())
    assert theirs["Children"].height == CHILDREN
    for name, frame in theirs.items():
        mine = ours[name]
        if name == "ChildProtectionPlans":
            # The SSD counts the earlier plans themselves; the census needs only whether there were any.
            earlier = pl.col("NumberOfPreviousCPP") > 0
            frame, mine = frame.with_columns(earlier), mine.with_columns(earlier)
        assert mine.equals(frame), name
    derived, direct_figures = (derive_cin(t, year_ending=2025, population_0_17=1e5) for t in (ours, theirs))
    assert _figures(derived) == _figures(direct_figures)
    assert derived.figures


def _figures(derived: Derivation) -> dict[str, tuple[object, ...]]:
    """Each figure's value, numerator, denominator and the records behind it, to the last digit and row."""
    return {k: (f.value, f.numerator, f.denominator, sorted(f.records.rows())) for k, f in derived.figures.items()}


def test_the_903_made_from_the_ssd_is_the_synthetic_return_bar_what_the_ssd_lacks(
    made: dict[str, bytes], direct: tuple[Path, Path], tmp_path: Path
) -> None:
    ours, theirs = read_csv_tables(_made_903(made, tmp_path)), read_csv_tables(direct[1])
    assert sorted(ours) == sorted(MADE) == sorted(theirs)
    for name in MADE:
        held = [c for c in theirs[name].columns if (name, c) != NOT_HELD]
        assert ours[name].select(held).equals(theirs[name].select(held)), name
    offered = pl.col(NOT_HELD[1])
    assert ours["OC2"].select(offered.is_null()).equals(theirs["OC2"].select(offered.is_null()))
    assert set(ours["OC2"][NOT_HELD[1]].drop_nulls()) <= {"0"}
    for name in ("AD1", "PlacedAdoption", "PrevPerm", "OC2"):
        assert ours[name].height, f"the synthetic children give no {name} row to compare"
    mine = derive_ssda903(ours, year_ending=2025, population_0_17=1e5)
    same = derive_ssda903(theirs, year_ending=2025, population_0_17=1e5)
    assert _figures(mine) == _figures(same)
    assert mine.left_to_template == same.left_to_template


def test_dfe_rules_find_no_error_in_the_files_made(made: dict[str, bytes], tmp_path: Path) -> None:
    census = tmp_path / CIN_FILE
    census.write_bytes(made[CIN_FILE])
    found = run_rules("cin", "cin2024_25", [(census.name, census)])
    assert found.findings == (), sorted({(f.rule, f.message) for f in found.findings})
    folder = _made_903(made, tmp_path / "903")
    files = [(p.name, p) for p in sorted(folder.iterdir())]
    found = run_rules("903", "lac2024_25", files, local_authority=SYNTHETIC_LA)
    assert [f for f in found.findings if f.severity == "error"] == [], sorted(
        {(f.rule, f.message) for f in found.findings}
    )


def test_the_command_line_writes_a_synthetic_extract(tmp_path: Path) -> None:
    done = CliRunner().invoke(
        app,
        ["records", "synthetic", "--kind", "ssd", "--children", "30", "--looked-after", "20", "--out", str(tmp_path)],
    )
    assert done.exit_code == 0, done.output
    assert "30 + 20 made-up children" in done.output
    with zipfile.ZipFile(tmp_path / "ssd_extract_2025.zip") as archive:
        assert {"ssd_person.csv", "ssd_cin_episodes.csv", "ssd_cla_episodes.csv"} <= set(archive.namelist())
