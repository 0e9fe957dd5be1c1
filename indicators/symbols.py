"""The statistical symbols a figure may carry, shared by uploads, templates, builds and exports."""

from __future__ import annotations

#: Symbols accepted in place of a number: an explicit "no figure", with the reason each records.
NO_FIGURE: dict[str, str] = {
    "x": "not available",
    "z": "not applicable",
    "c": "confidential (suppressed)",
    "..": "not available",
    ":": "not available",
    "-": "nil or rounds to zero",
}
#: A flag written after a value, e.g. "12.5 u".
LOW_RELIABILITY = "u"
#: Every symbol with its meaning, the flag included (what a template explains).
SYMBOLS: dict[str, str] = {**NO_FIGURE, LOW_RELIABILITY: "low reliability (after a value)"}
#: What a figure's status may be; a blank status means final.
STATUSES = ("final", "provisional", "estimated")
