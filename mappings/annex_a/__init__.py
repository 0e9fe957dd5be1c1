"""Ofsted's Annex A layouts as data: the lists, their headings in order, windows, grains and code lists.

Each layout is a TOML file beside this module (``ofsted_annex_a_2024.toml``), citing Ofsted's guidance and the
layout it follows; a later layout is a new file. A column with a ``field`` is filled from the council's records;
one without is the council's to fill, with the reason no return holds it.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from onereturn.errors import NotFound

FOLDER = Path(__file__).resolve().parent
#: The layout built when none is named: the newest Ofsted layout held.
CURRENT = "ofsted_annex_a_2024"


@dataclass(frozen=True)
class Column:
    """One heading of a list: what fills it from the records (``field``), or why nothing does (``why``)."""

    heading: str
    field: str | None
    kind: str  # text | date | int
    codes: str | None
    why: str


@dataclass(frozen=True)
class AnnexList:
    """One of Ofsted's lists: its sheet, definition, window, grain and columns."""

    number: int
    sheet: str
    title: str
    definition: str
    source: str
    window_months: int | None
    grain: str
    records: str  # cin | 903 | none
    why: str
    columns: tuple[Column, ...]

    @property
    def filled(self) -> list[str]:
        """The headings the records fill."""
        return [c.heading for c in self.columns if c.field is not None]

    @property
    def blank(self) -> list[Column]:
        """The columns no return holds, left to the council."""
        return [c for c in self.columns if c.field is None]


@dataclass(frozen=True)
class Layout:
    """One Ofsted Annex A layout: its lists in order and its code lists (DfE code -> Ofsted's preferred code)."""

    id: str
    title: str
    year: int
    edition: str
    front_sheet: str
    unborn_age: int
    sources: tuple[str, ...]
    lists: tuple[AnnexList, ...]
    codes: dict[str, dict[str, str]]
    code_sources: dict[str, str]
    #: Per code list, the DfE codes Ofsted asks to be left blank ("not in touch" 0), and why.
    blank: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    #: Per code list, the DfE codes no source held gives Ofsted's code for (left blank and counted), and why.
    unsourced: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    def ofsted_code(self, codes: str, value: str) -> str | None:
        """Ofsted's code for a DfE code of the list ``codes`` (its case and spaces aside), or None: never DfE's."""
        mapping = self.codes[codes]
        found = mapping.get(value)
        return found if found is not None else mapping.get(value.strip().upper())

    def list(self, number: int) -> AnnexList:
        """The list of that number."""
        return next(item for item in self.lists if item.number == number)


@dataclass(frozen=True)
class AnnexCells:
    """A council's Annex A counted in child-level cells (rows times columns, Lists 1 to 10) as at a date: those its
    CIN census and SSDA903 records fill, those its SSD extract fills (each only where it wrote a value), and those it
    keys (in its columns file or by hand in the workbook: every other cell). List 11 (adopters) is in no record and
    has no rows the service can count."""

    on: str
    cells: int
    from_records: int
    from_extract: int
    keyed: int


def _column(raw: dict[str, str]) -> Column:
    kind = raw.get("kind", "text")
    if kind not in ("text", "date", "int"):
        raise ValueError(f"Annex A column {raw['heading']!r}: kind {kind!r} is not text, date or int")
    field = raw.get("field")
    why = raw.get("why", "")
    return Column(raw["heading"], field, kind, raw.get("codes"), why)


@cache
def load_layout(layout_id: str = CURRENT) -> Layout:
    """Read one Annex A layout from its TOML file (checked: every code list named exists, headings unique per list)."""
    path = FOLDER / f"{layout_id}.toml"
    if not path.is_file():
        raise NotFound(f"Annex A layout {layout_id!r} is not held")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    head = data["layout"]
    codes = {name: dict(spec["values"]) for name, spec in data["codes"].items()}
    lists = []
    for raw in data["lists"]:
        columns = tuple(_column(c) for c in raw["columns"])
        headings = [c.heading for c in columns]
        if len(set(headings)) != len(headings):
            raise ValueError(f"Annex A list {raw['number']}: a heading repeats")
        for column in columns:
            if column.codes is not None and column.codes not in codes:
                raise ValueError(
                    f"Annex A list {raw['number']}: {column.heading!r} names no code list {column.codes!r}"
                )
        lists.append(
            AnnexList(
                number=raw["number"],
                sheet=raw["sheet"],
                title=raw["title"],
                definition=raw["definition"],
                source=raw["source"],
                window_months=raw.get("window_months"),
                grain=raw["grain"],
                records=raw["records"],
                why=raw.get("why", ""),
                columns=columns,
            )
        )
    return Layout(
        id=head["id"],
        title=head["title"],
        year=head["year"],
        edition=head["edition"],
        front_sheet=head["front_sheet"],
        unborn_age=head["unborn_age"],
        sources=tuple(head["sources"]),
        lists=tuple(lists),
        codes=codes,
        code_sources={name: spec["source"] for name, spec in data["codes"].items()},
        blank=_set_aside(data["codes"], "blank"),
        unsourced=_set_aside(data["codes"], "unsourced"),
    )


def _set_aside(specs: dict[str, dict[str, object]], key: str) -> dict[str, dict[str, str]]:
    """The codes a code list sets aside under ``key`` (``blank`` or ``unsourced``), each with the list's why."""
    found: dict[str, dict[str, str]] = {}
    for name, spec in specs.items():
        listed = spec.get(key, [])
        why = spec.get(f"{key}_why", "")
        if not isinstance(listed, list) or not isinstance(why, str) or (listed and not why):
            raise ValueError(f"Annex A code list {name!r}: {key} needs a list of codes and {key}_why")
        clash = [c for c in listed if c in dict(spec["values"])]  # type: ignore[call-overload]
        if clash:
            raise ValueError(f"Annex A code list {name!r}: {', '.join(clash)} both mapped and set aside")
        if listed:
            found[name] = {str(code): why for code in listed}
    return found
