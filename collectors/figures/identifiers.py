"""What in a file of figures' free text looks like a child's identifier: a file of figures carries counts, never a
child, so a note (or a column the service does not read) holding one refuses the file whole, each place named by
row, column and the kind of identifier, never by its value.

The kinds, and where each is defined:

- a UPN: DfE's 13 characters, a check letter then twelve digits, the letter the weighted sum of the digits (weights
  2 to 13) modulo 23 read from ``ABCDEFGHJKLMNPQRTUVWXYZ``, as DfE's CIN census rule 1510 computes it (the
  ``cin_validator`` package's ``rule_1510.py``, citing DfE's UPN guide 1.2);
- a ULN: ten digits, the first not 0, as the Unique Learner Number of the service's corrected SEN2 schema
  (``collectors/sen2/schemas/``, ``uniquelearnernumbertype``). An NHS number is ten digits too and is caught by
  this shape; its own modulus-11 check is not applied (no stored source gives it);
- a full birth date beside a name: a date with day, month and year straight after two capitalised words that are
  not a month or a day of the week (a comma, "born" or "DOB" between them at most).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl

from collectors.checks.checked import problem_frame

_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN = re.compile(r"(?<![A-Za-z0-9])([A-Z])([0-9]{12})(?![A-Za-z0-9])")
_TEN_DIGITS = re.compile(r"(?<![0-9])[1-9][0-9]{9}(?![0-9])")
_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_DATE = (
    r"(?:[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2}"
    rf"|[0-9]{{1,2}}(?:st|nd|rd|th)? (?:{_MONTHS}) [0-9]{{4}})(?![0-9])"
)
_WORD = r"[A-Z][a-z'’-]+"
#: Two capitalised words, then the date at once (a comma, "born" or "DOB" between them at most).
_NAMED_DATE = re.compile(rf"\b({_WORD}) ({_WORD})[\s,;:()-]*(?:(?i:born|b\.|dob|d\.o\.b\.?)[\s:]*)?(?<![0-9]){_DATE}")
_NOT_NAMES = frozenset(f"{_MONTHS}|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday".lower().split("|"))
#: A quick test a text must pass before the checks above are asked of it: four digits together are in every kind (a
#: UPN's twelve, a ULN's ten, a date's year).
_ANY = r"[0-9]{4}"

UPN = "a UPN (13 characters with its check letter)"
ULN = "a ULN or NHS number (ten digits)"
BIRTH_DATE = "a full date beside a name"


def upn_check_letter(digits: str) -> str:
    """The check letter of a UPN's twelve digits (DfE's CIN census rule 1510)."""
    return _UPN_LETTERS[sum(int(d) * w for w, d in zip(range(2, 14), digits, strict=True)) % 23]


def _named(text: str) -> bool:
    return any(a.lower() not in _NOT_NAMES and b.lower() not in _NOT_NAMES for a, b in _NAMED_DATE.findall(text))


def kinds_in(text: str) -> list[str]:
    """The kinds of child's identifier ``text`` seems to hold (none quoted)."""
    kinds = []
    if any(upn_check_letter(digits) == letter for letter, digits in _UPN.findall(text)):
        kinds.append(UPN)
    if _TEN_DIGITS.search(text):
        kinds.append(ULN)
    if _named(text):
        kinds.append(BIRTH_DATE)
    return kinds


def identifier_problems(raw: pl.DataFrame, columns: Iterable[str]) -> pl.DataFrame:
    """An error at each row and column of ``columns`` whose text seems to hold a child's identifier: the kind named,
    the value never given (the problem's ``value`` is empty)."""
    found: list[dict[str, object]] = []
    for column in columns:
        cells = raw.select("row", pl.col(column).cast(pl.String).alias("text")).filter(
            pl.col("text").str.contains(_ANY)
        )
        for row, text in cells.iter_rows():
            for kind in kinds_in(text):
                found.append(
                    {
                        "row": row,
                        "column": column,
                        "value": None,
                        "rule": "child-identifier",
                        "severity": "error",
                        "message": f"this cell seems to hold {kind}; a file of figures carries no child's identifier: "
                        "take it out and upload the file again",
                    }
                )
    return problem_frame(found)


def first_in_sheet(frame: pl.DataFrame) -> tuple[int, int, str] | None:
    """The first cell of a sheet read whole as text (row 1 its first) that seems to hold a child's identifier: its row,
    its column (1 for A) and the kind; None when none does."""
    for number, column in enumerate(frame.columns, start=1):
        cells = frame.select(pl.col(column).cast(pl.String)).with_row_index("at", offset=1)
        for at, text in cells.filter(pl.col(column).str.contains(_ANY)).iter_rows():
            kinds = kinds_in(text)
            if kinds:
                return at, number, kinds[0]
    return None
