"""What an upload is told of its blank rows and of a file blank throughout: a notice, and an error."""

from __future__ import annotations


def blank_upload(rows: int) -> dict[str, object]:
    """The error of a file whose every row of figures is blank (``rows`` of them)."""
    what = f"all {rows} row(s) of figures" if rows else "the file"
    return {
        "row": None,
        "column": "value",
        "value": None,
        "rule": "blank-upload",
        "severity": "error",
        "message": f"the file is blank: {what} have no value, numerator or denominator; fill in the value column "
        "(or a symbol such as x when a figure is not available) and upload it again",
    }


def _ranges(rows: list[int]) -> list[str]:
    out: list[str] = []
    start = prev = rows[0]
    for r in [*rows[1:], None]:
        if r is not None and r == prev + 1:
            prev = r
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if r is not None:
            start = prev = r
    return out


def blank_rows(rows: list[int]) -> dict[str, object]:
    """The notice of the blank rows left out, named as runs of row numbers."""
    spans = _ranges(rows)
    listed = ", ".join(spans[:50]) + (f" and {len(spans) - 50} more run(s)" if len(spans) > 50 else "")
    return {
        "row": None,
        "column": "value",
        "value": None,
        "rule": "blank-rows",
        "severity": "information",
        "message": f"{len(rows)} row(s) were left blank and not read: row(s) {listed}",
    }
