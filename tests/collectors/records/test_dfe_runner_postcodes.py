"""DfE's 903 rules hold only the postcodes a return's episodes name, where the library alone holds every postcode of
each first letter it asks for, and find the same distances and the same problems as the library left alone. DfE's
libraries run for real here."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cli.synthetic.england import write_england
from collectors.records import contract
from collectors.records.contract import validators_python

# The library called directly, with its own postcode table: each episode's distance, the problems it found, and how
# many postcodes it held.
DIRECT = """
import importlib, json, sys
from lac_validator import datastore, lac_validator
paths, la = sys.argv[1:-1], sys.argv[-1]
registry = importlib.import_module("lac_validator.rules.lac2024_25").registry
files = [dict(name=p.rsplit("/", 1)[-1], description="This year", file_content=open(p, "rb").read()) for p in paths]
v = lac_validator.LacValidator(metadata={"collectionYear": "2025", "localAuthority": la}, files=files, registry=registry)
found = sorted(
    [table, column[4:], int(row)]
    for table, frame in v.ds_results.items() if table != "metadata"
    for column in frame.columns if str(column).startswith("ERR_")
    for row in frame.index[frame[column] == True]
)
distances = [None if d != d else float(d) for d in v.ds_results["Episodes"]["PL_DISTANCE"]]
print(json.dumps({"distances": distances, "found": found, "held": len(datastore.postcodes.dataframe)}))
"""


def _direct(paths: list[Path], la: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(validators_python()), "-c", DIRECT, *map(str, paths), la], capture_output=True, check=True, timeout=300
    )
    answer: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return answer


def _runner(paths: list[Path], la: str) -> dict[str, Any]:
    request = {
        "contract": contract.CONTRACT,
        "action": "validate",
        "library": "903",
        "ruleset": "lac2024_25",
        "local_authority": la,
        "files": [{"name": p.name, "path": str(p)} for p in paths],
    }
    return contract._call(request, timeout_s=None, memory_mib=None)


def _written_oddly(episodes: Path) -> set[str]:
    """Write some of the episodes' postcodes as a council might (lower case, without the space, one unknown, one
    blank) and return every postcode they name, as DfE's library looks them up (upper case, no spaces)."""
    rows = list(csv.DictReader(io.StringIO(episodes.read_text())))
    for i, row in enumerate(rows):
        if i % 4 == 1:
            row["HOME_POST"] = row["HOME_POST"].lower()
        elif i % 4 == 2:
            row["PL_POST"] = row["PL_POST"].replace(" ", "")
    rows[0]["PL_POST"] = "ZZ99 9ZZ"
    rows[-1]["HOME_POST"] = ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    episodes.write_text(out.getvalue())
    return {r[c].upper().replace(" ", "") for r in rows for c in ("HOME_POST", "PL_POST") if r[c]}


@pytest.fixture(scope="module")
def council(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], str, set[str]]:
    """Hartlepool's made-up 903 tables (real postcodes, the first council in DfE's order), some postcodes written
    oddly; its council code, and the postcodes its episodes name."""
    folder = tmp_path_factory.mktemp("england")
    first = write_england(folder, scale=0.05, councils=1)[0]
    tables = folder / f"{first.code}-{first.lea}" / "ssda903"
    named = _written_oddly(tables / "episodes.csv")
    return sorted(tables.glob("*.csv")), first.code, named


def test_the_903_rules_hold_only_the_postcodes_named(council: tuple[list[Path], str, set[str]]) -> None:
    paths, la, named = council
    answer, direct = _runner(paths, la), _direct(paths, la)
    assert 0 < answer["postcodes_held"] <= len(named)
    # The library alone holds every postcode of each letter asked for: tens of thousands.
    assert direct["held"] > 100 * len(named)
    # The same distance for every episode, found for most, and none for the unknown postcode or the blank one.
    assert answer["episode_distances"] == direct["distances"]
    assert sum(d is not None for d in direct["distances"]) > len(direct["distances"]) / 2
    assert direct["distances"][0] is None
    assert direct["distances"][-1] is None
    # The same problems, row by row.
    assert sorted([f["table"], f["rule"], f["row"]] for f in answer["findings"]) == direct["found"]
