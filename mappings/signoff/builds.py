"""The builds sign-off reads: which stored figures make each cell of a return, as exports builds it.

Whose figures are behind a return's cells, and what a review shows, are what a build of the return finds; the
build machinery sits above (``exports``), so every sign-off function that reads a build takes it as an argument
(``builds``): its caller above, the API, a page, the command line or the scheduler, passes the release gate's
ungated build (``exports.release.build_ungated``). Nothing is handed over at import.
"""

from __future__ import annotations

from typing import Any, Protocol

import polars as pl
from sqlmodel import Session

from mappings.models import Return


class Built(Protocol):
    """A build of a return for a period, as sign-off reads it: its cells, and the stored figures behind each."""

    @property
    def cells(self) -> pl.DataFrame:
        """Every cell: ``cell_id``, ``field_code``, ``org_code``, ``breakdown``, ``display``, ``status``, ``reason``."""
        ...

    @property
    def lineage(self) -> pl.DataFrame:
        """Each cell's figures: ``cell_id``, ``observation_id`` and the ``agency_code`` that sent it."""
        ...


class Builds(Protocol):
    """Build a return for a period, ungated; ``shared`` (kept by the caller) lets builds of one period share reads."""

    def __call__(self, session: Session, ret: Return, period: str, shared: dict[str, Any] | None = None) -> Built:
        """The return built for the period as it stands now."""
        ...
