"""A SEN2 file parsed without trusting it and checked against its survey's schema, each problem named by module,
child and item and never by a value the child's record holds.

The schemas are the service's corrected copies of the London councils' team's (``collectors/sen2/schemas/``, MIT;
each correction is said beside it there and listed in ``docs/send.md``). DfE does not publish an XSD for SEN2; these
are the LIIA team's reading of DfE's technical specification, so a finding here is labelled the schema's, never DfE's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree

from onereturn.errors import InvalidInput
from onereturn.untrusted_xml import HARDENED

FOLDER = Path(__file__).with_name("schemas")
#: The surveys whose schema the service holds, by the January of the census.
SURVEYS = (2023, 2024, 2025, 2026)
#: SEN2 nests seven levels below its root (Message/Persons/Person/Requests/Assessment/NamedPlan/PlanDetail/URN);
#: a file nested deeper is no SEN2 file, and is refused before its tree is built.
MAX_DEPTH = 12
#: At most this many problems are listed in the answer (all are counted).
SHOWN = 200
#: The modules of the survey by the element that opens them (the guide's module numbers, as the schemas' comments give
#: them), most specific first.
MODULES = {
    "SENneed": "Module 5: SEN need",
    "PlacementDetail": "Module 5: placement detail",
    "ActivePlans": "Module 5: active plans",
    "PlanDetail": "Module 4: plan detail",
    "NamedPlan": "Module 4: named plan",
    "Assessment": "Module 3: EHC needs assessment",
    "Requests": "Module 2: request",
    "Person": "Module 1: person",
    "Header": "Header",
}
_STEP = re.compile(r"([A-Za-z_][\w.-]*)(?:\[(\d+)\])?")
_MISSING = re.compile(r"Missing child element\(s\)\. Expected is (?:one of )?\( ?([^)]*?) ?\)")
_EXPECTED = re.compile(r"This element is not expected\. Expected is (?:one of )?\( ?([^)]*?) ?\)")
_ATOMIC = re.compile(r"atomic type '([^']+)'")


def survey_of(collection_year: str) -> int:
    """The January census a collection year holds (``2024-25`` -> 2025); InvalidInput naming the years held."""
    survey = int(collection_year[:4]) + 1
    if survey not in SURVEYS:
        held = ", ".join(f"{y - 1}-{y % 100:02d}" for y in SURVEYS)
        raise InvalidInput(f"the service holds SEN2's schema for the collection years {held}, not {collection_year}")
    return survey


def year_text(survey: int) -> str:
    """The collection year of a January census, as a council writes it (2025 -> ``2024-25``)."""
    return f"{survey - 1}-{survey % 100:02d}"


@cache
def schema(survey: int) -> etree.XMLSchema:
    """The service's corrected schema of a survey, read once."""
    return etree.XMLSchema(etree.parse(str(FOLDER / f"sen2_schema_{survey}.xsd"), _parser()))


def _parser(encoding: str | None = None) -> etree.XMLParser:
    # Hardened as every reader of untrusted XML is; comments and processing instructions are dropped.
    return etree.XMLParser(**HARDENED, remove_comments=True, remove_pis=True, encoding=encoding)


def read_encoding(head: bytes) -> str | None:
    """The encoding every reader of a SEN2 file (the door's and each read of the kept file) reads it in, decided here
    once from its start ``head``: UTF-16 with neither a byte order mark nor a declaration naming it, which libxml2
    does not tell by itself, told by the first ``<`` (the XML recommendation's appendix F); None where libxml2 tells
    the encoding itself (a byte order mark, a declaration, or UTF-8)."""
    if head.startswith(b"<\x00") and not head.startswith(b"<\x00\x00\x00"):
        return "UTF-16LE"
    if head.startswith(b"\x00<") and not head.startswith(b"\x00\x00"):
        return "UTF-16BE"
    return None


@dataclass(frozen=True)
class Problem:
    """One place a SEN2 file fails: the module, the child (its position in the file), the item and what is wrong."""

    module: str
    child: int | None
    item: str
    message: str
    source: str = "schema"

    def item_dict(self) -> dict[str, object]:
        """The problem as the API's ``errors`` list gives it (``loc`` as module, child, item)."""
        loc: list[object] = [self.module]
        if self.child is not None:
            loc.append(f"child {self.child}")
        loc.append(self.item)
        return {"type": f"sen2_{self.source}", "loc": loc, "msg": self.message}


class Refused(InvalidInput):
    """The SEN2 file has problems; ``errors`` lists them by module, child and item. Nothing of it was kept."""

    def __init__(self, problems: list[Problem], survey: int) -> None:
        more = f" (the first {SHOWN} listed)" if len(problems) > SHOWN else ""
        super().__init__(
            f"the SEN2 file has {len(problems):,} problem(s) against the {survey} survey's schema and rules{more}; "
            "nothing was kept: correct the file and upload it again",
            errors=[p.item_dict() for p in problems[:SHOWN]],
        )
        self.problems = problems


def _scan(data: bytes, *, max_bytes: int) -> None:
    """Refuse, before a tree is built, a file over the limit or empty, and one whose bytes declare a DOCTYPE or an
    entity (a file in another encoding, such as UTF-16, is refused on its tree instead: ``parse``)."""
    what = "the SEN2 file"
    if len(data) > max_bytes:
        raise InvalidInput(f"{what} is over {max_bytes // 2**20} MB")
    if not data.strip():
        raise InvalidInput(f"{what} is empty")
    if _DECLARED.search(data):
        raise InvalidInput(_DECLARES)


_DECLARED = re.compile(rb"<!(?i:doctype|entity)")
_DECLARES = "the SEN2 file declares a DOCTYPE or ENTITY, which the return never has"


#: An element nested deeper than the survey's modules allow (the root at level 0): one step more than MAX_DEPTH.
_TOO_DEEP = etree.XPath("boolean(/*" + "/*" * (MAX_DEPTH + 1) + ")")


def parse(data: bytes, *, max_bytes: int) -> etree._ElementTree:
    """The file's tree, refusing a DOCTYPE or entity, an oversized or over-deep file, and XML that is not
    well-formed (InvalidInput, no value quoted)."""
    _scan(data, max_bytes=max_bytes)
    try:
        # libxml2 itself refuses nesting past 256 levels (huge_tree off), and the size is bounded above: the tree
        # built is bounded before its depth is checked against the survey's.
        tree = etree.ElementTree(etree.fromstring(data, _parser(read_encoding(data[:4]))))
    except etree.XMLSyntaxError as exc:
        raise InvalidInput(f"the SEN2 file is not well-formed XML (line {exc.lineno})") from None
    # The parser resolves no entity and loads no DTD, so a declaration the bytes hid (another encoding) is only
    # read, never acted on; it is refused here as the bytes' check refuses it, before anything reads the tree.
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise InvalidInput(_DECLARES)
    if _TOO_DEEP(tree):
        raise InvalidInput(f"the SEN2 file nests elements deeper than {MAX_DEPTH} levels")
    return tree


def where(path: str) -> tuple[str, int | None, str]:
    """The module, child (1-based position of its ``Person``) and item an element's path names."""
    steps = [(m[1], int(m[2] or 1)) for m in _STEP.finditer(path)]
    child = next((n for name, n in steps if name == "Person"), None)
    module = next((MODULES[name] for name, _ in reversed(steps) if name in MODULES), "Message")
    return module, child, steps[-1][0] if steps else "Message"


def _described(entry: etree._LogEntry) -> tuple[str, str | None]:
    """What a schema error says, in words that never quote the file's value; and the item it names, when the
    element at its path is the parent of the item (a child element missing)."""
    kind, text = entry.type_name, entry.message
    if kind == "SCHEMAV_ELEMENT_CONTENT":
        if missing := _MISSING.search(text):
            items = missing[1].replace(" ", "")
            return f"a mandatory item is missing: {items}", items.split(",")[0]
        if expected := _EXPECTED.search(text):
            return (
                f"not expected here: the survey has {expected[1].replace(' ', '')} here (a mandatory item missing, "
                "or items out of order)",
                None,
            )
        return "not expected here: an item or module the survey does not have, one given twice, or out of order", None
    if "ENUMERATION" in kind:
        return "not a code of the survey's list for this item", None
    if "PATTERN" in kind:
        return "not in the form the item takes", None
    if "LENGTH" in kind:
        return "empty, where the item needs a value", None
    if atomic := _ATOMIC.search(text):
        return f"not a valid {atomic[1]}", None
    if kind == "SCHEMAV_CVC_ELT_1":
        return "the file's root is not the survey's <Message>", None
    return f"does not match the survey's schema ({kind.lower()})", None


def schema_problems(tree: etree._ElementTree, survey: int) -> list[Problem]:
    """Every place the file fails the survey's schema."""
    checker = schema(survey)
    if checker.validate(tree):
        return []
    problems = []
    for entry in checker.error_log:
        module, child, item = where(entry.path or "")
        message, named = _described(entry)
        problems.append(Problem(module, child, named or item, message))
    return problems


#: The years the service handles in a date (as its API's dates, docs/api.md): a valid ``xs:date`` may be any year,
#: 10000 or -2016 among them, which no child's record holds and no table or list can be worked out from.
YEARS = (1900, 2999)
_DATED = ("xs:date", "xs:dateTime", "xs:gYear")


@cache
def dated_items(survey: int) -> frozenset[str]:
    """The items the survey's schema types as a date, a date and time or a year."""
    tree = etree.parse(str(FOLDER / f"sen2_schema_{survey}.xsd"), _parser())
    return frozenset(
        str(e.get("name")) for e in tree.iter("{http://www.w3.org/2001/XMLSchema}element") if e.get("type") in _DATED
    )


#: A year of four ASCII digits in ``YEARS``, then a date, a time or a zone as the item's type writes them.
_WITHIN = re.compile(r"(?:19|2[0-9])[0-9]{2}(?:-[0-9]{2}-[0-9]{2}(?:T[0-9:.]+)?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?")


def bounds_problems(tree: etree._ElementTree, survey: int) -> list[Problem]:
    """Every date, date and time or year outside the years the service handles (or not written in ASCII digits, as
    a schema's type may allow), by module, child and item, never quoting it."""
    low, high = YEARS
    said = f"outside the years {low} to {high}, which the service handles"
    within = _WITHIN.fullmatch
    return [
        Problem(*where(tree.getpath(element)), said, "bounds")
        for element in tree.iter(*dated_items(survey))
        if element.text is not None and element.text.strip() and within(element.text.strip()) is None
    ]


def other_survey(tree: etree._ElementTree, survey: int) -> int | None:
    """The survey of another year its header names, or (naming none) whose schema the file passes; else None."""
    stated = (tree.findtext("Header/CollectionDetails/Year") or "").strip()
    # Four ASCII digits only: ``isdigit`` is true of superscript digits too, and ``int`` refuses 5,000 digits.
    if re.fullmatch(r"[0-9]{4}", stated):
        # The header says which survey the file is: its schema's problems are the file's own, not another year's.
        return int(stated) if int(stated) != survey else None
    return next((other for other in SURVEYS if other != survey and schema(other).validate(tree)), None)
