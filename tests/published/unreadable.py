"""Publishers' files that cannot be read, and how each refusal begins: shared by the API's, the command line's and
the officer's page's tests."""

from __future__ import annotations

from collectors.published.sources import load_sources

SPEC = load_sources().sources["ons_population_0_17"]


def _long_field() -> bytes:
    """The bundled file with a 2 MB quoted name in its third row."""
    lines = SPEC.bundled.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    lines[2] = lines[2].replace(",North East,", ',"' + "N" * 2_000_000 + '",', 1)
    return "".join(lines).encode()


def _ragged() -> bytes:
    """The bundled file with an extra field on its fifth row."""
    lines = SPEC.bundled.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    lines[4] = lines[4].rstrip("\n") + ",extra\n"
    return "".join(lines).encode()


#: Each unreadable file, and how its refusal begins.
CASES = {
    "long.csv": (_long_field, "long.csv row 3: a field longer than 131,072 characters"),
    "ragged.csv": (_ragged, "ragged.csv row 5: 13 field(s) where the header has 12"),
    "latin1.csv": (lambda: SPEC.bundled.read_bytes() + "Ynys Môn\n".encode("latin-1"), "latin1.csv: not UTF-8 text"),
    "nul.csv": (lambda: SPEC.bundled.read_bytes() + b"2024,\x00\n", "nul.csv row"),
}
