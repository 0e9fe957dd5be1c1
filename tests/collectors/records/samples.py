"""Record-level files the tests upload: DfE's own fake SSDA903 tables (a subset) and a CIN census."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "records"
TABLES_903 = sorted((FIXTURES / "ssda903_subset").glob("*.csv"))
CIN_2024 = FIXTURES / "cin" / "CIN_Census_2024.xml"
