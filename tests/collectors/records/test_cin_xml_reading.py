"""The CIN census XML read the same whether or not it declares a namespace, and its nesting bounded."""

from __future__ import annotations

from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from cli.synthetic import synthetic_cin
from collectors.records.cin_tables import collection_year_of, read_cin_tables
from collectors.records.safexml import parse_bounded
from onereturn.errors import InvalidInput

NAMESPACE = b'<Message xmlns="http://www.example.org/cin">'


def test_a_census_in_a_namespace_reads_as_the_same_census(tmp_path: Path) -> None:
    plain = synthetic_cin(3, 120, "2024-25", tmp_path).read_bytes()
    assert plain.count(b"<Message>") == 1
    spaced = plain.replace(b"<Message>", NAMESPACE)
    tables, again = read_cin_tables(plain), read_cin_tables(spaced)
    assert tables["Children"].height == 120
    assert tables.keys() == again.keys()
    for name, frame in tables.items():
        assert_frame_equal(frame, again[name])
    assert collection_year_of(spaced) == collection_year_of(plain) is not None


def _nested(levels: int) -> bytes:
    """A root with ``levels`` levels of elements below it."""
    return b"<r>" + b"<a>" * levels + b"x" + b"</a>" * levels + b"</r>"


def test_nesting_to_the_limit_is_read_and_beyond_it_refused() -> None:
    assert parse_bounded(_nested(4), "the file", max_bytes=1 << 20, max_depth=4).tag == "r"
    with pytest.raises(InvalidInput, match="the file nests elements deeper than 4 levels"):
        parse_bounded(_nested(5), "the file", max_bytes=1 << 20, max_depth=4)
    # Deep, then back up: the deepest branch counts, wherever it lies.
    late = b"<r><a/><a/>" + b"<b>" * 6 + b"</b>" * 6 + b"</r>"
    with pytest.raises(InvalidInput, match="deeper than 4 levels"):
        parse_bounded(late, "the file", max_bytes=1 << 20, max_depth=4)
