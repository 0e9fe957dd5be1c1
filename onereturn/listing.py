"""Bounded lists in messages: name a few, count the rest, so no answer grows with what was sent."""

from __future__ import annotations

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
