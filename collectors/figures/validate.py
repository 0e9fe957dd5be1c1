"""Validate a template: its text cells read into typed figures (``cells``), then checked (``checks``) as every way
in's figures are, under the way in's policy (``policy``), and reported in the template's terms, row and column.

The result is data: a problem table (row, column, value, rule, severity, message) and the accepted figures, never
an exception.
"""

from __future__ import annotations

import polars as pl

from collectors.checks import check_figures, in_file_terms
from collectors.checks.checked import Validation, refused
from collectors.checks.policy import EVERY_CHECK, Context, Policy
from collectors.figures.cells import (
    COLUMNS,
    NUMBERS,
    formula_problems,
    ignored_notes,
    missing_columns,
    typed_figures,
)
from collectors.figures.identifiers import identifier_problems


def validate(
    raw: pl.DataFrame, ctx: Context, *, unresolved: pl.DataFrame | None = None, policy: Policy = EVERY_CHECK
) -> Validation:
    """Check a template's rows (text cells plus ``row``, or numbers given as numbers) against the catalogue, the
    agency's duties and the stored figures, as far as the way in's ``policy`` holds it to them.

    ``unresolved`` lists workbook cells (row, column, formula) holding a formula with no saved
    result: their rows are errors, never read as a value.
    """
    refusal = missing_columns(raw)
    if refusal is not None:
        return refusal
    # Every text the file carries besides its figures' keys and numbers (a note, a column not read): a child's
    # identifier there refuses the file whole, so it is neither stored nor kept.
    free = [c for c in raw.columns if c not in ("row", "indicator", "org", "period", "breakdown", *NUMBERS)]
    found = identifier_problems(raw, free)
    if found.height:
        return refused(raw.height, found, "the file seems to hold a child's identifier; a file of figures holds none")
    figures, ignored = typed_figures(raw)
    unreadable = unresolved["row"] if unresolved is not None and unresolved.height else None
    checked = check_figures(figures, ctx, policy, unreadable=unreadable)
    notes = [ignored_notes(ignored)] if ignored else []
    return in_file_terms(
        checked, rows_read=raw.height, columns=COLUMNS, first=formula_problems(unresolved), notes=notes
    )
