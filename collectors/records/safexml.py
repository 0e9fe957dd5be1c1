"""A council's record-level XML parsed without trusting it: no document type or entity, bounded size and depth."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.parsers import expat

from onereturn.errors import InvalidInput
from onereturn.memory import collector_off


def parse_bounded(data: bytes, what: str, *, max_bytes: int, max_depth: int) -> ET.Element:
    """Parse ``data`` (called ``what`` in errors), refusing DOCTYPEs, entities, oversized and over-deep documents."""
    check_bounded(data, what, max_bytes=max_bytes, max_depth=max_depth)
    try:
        # A tree of elements is no garbage while it is built (see collector_off): most of the parse's time was the
        # collector walking the elements already made, again and again.
        with collector_off():
            return ET.fromstring(data)
    except ET.ParseError as exc:
        raise InvalidInput(f"{what} is not well-formed XML: {exc}") from exc


def check_bounded(data: bytes, what: str, *, max_bytes: int, max_depth: int) -> None:
    """Refuse ``data`` as :func:`parse_bounded` would, without building its tree: before anything else reads it."""
    if len(data) > max_bytes:
        raise InvalidInput(f"{what} is over {max_bytes // 2**20} MB")
    if not data.strip():
        raise InvalidInput(f"{what} is empty")
    head = data.upper()
    refusal = f"{what} declares a DOCTYPE or ENTITY, which the return never has"
    # A document type declaration can define entities that expand without bound or read files: refused
    # before any parsing, and again by a first pass of the bare parser, which sees one in another encoding
    # (UTF-16) that the byte check cannot.
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise InvalidInput(refusal)

    def refuse(*_: object) -> None:
        raise InvalidInput(refusal)

    # The depth is counted by the first pass as it reads each element (the root at level 0), so an over-deep
    # document is refused before its tree is built; walking the built tree again cost more than the count.
    depth = 0

    def start(*_: object) -> None:
        nonlocal depth
        depth += 1
        if depth > max_depth + 1:
            raise InvalidInput(f"{what} nests elements deeper than {max_depth} levels")

    def end(*_: object) -> None:
        nonlocal depth
        depth -= 1

    scan = expat.ParserCreate()
    scan.StartDoctypeDeclHandler = refuse
    scan.EntityDeclHandler = refuse
    scan.StartElementHandler = start
    scan.EndElementHandler = end
    try:
        scan.Parse(data, True)
    except expat.ExpatError as exc:
        raise InvalidInput(f"{what} is not well-formed XML: {exc}") from exc
