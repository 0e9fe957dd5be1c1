"""Canonical breakdown keys: dimensions sorted by id, ``dim=code`` joined by ``;``, empty for the total."""

from __future__ import annotations

from onereturn.errors import InvalidInput

#: The key of the total (no breakdown).
TOTAL = ""


def parse_breakdown(text: str | None) -> dict[str, str]:
    """Parse ``sex=F;age=19-21`` (any order, spaces allowed) into a mapping of dimension to code."""
    if text is None:
        return {}
    parts: dict[str, str] = {}
    for chunk in text.replace(",", ";").split(";"):
        chunk = chunk.strip()
        if not chunk:
            continue
        if "=" not in chunk:
            raise InvalidInput(f"Breakdown part {chunk!r} is not of the form dimension=code, e.g. sex=F")
        dim, code = (s.strip() for s in chunk.split("=", 1))
        if not dim or not code:
            raise InvalidInput(f"Breakdown part {chunk!r} needs both a dimension and a code")
        dim = dim.lower()
        if dim in parts and parts[dim] != code:
            raise InvalidInput(f"Breakdown {text!r} gives dimension {dim!r} twice")
        parts[dim] = code
    return parts


def canonical_breakdown(parts: dict[str, str]) -> str:
    """Render a breakdown mapping as its one canonical key."""
    return ";".join(f"{dim}={parts[dim]}" for dim in sorted(parts))


def normalise_breakdown(text: str | None) -> str:
    """Return the canonical key for any accepted spelling of a breakdown."""
    return canonical_breakdown(parse_breakdown(text))
