"""The builds sign-off reads: which stored figures make each cell of a return, as exports builds it.

Whose figures are behind a return's cells, and what a review shows, are what a build of the return finds; the
build machinery sits above (``exports``), so it is handed to sign-off here rather than imported: the release
gate's module (``exports.release``) provides it when it is first imported, which every way into the service
(the API, the pages, the command line, the scheduler) does before it asks sign-off anything built.
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


_provided: list[Builds] = []


def provide(builds: Builds) -> None:
    """Hand sign-off the build machinery it reads (called once, by ``exports.release`` on import)."""
    _provided[:] = [builds]


def build(session: Session, ret: Return, period: str, shared: dict[str, Any] | None = None) -> Built:
    """Build a return for a period with the machinery provided: what sign-off reads of whose figures are behind it."""
    if not _provided:
        raise RuntimeError("Sign-off needs the return builds of exports: import exports.release before asking it")
    return _provided[0](session, ret, period, shared)
