"""The README's SSD example makes the demo county's own children, so a new user following it sees every figure stored
(the same figures the county already has), none contradicting them."""

from __future__ import annotations

import io
import shlex
import zipfile
from itertools import pairwise
from pathlib import Path

import pytest

from cli.demo import RECORDS_CHILDREN, RECORDS_LA, RECORDS_SEED, RECORDS_YEAR, demo_records
from cli.synthetic.ssd import synthetic_ssd
from collectors.records.cin_tables import read_cin_tables
from collectors.records.kept import CIN_FILE, SSDA903_FILE
from collectors.records.ssda903_tables import read_csv_tables
from collectors.ssd.service import make_returns
from collectors.ssd.ssda903 import MADE

ROOT = Path(__file__).resolve().parents[3]
#: The demo county's own files, as ``demo_records`` writes them.
DEMO = {
    "--seed": str(RECORDS_SEED),
    "--children": str(RECORDS_CHILDREN["cin"]),
    "--looked-after": str(RECORDS_CHILDREN["903"]),
    "--la": RECORDS_LA,
    "--year": RECORDS_YEAR,
}


def _examples(path: Path) -> list[dict[str, str]]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if "records synthetic --kind ssd" in line:
            words = shlex.split(line.split("#")[0])
            found.append(dict(pairwise(words)))
    return found


@pytest.mark.parametrize("doc", ["README.md", "docs/records.md"])
def test_the_ssd_example_is_of_the_demo_countys_children(doc: str) -> None:
    (example,) = _examples(ROOT / doc)
    assert {k: example.get(k) for k in DEMO} == DEMO


def test_the_files_made_from_that_extract_are_the_demo_countys_own(tmp_path: Path) -> None:
    path = synthetic_ssd(RECORDS_SEED, RECORDS_CHILDREN["cin"], RECORDS_YEAR, tmp_path / "ssd",
                         looked_after=RECORDS_CHILDREN["903"], la=RECORDS_LA)  # fmt: skip
    made = dict(make_returns(path, path.name, RECORDS_YEAR, "830", max_unpacked=1 << 26).files)
    own_files = dict(demo_records(tmp_path / "own"))
    tables, census_file = own_files["SSDA903 tables"], own_files["CIN census"][0]
    with zipfile.ZipFile(io.BytesIO(made[SSDA903_FILE])) as archive:
        archive.extractall(tmp_path / "made")
    ours, theirs = read_csv_tables(tmp_path / "made"), read_csv_tables(tables[0].parent)
    for name in MADE:
        # The SSD holds no INTERVENTION_OFFERED: the made OC2 writes 0 where DfE's rules ask for it (ssda903_oc2.py).
        held = [c for c in theirs[name].columns if (name, c) != ("OC2", "INTERVENTION_OFFERED")]
        assert ours[name].select(held).equals(theirs[name].select(held)), name
    census, own = read_cin_tables(made[CIN_FILE]), read_cin_tables(census_file.read_bytes())
    assert census["Children"].equals(own["Children"])
