"""Two dumps compared file by file and row by row: identical, or each difference with its place, before and after."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path

#: How many differing rows of one output are listed before the rest are counted.
SHOWN = 20


def files(folder: Path) -> set[str]:
    """The dump's files, by their path inside it."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*.tsv")}


def compare(before: Path, after: Path) -> list[str]:
    """Every difference between two dumps, one line each (none: identical)."""
    for folder in (before, after):
        if not (folder / "dump.json").is_file():
            raise SystemExit(f"{folder} is not a dump (no dump.json)")
    found: list[str] = []
    old, new = files(before), files(after)
    found += [f"{name}: only before" for name in sorted(old - new)]
    found += [f"{name}: only after" for name in sorted(new - old)]
    for name in sorted(old & new):
        a = (before / name).read_text(encoding="utf-8").splitlines()
        b = (after / name).read_text(encoding="utf-8").splitlines()
        if a != b:
            found += list(differences(name, a, b))
    return found


def differences(name: str, a: list[str], b: list[str]) -> Iterator[str]:
    """The rows of one output that differ, each by its line and its key (the row's first cell)."""
    shown = 0
    header = a[0] if a else ""
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        for offset in range(max(i2 - i1, j2 - j1)):
            shown += 1
            if shown > SHOWN:
                continue
            left = a[i1 + offset] if i1 + offset < i2 else None
            right = b[j1 + offset] if j1 + offset < j2 else None
            yield describe(name, header, i1 + offset + 1, left, right)
    if shown > SHOWN:
        yield f"{name}: and {shown - SHOWN} more differing row(s)"


def describe(name: str, header: str, line: int, left: str | None, right: str | None) -> str:
    """One differing row: where it is, and the cells that differ (or the whole row, added or gone)."""
    if left is None:
        return f"{name}: row added after line {line - 1}: {right}"
    if right is None:
        return f"{name}: line {line} gone: {left}"
    a, b = left.split("\t"), right.split("\t")
    if len(a) == len(b) and a[:-1] == b[:-1] and "=" not in a[-1]:
        # A keyed row (a cell, a JSON leaf, a line of a file): its key, then its value before and after.
        return f"{name}: line {line}: {' '.join(a[:-1])}: before {a[-1]!r} after {b[-1]!r}"
    headings = header.split("\t")
    cells = [
        f"{column(headings, i, x)}: before {x!r} after {y!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=False))
        if x != y
    ]
    if len(a) != len(b):
        cells.append(f"{len(a)} cells before, {len(b)} after")
    return f"{name}: line {line} ({a[0]}): " + "; ".join(cells)


def column(headings: list[str], index: int, cell: str) -> str:
    """A cell's column: its own name where the cell says it (``name=value``), else the heading's."""
    if "=" in cell:
        return cell.split("=", 1)[0]
    return headings[index] if index < len(headings) else f"cell {index + 1}"
