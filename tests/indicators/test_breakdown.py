"""Breakdown keys have one canonical spelling, so a figure cannot be stored twice."""

from __future__ import annotations

import pytest

from indicators.breakdown import TOTAL, normalise_breakdown, parse_breakdown
from onereturn.errors import InvalidInput


@pytest.mark.parametrize(
    "spelling", ["sex=F;age=19-21", "age=19-21;sex=F", " Sex = F ; age=19-21 ;", "age=19-21,sex=F"]
)
def test_spellings_of_one_breakdown_share_one_key(spelling: str) -> None:
    assert normalise_breakdown(spelling) == "age=19-21;sex=F"


def test_total_is_empty() -> None:
    assert normalise_breakdown("") == TOTAL
    assert normalise_breakdown(None) == TOTAL


@pytest.mark.parametrize(("text", "message"), [("sexF", "dimension=code"), ("sex=", "both"), ("sex=F;sex=M", "twice")])
def test_malformed_breakdowns_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_breakdown(text)
