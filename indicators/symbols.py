"""The statistical symbols a figure may carry, shared by uploads, templates, builds and exports."""

from __future__ import annotations

#: Symbols accepted in place of a number: an explicit "no figure", with the reason each records.
#: Each symbol has its own meaning, so a report or a completeness list can tell them apart.
NO_FIGURE: dict[str, str] = {
    "x": "not available: the body cannot give this figure",
    "z": "not applicable: no such figure exists for this area and period",
    "c": "confidential: withheld by the body that holds it",
    "..": "not yet available: the figure for this period is still to come",
    ":": "not available, written ':' (the spelling Eurostat tables use)",
    "-": "nil, or rounds to zero",
}
#: A flag written after a value, e.g. "12.5 u".
LOW_RELIABILITY = "u"
#: Every symbol with its meaning, the flag included (what a template explains).
SYMBOLS: dict[str, str] = {**NO_FIGURE, LOW_RELIABILITY: "low reliability (after a value)"}
#: What a figure's status may be; a blank status means final.
STATUSES = ("final", "provisional", "estimated")
