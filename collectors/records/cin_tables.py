"""The CIN census XML of one council read into polars tables, one per repeating block of the file.

Element names are DfE's (the CIN census XSD, ``CIN_schema_2024.xsd``): each ``Child`` holds
``ChildIdentifiers``, ``ChildCharacteristics`` (with ``Disabilities``) and one ``CINdetails`` per
episode of need, which holds ``Assessments``, ``CINPlanDates``, ``Section47`` and
``ChildProtectionPlans`` (each plan with its ``Reviews``). Every table keeps ``CHILD`` (the
LAchildID), ``_episode`` (0-based position of the CINdetails within its child), and ``_row`` (0-based
position in the table), so a figure can name the records behind it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import polars as pl

from collectors.records.safexml import check_bounded, parse_bounded
from onereturn.errors import InvalidInput
from onereturn.memory import collector_off

#: A census of a large county is a few megabytes; anything far larger is refused unread.
MAX_BYTES = 200 * 1024 * 1024
#: The census nests six levels below the root; far deeper nesting is not a census.
MAX_DEPTH = 12

#: The child's sex: DfE's rules read ``GenderCurrent`` (the 2024 XSD) or the newer ``Sex``.
SEX_ELEMENTS = ("Sex", "GenderCurrent")

#: Each table's columns, beyond CHILD, _episode and _row; the leaf elements read, in XSD order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "Children": ("UPN", "PersonBirthDate", "ExpectedPersonBirthDate", "Sex", "PersonDeathDate", "Ethnicity"),
    "Disabilities": ("Disability",),
    "CINdetails": (
        "CINreferralDate",
        "ReferralSource",
        "PrimaryNeedCode",
        "CINclosureDate",
        "ReasonForClosure",
        "DateOfInitialCPC",
        "ReferralNFA",
    ),
    "Assessments": ("AssessmentActualStartDate", "AssessmentInternalReviewDate", "AssessmentAuthorisationDate"),
    "CINPlanDates": ("CINPlanStartDate", "CINPlanEndDate"),
    "Section47": ("S47ActualStartDate", "InitialCPCtarget", "DateOfInitialCPC", "ICPCnotRequired"),
    "ChildProtectionPlans": (
        "CPPstartDate",
        "CPPendDate",
        "InitialCategoryOfAbuse",
        "LatestCategoryOfAbuse",
        "NumberOfPreviousCPP",
    ),
    "Reviews": ("CPPreviewDate",),
}
#: Columns that are dates (``xs:date``, written yyyy-mm-dd).
DATE_COLUMNS = frozenset(
    c for cols in COLUMNS.values() for c in cols if c.endswith("Date") or c in ("DateOfInitialCPC", "InitialCPCtarget")
)
#: Columns of DfE's yes/no type, which allows true/false in either case and 1/0.
YES_NO_COLUMNS = frozenset({"ReferralNFA", "ICPCnotRequired"})
#: Each spelling of DfE's yes/no type (``yesnotype``, the catalogue's ``cin_yes_no`` code list) and its meaning.
YES_NO_CODES: dict[str, bool] = {"true": True, "TRUE": True, "1": True, "false": False, "FALSE": False, "0": False}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(parent: ET.Element, name: str) -> str | None:
    child = parent.find(name)
    return None if child is None else (child.text or "").strip() or None


def _leaves(parent: ET.Element, names: tuple[str, ...]) -> dict[str, str | int | None]:
    """The text of each named child of ``parent`` (its first, stripped; None when absent or blank), read in one pass
    over the children rather than one pass per name."""
    found: dict[str, str | None] = {}
    for child in parent:
        name = child.tag
        if name not in found:
            found[name] = (child.text or "").strip() or None
    return {name: found.get(name) for name in names}


def _children_of(parent: ET.Element, name: str) -> list[ET.Element]:
    return parent.findall(name)


def check_cin_xml(data: bytes) -> None:
    """Refuse a CIN census file that :func:`parse_cin_xml` would refuse as unsafe or malformed, without its tree."""
    check_bounded(data, "the CIN census file", max_bytes=MAX_BYTES, max_depth=MAX_DEPTH)


def parse_cin_xml(data: bytes) -> ET.Element:
    """Parse a CIN census file, refusing DOCTYPEs, entities, oversized and over-deep documents; every element is
    named by its local name (its namespace, where the file declares one, dropped)."""
    root = parse_bounded(data, "the CIN census file", max_bytes=MAX_BYTES, max_depth=MAX_DEPTH)
    # Named once here, so each lookup below is ElementTree's own by exact name rather than a Python comparison of
    # every child's local name (the most of reading a census once its tree is built).
    for element in root.iter():
        if "}" in element.tag:
            element.tag = _local(element.tag)
    if _local(root.tag) != "Message":
        raise InvalidInput(f"the CIN census file's root element is {_local(root.tag)}, not Message")
    return root


def _frame(name: str, rows: list[dict[str, str | int | None]]) -> pl.DataFrame:
    schema: dict[str, type[pl.DataType]] = {"CHILD": pl.String, "_episode": pl.Int64}
    if name == "Reviews":
        schema["_plan"] = pl.Int64
    schema.update(dict.fromkeys(COLUMNS[name], pl.String))
    frame = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    return frame.with_row_index("_row")


#: What each typed column must be, as the refusal says it.
_KIND = {
    **dict.fromkeys(DATE_COLUMNS, "a date (yyyy-mm-dd)"),
    **dict.fromkeys(YES_NO_COLUMNS, "yes or no (true, false, 1 or 0)"),
    "NumberOfPreviousCPP": "a whole number",
}


def _typed(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    casts: list[pl.Expr] = []
    for column in COLUMNS[name]:
        if column in DATE_COLUMNS:
            casts.append(pl.col(column).str.to_date("%Y-%m-%d", strict=False))
        elif column in YES_NO_COLUMNS:
            casts.append(pl.col(column).replace_strict(YES_NO_CODES, default=None, return_dtype=pl.Boolean))
        elif column == "NumberOfPreviousCPP":
            casts.append(pl.col(column).cast(pl.Int64, strict=False))
    typed = frame.with_columns(casts) if casts else frame
    for column in COLUMNS[name]:
        if typed.schema[column] != pl.String:
            # A value the cast could not read would silently drop a child from every count.
            unread = frame.filter(pl.col(column).is_not_null() & typed[column].is_null())
            if unread.height:
                first = unread.row(0, named=True)
                # The value is a child's (a birth date, a referral date): the message names where, never what.
                raise InvalidInput(
                    f"CIN census {name} record {first['_row'] + 1}: {column} cannot be read as "
                    f"{_KIND.get(column, 'its type')} ({unread.height} such values in {name})"
                )
    return typed


def read_cin_tables(data: bytes) -> dict[str, pl.DataFrame]:
    """Read a CIN census XML file into its tables (see :data:`COLUMNS`), dates and yes/no typed."""
    root = parse_cin_xml(data)
    # The rows are no garbage either: the collector is held off while they are made, as while the tree was.
    with collector_off():
        rows = _rows(root)
    return {name: _typed(name, _frame(name, found)) for name, found in rows.items()}


def _rows(root: ET.Element) -> dict[str, list[dict[str, str | int | None]]]:
    """Each table's rows as the census's elements give them, one dict a row."""
    rows: dict[str, list[dict[str, str | int | None]]] = {name: [] for name in COLUMNS}
    for children in _children_of(root, "Children"):
        for child in _children_of(children, "Child"):
            ids = next(iter(_children_of(child, "ChildIdentifiers")), None)
            chars = next(iter(_children_of(child, "ChildCharacteristics")), None)
            la_id = _text(ids, "LAchildID") if ids is not None else None
            if la_id is None:
                raise InvalidInput(f"CIN census child {len(rows['Children']) + 1} has no LAchildID")
            sex = next((s for e in SEX_ELEMENTS if ids is not None and (s := _text(ids, e)) is not None), None)
            record: dict[str, str | int | None] = {"CHILD": la_id, "_episode": None}
            for column in COLUMNS["Children"]:
                source = chars if column == "Ethnicity" else ids
                record[column] = sex if column == "Sex" else (_text(source, column) if source is not None else None)
            rows["Children"].append(record)
            if chars is not None:
                for block in _children_of(chars, "Disabilities"):
                    for disability in _children_of(block, "Disability"):
                        rows["Disabilities"].append(
                            {"CHILD": la_id, "_episode": None, "Disability": (disability.text or "").strip() or None}
                        )
            for episode, details in enumerate(_children_of(child, "CINdetails")):
                base: dict[str, str | int | None] = {"CHILD": la_id, "_episode": episode}
                rows["CINdetails"].append(base | _leaves(details, COLUMNS["CINdetails"]))
                for table in ("Assessments", "CINPlanDates", "Section47"):
                    for block in _children_of(details, table):
                        rows[table].append(base | _leaves(block, COLUMNS[table]))
                for plan in _children_of(details, "ChildProtectionPlans"):
                    plan_no = len(rows["ChildProtectionPlans"])
                    rows["ChildProtectionPlans"].append(base | _leaves(plan, COLUMNS["ChildProtectionPlans"]))
                    for reviews in _children_of(plan, "Reviews"):
                        for review in _children_of(reviews, "CPPreviewDate"):
                            text = (review.text or "").strip() or None
                            rows["Reviews"].append(base | {"_plan": plan_no, "CPPreviewDate": text})
    return rows


def collection_year_of(data: bytes) -> int | None:
    """The year the file's header names (``Header/CollectionDetails/Year``), if it names one."""
    root = parse_cin_xml(data)
    for header in _children_of(root, "Header"):
        for details in _children_of(header, "CollectionDetails"):
            year = _text(details, "Year")
            if year is not None and year.isdigit():
                return int(year)
    return None
