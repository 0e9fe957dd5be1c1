"""The README's counts of what `./run serve` loads (indicators, returns, fields, org units) are what it loads."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine

from mappings.geography import load_geography
from mappings.service import load_bundled
from onereturn import db

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readmes_counts_are_what_the_service_loads(store: Engine) -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    catalogue = re.search(r"loads the catalogue \((\d+) indicators, (\d+) returns, (\d+) fields", text)
    geography = re.search(r"the English geography \((\d+) org units\)", text)
    in_all = re.search(r"\((\d+) org units in all", text)
    assert catalogue, "the README no longer says what the catalogue holds"
    assert geography, "the README no longer says how many org units the geography holds"
    assert in_all, "the README no longer says how many org units the service loads in all"
    with db.session_scope(store) as session:
        counts = load_bundled(session)
    said = {
        "indicators": int(catalogue[1]),
        "returns": int(catalogue[2]),
        "fields": int(catalogue[3]),
        "org_units": int(in_all[1]),
    }
    assert said == {k: counts[k] for k in said}
    assert int(geography[1]) == len(load_geography().org_units)
