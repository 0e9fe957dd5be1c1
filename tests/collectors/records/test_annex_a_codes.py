"""Ofsted's Annex A code lists against the codes DfE's own rules accept each collection year (2022-23 to 2026-27):
every code a year's CIN census or SSDA903 rules accept for a coded column has Ofsted's code, is one Ofsted asks to
be left blank, or is named as one no source gives Ofsted's code for; and no DfE code is ever written bare."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from functools import cache
from pathlib import Path

import polars as pl
import pytest

from collectors.annex_a.build import present
from collectors.annex_a.common import Window, children
from collectors.records.contract import validators_python
from mappings.annex_a import load_layout

SCRIPT = Path(__file__).with_name("dfe_code_lists.py")

#: (library, rule, the layout's code list, how the builder reads the DfE code before coding it).
CHECKS = [
    ("cin", "4180", "gender", None),
    ("cin", "4220", "ethnicity", None),
    ("cin", "8640", "reason_for_closure", None),
    ("cin", "8650", "primary_need", None),
    ("cin", "8866", "referral_source", None),
    ("cin", "8905", "abuse", None),
    ("cin", "8910", "abuse", None),
    ("903", "101", "gender", None),
    ("903", "103", "ethnicity", None),
    ("903", "120", "reason_no_longer_adoption", None),
    ("903", "131", "in_touch", None),
    ("903", "132", "activity", None),
    ("903", "133", "accommodation", 0),  # the first character of ACCOM
    ("903", "133", "suitability", 1),  # its second: 1 suitable, 2 unsuitable
    ("903", "144", "legal_status", None),
    ("903", "145", "category_of_need", None),
    ("903", "146", "placement_type", None),
    ("903", "149", "reason_ceased", None),
    ("903", "178", "placement_provider", None),
]


@cache
def dfe_code_lists() -> dict[str, dict[str, dict[str, list[str]]]]:
    """Every year's code lists, read from DfE's rules in their own environment."""
    try:
        python = validators_python()
    except Exception as exc:  # the validators' environment is part of `./run setup`
        pytest.fail(f"DfE's rules are not installed: {exc}")
    done = subprocess.run([str(python), str(SCRIPT)], capture_output=True, text=True, timeout=120, check=True)
    lists: dict[str, dict[str, dict[str, list[str]]]] = json.loads(done.stdout)
    return lists


def _accepted(library: str, year: str, rule: str, part: int | None) -> set[str]:
    codes = dfe_code_lists()[library][year][rule]
    if part is None:
        return {c.strip().upper() for c in codes}
    # ACCOM 0 ("not in touch") has no second character: it is the accommodation's to leave blank.
    return {c[part].upper() for c in codes if len(c) > part}


YEARS = ["2022-23", "2023-24", "2024-25", "2025-26", "2026-27"]


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize(("library", "rule", "codes", "part"), CHECKS, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CHECKS])
def test_every_code_dfe_accepts_has_ofsteds_code(
    library: str, rule: str, codes: str, part: int | None, year: str
) -> None:
    layout = load_layout()
    accepted = _accepted(library, year, rule, part)
    assert accepted, f"{library} rule {rule} accepts nothing in {year}: its list was not read"
    set_aside = set(layout.blank.get(codes, {})) | set(layout.unsourced.get(codes, {}))
    lacking = sorted(c for c in accepted - set_aside if layout.ofsted_code(codes, c) is None)
    assert not lacking, f"{year} {library} rule {rule}: no Ofsted code in {codes!r} for {lacking}"


@pytest.mark.parametrize("codes", sorted({c[2] for c in CHECKS}))
def test_every_mapped_or_set_aside_code_is_one_dfe_accepts_in_some_year(codes: str) -> None:
    layout = load_layout()
    accepted: set[str] = set()
    for library, rule, name, part in CHECKS:
        if name == codes:
            for year in YEARS:
                accepted |= _accepted(library, year, rule, part)
    # F3 and P3 are Ofsted's [G] codes for records older than 2022-23, the first year the rules here cover.
    older = {"F3", "P3"} if codes == "activity" else set()
    held = set(layout.codes[codes]) | set(layout.blank.get(codes, {})) | set(layout.unsourced.get(codes, {}))
    assert held - accepted - older == set(), f"{codes!r} maps codes no year's rules accept"


def test_a_code_ofsted_has_none_for_is_left_blank_and_counted_never_written_bare() -> None:
    layout = load_layout()
    leavers, placed = layout.list(9), layout.list(8)
    rows = pl.DataFrame(
        {
            "CHILD": ["a", "b", "c", "d"],
            "child_id": ["a", "b", "c", "d"],
            "gender": ["M", "F", "U", "2"],
            "activity": ["F5", "0", "p5", None],
            "accommodation": ["B", "0", "Z", None],
            "accommodation_suitable": ["1", "", "2", None],
            "placement_type": ["U1", "K3", "Z11", "K3"],
        }
    )
    notes: list[str] = []
    nine = present(rows, leavers, layout, notes)
    column = {c.heading: f"c{i}" for i, c in enumerate(leavers.columns)}
    assert nine[column["Gender"]].to_list() == ["a) Male", "b) Female", "c) Not stated/recorded", "b) Female"]
    assert nine[column["Activity Status"]].to_list() == [
        "F5: Young person engaged full time in training or employment (not apprenticeship)",
        None,  # [G] "Leave Blank if the LA is not in touch"
        "P5: Young person engaged part time in training or employment (not apprenticeship)",
        None,
    ]
    assert nine[column["Type of Accommodation"]].to_list() == [
        "B: Parents/relatives",
        None,
        "Z: With former foster carers",
        None,
    ]
    assert nine[column["Suitability of Accommodation"]].to_list() == ["a) Suitable", None, "b) Unsuitable", None]
    assert notes == []  # "not in touch" is Ofsted's blank, not a code lacking
    eight = present(rows, placed, layout, notes)
    column = {c.heading: f"c{i}" for i, c in enumerate(placed.columns)}
    assert eight[column["Placement Type"]].to_list() == [
        "a) U1: Foster placement - relatives - long term",
        None,
        None,
        None,
    ]
    assert notes == [
        "List 8 Placement Type: 3 cell(s) left blank, their DfE code(s) (K3, Z11) having no Ofsted code in any source "
        "held; write them by hand."
    ]


def test_the_note_on_a_code_ofsted_lacks_names_no_child() -> None:
    layout = load_layout()
    notes: list[str] = []
    rows = pl.DataFrame({"CHILD": ["secret-child-1"], "child_id": ["secret-child-1"], "placement_type": ["Z12"]})
    present(rows, layout.list(8), layout, notes)
    assert notes
    assert "secret-child-1" not in notes[0]


@pytest.mark.parametrize("year", YEARS)
def test_every_disability_code_dfe_accepts_is_ofsteds_yes_and_none_its_no(year: str) -> None:
    layout = load_layout()
    codes = dfe_code_lists()["cin"][year]["8540"]
    assert "NONE" in codes
    ids = [f"child{i}" for i in range(len(codes))]
    cin = {
        "Children": pl.DataFrame(
            {
                "CHILD": ids,
                "Sex": ["U"] * len(ids),
                "Ethnicity": ["NOBT"] * len(ids),
                "PersonBirthDate": [date(2015, 1, 1)] * len(ids),
                "ExpectedPersonBirthDate": [None] * len(ids),
            },
            schema_overrides={"ExpectedPersonBirthDate": pl.Date},
        ),
        "Disabilities": pl.DataFrame({"CHILD": ids, "Disability": codes}),
    }
    kids = children(cin, None, Window(date(2025, 3, 31)), prefer="cin")
    said = dict(zip(kids["child_id"].to_list(), kids["disability"].to_list(), strict=True))
    ofsted = {code: layout.ofsted_code("yes_no_unknown", said[child]) for child, code in zip(ids, codes, strict=True)}
    assert ofsted == {code: ("b) No" if code == "NONE" else "a) Yes") for code in codes}
