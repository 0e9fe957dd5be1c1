"""Bounded lists in messages: name a few, count the rest, so no answer grows with what was sent."""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Iterable

#: How many items a message names before it counts the rest.
SHOWN = 5
#: The longest text a message quotes of what was sent.
QUOTED_CHARS = 200


def name_a_few(items: Iterable[object], shown: int = SHOWN) -> str:
    """``a, b, c, d, e and 49,995 more``: the first ``shown`` items named, the rest counted."""
    listed = [str(item) for item in items]
    named = ", ".join(listed[:shown])
    rest = len(listed) - shown
    return f"{named} and {rest:,} more" if rest > 0 else named


#: The escape character of :func:`containing`'s patterns (give it to LIKE as ``escape=``).
LIKE_ESCAPE = "\\"


def containing(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its own ``%`` and ``_`` matched as themselves (lowered)."""
    escaped = (
        text.lower()
        .replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


def clip(text: str, limit: int = QUOTED_CHARS) -> str:
    """``text`` whole when short, else its start and how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters in all)"


def columns_differ(declared: Iterable[str], found: Iterable[str]) -> str:
    """How a file's header differs from the declared columns, naming only declared columns and the positions (from
    1) of the others: a header that is not one (a file's first row of data) may hold values, which are never quoted."""
    wanted, seen = list(declared), list(found)
    missing = [c for c in wanted if c not in seen]
    other = [number for number, c in enumerate(seen, start=1) if c not in wanted]
    parts = []
    if missing:
        parts.append(f"missing {name_a_few(missing)}")
    if other:
        parts.append(f"{len(other):,} column(s) it does not declare (column {name_a_few(other)})")
    return "; ".join(parts) or "the declared columns in another order"


#: What a library's error means about a file's layout, in words of our own: its text can quote the file's values.
_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (zipfile.BadZipFile, "the archive is damaged or not a ZIP"),
    (tarfile.TarError, "the archive is damaged or not of its kind"),
    (SyntaxError, "it is not well-formed XML"),
    (UnicodeError, "its text is not in the encoding it declares"),
    (OSError, "it cannot be read"),
    (KeyError, "an item it needs is missing"),
    (IndexError, "an item it needs is missing"),
    (TypeError, "an item is of another kind than expected"),
    (AttributeError, "an item is of another kind than expected"),
    (ValueError, "an item holds a value of the wrong form"),
)


def error_kind(exc: BaseException) -> str:
    """The kind of ``exc`` in words that quote nothing of what was read (never its own text), with where in the file
    an XML parser stopped when it says so (a line and column are positions, never values)."""
    said = next((said for kind, said in _KINDS if isinstance(exc, kind)), "a part cannot be read")
    position = getattr(exc, "position", None)
    if isinstance(position, tuple) and len(position) == 2:
        return f"{said} (line {position[0]}, column {position[1]})"
    line, column = getattr(exc, "lineno", None), getattr(exc, "offset", None)
    if isinstance(exc, SyntaxError) and isinstance(line, int) and isinstance(column, int):
        return f"{said} (line {line}, column {column})"
    return said
