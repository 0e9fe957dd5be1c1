"""A council's child-level returns as the burden counts them: the Single Data List line each is, and the area SEND
inspection's List 1 counted in cells.

The lines and their names are the Single Data List's own (GOV.UK, *The single data list*, 2022 to 2023 edition,
"Updated 6 May 2022", https://www.gov.uk/government/publications/single-data-list/the-single-data-list, Crown
copyright, OGL v3.0; DfE 087-00 and 088-00 read the same in the 2023 to 2024 edition, "Updated 6 March 2025", whose
stored opening stops before 189-00).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Where the lines below are read from.
SDL_SOURCE = (
    "The single data list, GOV.UK, 2022 to 2023 edition (updated 6 May 2022): "
    "https://www.gov.uk/government/publications/single-data-list/the-single-data-list"
)


@dataclass(frozen=True)
class SdlLine:
    """One line of the Single Data List: its body and reference, its name as the list prints it, and the service's
    returns it fills from the council's record-level file."""

    ref: str
    name: str
    returns: tuple[str, ...]


#: The record-level files the service reads, by their ``Submission.source_format``, and the Single Data List line each
#: is. The SEN2 line keeps the list's own name (SEN2 now counts EHC plans, the statements' successors).
LINES: dict[str, SdlLine] = {
    "cin": SdlLine("DfE 087-00", "Children in Need Census", ("dfe_cin_census",)),
    "903": SdlLine("DfE 088-00", "Children Looked After (CLA) (SSDA903)", ("dfe_ssda903",)),
    "sen2": SdlLine("DfE 189-00", "Children with Statements of Special Educational Needs (SEN2)", ("dfe_sen2",)),
}


@dataclass(frozen=True)
class List1Cells:
    """A council's List 1 (children with an EHC plan) as at a date in child-level cells (rows times columns), each
    counted as filled from a source only where that source filled it: those its SEN2 file fills, those its CIN census
    and SSDA903 records fill (known to social care where either is kept, the team, disability), and those it keys
    (the columns no record it sends holds, and every cell no source filled); and the items of the SEN2 file."""

    on: str
    sen2_items: int
    cells: int
    from_sen2: int
    from_care_records: int
    keyed: int
