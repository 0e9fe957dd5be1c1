"""Public sources as data: the register of documents the catalogue cites, and the checks on citations.

Every return, field, indicator, code list and deadline rule cites at least one public document
(publisher, title, year or version, link) with the section or table it relies on. A fact with no
public source cites the register's ``own_reading`` entry instead, so it is shown and counted as the
service's own reading rather than passed off as a published fact. A citation of an internal working
document (a "seed" paper, a local file path) is refused: users must be able to open what is cited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from indicators.tomlfile import Problem

#: The register entry that marks a fact as the service's own reading.
OWN_READING = "own_reading"

#: Words that name an internal working document rather than a public one.
INTERNAL = re.compile(r"\bseeds?\b|/work/|\bshared/|\breference/README|\bREADME\b|\brecollection\b", re.IGNORECASE)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SourceSpec(_Spec):
    """One public document in the register: who published it, what it is, which edition, where it is."""

    publisher: str = Field(min_length=2)
    title: str = Field(min_length=3)
    year: str = Field(min_length=4, max_length=64)
    url: str = ""
    own_reading: bool = False
    note: str = ""

    @model_validator(mode="after")
    def _linked(self) -> SourceSpec:
        if not self.own_reading and not re.match(r"^https?://\S+$", self.url):
            raise ValueError("a public source needs its url (http:// or https://)")
        return self


class Citation(_Spec):
    """A citation of one register entry at a section, table or item."""

    ref: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    section: str = Field(min_length=2)


def citation_problems(
    label: str,
    citations: Iterable[Citation],
    register: Mapping[str, Any],
    file: str,
    line: int,
) -> list[Problem]:
    """List what is wrong with one item's citations: none at all, an unknown entry, an internal document."""
    cited = list(citations)
    if not cited:
        return [Problem(file, line, "missing-source", f"{label}: no sources; cite a public document or own_reading")]
    out: list[Problem] = []
    for cite in cited:
        if cite.ref not in register:
            out.append(Problem(file, line, "broken-reference", f"{label}: source {cite.ref!r} is not in the register"))
        if INTERNAL.search(cite.section):
            out.append(
                Problem(
                    file,
                    line,
                    "internal-source",
                    f"{label}: cites an internal document ({cite.section!r}); cite the public document instead",
                )
            )
    return out


def text_problems(label: str, texts: Mapping[str, str], file: str, line_of: Callable[[str], int]) -> list[Problem]:
    """List the texts users read (definitions, labels, notes) that point at an internal working document."""
    return [
        Problem(
            file, line_of(key), "internal-source", f"{label}: {key} refers to an internal document ({found.group(0)!r})"
        )
        for key, text in texts.items()
        if (found := INTERNAL.search(text))
    ]


def names_internal_document(spec: SourceSpec) -> bool:
    """Say whether a register entry names an internal working document rather than a public one."""
    return bool(INTERNAL.search(" ".join((spec.publisher, spec.title, spec.url))))


def resolve(citations: Iterable[Citation], register: Mapping[str, SourceSpec]) -> list[dict[str, Any]]:
    """Expand citations into self-contained records (publisher, title, year, url, section, own_reading)."""
    out = []
    for cite in citations:
        spec = register.get(cite.ref)
        if spec is None:
            continue
        out.append(
            {
                "ref": cite.ref,
                "publisher": spec.publisher,
                "title": spec.title,
                "year": spec.year,
                "url": spec.url,
                "section": cite.section,
                "own_reading": spec.own_reading,
            }
        )
    return out


def cite_text(record: Mapping[str, Any]) -> str:
    """Write one resolved citation as one line a reader can follow."""
    if record.get("own_reading"):
        return f"Own reading (no public source found): {record['section']}"
    return f"{record['publisher']}, {record['title']} ({record['year']}), {record['section']}, {record['url']}"


def cites_text(records: Iterable[Mapping[str, Any]]) -> str:
    """Write resolved citations as one text, one citation after another."""
    return " | ".join(cite_text(r) for r in records)


def definition_sources_text(
    field_sources: Iterable[Mapping[str, Any]], indicator_sources: Iterable[Mapping[str, Any]]
) -> str:
    """Write where a return field and the definition behind it come from, for a Definitions sheet."""
    field_text = cites_text(field_sources) or "none"
    indicator_text = cites_text(indicator_sources) or "none"
    return f"Field: {field_text} || Definition: {indicator_text}"
