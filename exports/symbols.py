"""The symbols a released return shows in place of a number, with the key printed beside it.

The Government Statistical Service's shorthand, as StatsWales lists it ("Shorthand for labelling
data values", https://stats.gov.wales/cy-GB/shorthand?lang=en-GB) and as DfE's explore-education-
statistics files use it (markers ``c``, ``x``, ``z``, ``u`` and ``low``; e.g. the local authority files
of https://github.com/dfe-analytical-services/CSC_outcomes_and_enablers): ``c`` confidential (suppressed),
``x`` not available, ``z`` not applicable, ``u`` low reliability, ``p`` provisional. A figure still to come
for the period is ``..``, the symbol Statistics Canada gives a figure "not available for a specific
reference period" (http://www40.statcan.ca/z01/cs0005-eng.htm). Every symbol has one
meaning here, so a reader can tell a missing figure from one an agency said it cannot give.
"""

from __future__ import annotations

#: Each symbol a cell may show, with what it means, in the order the key lists them.
KEY: dict[str, str] = {
    "..": "not yet available: the figure for this period has not been submitted",
    "x": "not available: the body that holds the figure said it cannot give it, or it cannot be made",
    "z": "not applicable: there is no figure for this area and period",
    "c": "confidential: a small number suppressed, or a figure hidden so a small number cannot be worked out",
    "low": "rounds to zero: a figure the body marked as nil or less than half the last digit shown",
    "...": "not yet signed off: the body that owns the figure has still to vouch for it (the reason names the body)",
    "u": "low reliability (written after a value)",
    "p": "provisional: the figure may be revised (written after a value)",
}

#: What a cell shows while its agency has not signed it off. GSS shorthand has no symbol for it; ``...``
#: is the German statistical offices' "data will be available later" (Statistische Ämter des Bundes und
#: der Länder, "Explanation of symbols", http://www.statistik-portal.de/Statistik-Portal/en/en_zeichen.asp),
#: and differs from ``..`` (not submitted) so a reader can tell a figure held back from one never sent.
NOT_SIGNED_OFF = "..."

#: Symbols an agency may store, spelled the way a released return shows them.
_STORED_AS_SHOWN: dict[str, str] = {"x": "x", "z": "z", "c": "c", "..": "..", ":": "x", "-": "low"}


def display_symbol(status: str, stored_symbol: str | None) -> str:
    """Return what a cell that shows no number displays, by its status and the symbol an agency stored."""
    if status == "missing":
        return ".."
    if status == "suppressed":
        return "c"
    if status == "not_available" and stored_symbol:
        return _STORED_AS_SHOWN.get(stored_symbol, "x")
    return "x"


def key_lines(used: set[str] | None = None) -> list[tuple[str, str]]:
    """Return the key as (symbol, meaning) pairs, every symbol or only those ``used``."""
    return [(symbol, meaning) for symbol, meaning in KEY.items() if used is None or symbol in used]
