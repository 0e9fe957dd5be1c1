"""A figure's columns as every way in, the store and the readers name them: its key, then its numbers."""

from __future__ import annotations

from typing import Any

import polars as pl

#: What a figure is of, where, when and for which breakdown: the key a stored figure is found by.
FIGURE_KEY = ("indicator_id", "org_code", "period", "breakdown")
#: A figure's numbers: its value, and the numerator and denominator of a rate.
FIGURE_NUMBERS = ("value", "numerator", "denominator")
#: The key's columns as polars types them (text).
KEY_TYPES: dict[str, Any] = dict.fromkeys(FIGURE_KEY, pl.String)
#: The numbers' columns as polars types them.
NUMBER_TYPES: dict[str, Any] = dict.fromkeys(FIGURE_NUMBERS, pl.Float64)
