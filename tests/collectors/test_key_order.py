"""Figures are written in the order of the store's unique key, whatever their key values."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.store import in_key_order

KEY = ["indicator_id", "period", "org_code", "breakdown"]
# Few distinct values, so keys share prefixes; empty text, accents and other scripts sort by their bytes.
_TEXT = st.sampled_from(["", "a", "ab", "b", "Z", "é", "e\u0301", "x y", "\u00ff", "\U0001f600", "CY2024", "CY2025"])


#: A file's row number: what the store's 64-bit column holds (unbounded integers past it failed the frame, not the sort).
_FILE_ROW = st.integers(min_value=0, max_value=(1 << 63) - 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT, _TEXT, _TEXT, _FILE_ROW), max_size=40))
def test_figures_sort_as_the_key_s_text_does(rows: list[tuple[str, str, str, str, int]]) -> None:
    frame = pl.DataFrame(rows, schema=[*KEY, "file_row"], orient="row")
    expected = sorted(rows, key=lambda r: tuple(part.encode() for part in r[:4]))
    assert [r[:4] for r in in_key_order(frame).iter_rows()] == [r[:4] for r in expected]
    assert sorted(in_key_order(frame).iter_rows()) == sorted(frame.iter_rows())


def test_keys_too_varied_for_one_number_still_sort() -> None:
    # 65,536 distinct values in each of the four columns: 2**64 combinations, past one 64-bit number.
    n = 1 << 16
    frame = pl.DataFrame({name: [f"{name}{(i * (2 * k + 3)) % n:05d}" for i in range(n)] for k, name in enumerate(KEY)})
    assert in_key_order(frame).equals(frame.sort(KEY))
