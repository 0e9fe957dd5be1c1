"""A council's child-level returns, declared once: for each, the return it is, its Single Data List line, how the
service tells its kept files, who may send it (a council that owes it) and the lists and tables it feeds; and the
area SEND inspection's List 1 counted in cells, as the burden counts it.

The lines and their names are the Single Data List's own (GOV.UK, *The single data list*, 2022 to 2023 edition,
"Updated 6 May 2022", https://www.gov.uk/government/publications/single-data-list/the-single-data-list, Crown
copyright, OGL v3.0; DfE 087-00 and 088-00 read the same in the 2023 to 2024 edition, "Updated 6 March 2025", whose
stored opening stops before 189-00). The school census's line is read from the 2023 to 2024 edition (GOV.UK, *The
Single Data List*, "Updated 6 March 2025", same address: "School Census DfE 159-00"), as :data:`CENSUS_SOURCE` says.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Where the lines below are read from.
SDL_SOURCE = (
    "The single data list, GOV.UK, 2022 to 2023 edition (updated 6 May 2022): "
    "https://www.gov.uk/government/publications/single-data-list/the-single-data-list"
)

#: Where the school census's line is read from: the 2022 to 2023 edition's stored copy does not reach it.
CENSUS_SOURCE = (
    "The Single Data List, GOV.UK, 2023 to 2024 edition (updated 6 March 2025): "
    "https://www.gov.uk/government/publications/single-data-list/the-single-data-list"
)


@dataclass(frozen=True)
class SdlLine:
    """One line of the Single Data List: its body and reference, and its name as the list prints it."""

    ref: str
    name: str
    #: The edition of the list the line is read from.
    source: str = SDL_SOURCE


#: What a child-level return feeds besides its own return: Ofsted's Annex A (from the CIN census and SSDA903
#: together) and the area SEND inspection's List 1 and DfE's EHC plan tables (from SEN2).
ANNEX_A = "Ofsted's Annex A"
LIST_1 = "the area SEND inspection's List 1"
EHC_TABLES = "DfE's EHC plan tables"
#: What the school census feeds: List 1's school columns (absence, exclusions, pupil premium) and List 2 whole.
LIST_1_SCHOOL = "the area SEND inspection's List 1 school columns"
LIST_2 = "the area SEND inspection's List 2"


@dataclass(frozen=True)
class ChildLevelReturn:
    """One child-level return a council sends as a file of its children: how the service tells its kept files
    (``Submission.source_format``), the return it is, its Single Data List line, how a refusal names it, and what
    the service makes from it besides the return."""

    source_format: str
    return_id: str
    line: SdlLine
    called: str
    feeds: tuple[str, ...]
    #: Whether a council owes it as its own return (the school census is the schools': a council sends what it holds).
    owed: bool = True


#: The one registry of child-level returns, in the order the burden lists them. Who may send a child-level file is
#: read from it (a council that owes one of these returns), as are the return a kept file is for (sign-off), the
#: lists each feeds (the burden, Annex A's pages, a region's members) and the lines the burden names. The SEN2 line
#: keeps the list's own name (SEN2 now counts EHC plans, the statements' successors).
RETURNS: tuple[ChildLevelReturn, ...] = (
    ChildLevelReturn(
        "cin",
        "dfe_cin_census",
        SdlLine("DfE 087-00", "Children in Need Census"),
        "the children in need census",
        (ANNEX_A,),
    ),
    ChildLevelReturn(
        "903",
        "dfe_ssda903",
        SdlLine("DfE 088-00", "Children Looked After (CLA) (SSDA903)"),
        "DfE's children looked after return (SSDA903)",
        (ANNEX_A,),
    ),
    ChildLevelReturn(
        "sen2",
        "dfe_sen2",
        SdlLine("DfE 189-00", "Children with Statements of Special Educational Needs (SEN2)"),
        "DfE's SEN2 survey",
        (LIST_1, EHC_TABLES),
    ),
    # The school census is DfE's collection from schools: a council sends the service its schools' returns as it
    # holds them (COLLECT's blade CSVs), kept minimised (``collectors.census``); no council owes it as a return.
    ChildLevelReturn(
        "census",
        "dfe_school_census",
        SdlLine("DfE 159-00", "School Census", CENSUS_SOURCE),
        "DfE's school census",
        (LIST_1_SCHOOL, LIST_2),
        owed=False,
    ),
)
#: Each child-level return by the ``source_format`` of its kept files.
BY_FORMAT: dict[str, ChildLevelReturn] = {r.source_format: r for r in RETURNS}
#: Every child-level return a council owes, by id: a council owing one of them sends children's records.
RETURN_IDS: tuple[str, ...] = tuple(r.return_id for r in RETURNS if r.owed)


def feeding(what: str) -> tuple[str, ...]:
    """The ids of the child-level returns that feed ``what`` (``ANNEX_A``, ``LIST_1``, ``EHC_TABLES``)."""
    return tuple(r.return_id for r in RETURNS if what in r.feeds)


#: The returns Annex A is built from: a council that returns neither has no Annex A.
ANNEX_A_RETURNS = feeding(ANNEX_A)


def return_of(source_format: str) -> str | None:
    """The return a kept child-level file is for, by its ``source_format``; None for a file of no child-level
    return (an SSD extract's own rows, Annex A's columns)."""
    found = BY_FORMAT.get(source_format)
    return found.return_id if found is not None else None


def named(return_ids: tuple[str, ...] | list[str] | set[str]) -> str:
    """The returns as a refusal names them, in the registry's order, the last joined with "or"."""
    called = [r.called for r in RETURNS if r.return_id in return_ids]
    return called[0] if len(called) == 1 else f"{', '.join(called[:-1])} or {called[-1]}"


@dataclass(frozen=True)
class List1Cells:
    """A council's List 1 (children with an EHC plan) as at a date in child-level cells (rows times columns), each
    counted as filled from a source only where that source filled it: those its SEN2 file fills, those its CIN census
    and SSDA903 records fill (known to social care where either is kept, the team, disability), and those it keys
    (the columns no record it sends holds, and every cell no source filled), the cells that cannot apply left out; and
    the items of the SEN2 file."""

    on: str
    sen2_items: int
    cells: int
    from_sen2: int
    from_care_records: int
    keyed: int
    #: The blank cells that cannot apply to their child (a ULN beside a UPN, a second school's phase for a child with
    #: none, a team for a child not known to social care), left out of ``cells``.
    not_applying: int = 0
    #: The cells its school census fills (the four school columns, and the schools where SEN2 has none).
    from_census: int = 0
    #: Its List 2 (children on SEN support) counted alike, where a school census is kept for the date.
    list2: List2Cells | None = None


@dataclass(frozen=True)
class List2Cells:
    """A council's List 2 (children on SEN support) as at a date in child-level cells: those its school census fills,
    those its CIN census and SSDA903 records fill, and those it keys, the cells that cannot apply left out."""

    cells: int
    from_census: int
    from_care_records: int
    keyed: int
    not_applying: int = 0
