"""What sign-off reads of a build and of the store, below the build itself: the lineage rows an agency must sign off,
and the key of the store's state that what builds found behind a return is kept under.

The builds themselves are read above, beside the acts (``exports.signoff``); the release gate (``exports.release``)
and the snapshots (``exports.service``) use these too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import polars as pl
from sqlalchemy import func
from sqlalchemy import select as columns
from sqlmodel import Session, col

from indicators.models import CatalogueVersion
from indicators.published import PublishedFigure
from indicators.store.models import Observation
from mappings.models import Agency, AgencyOrg
from mappings.signoff.states import published_sources
from onereturn.memo import within_transaction


def to_sign(session: Session, lineage: pl.DataFrame, published: Iterable[str] | None = None) -> pl.DataFrame:
    """The lineage rows whose figures an agency must sign off: an agency's, and not official statistics it published
    (``published``: those agencies, when the caller has read them already)."""
    sources = list(published_sources(session) if published is None else published)
    return lineage.filter(pl.col("agency_code").is_not_null() & ~pl.col("agency_code").is_in(sources))


def store_key(session: Session) -> tuple[Any, ...]:
    """What the figures behind a return depend on, read in one statement: the figures, catalogue, agencies and links.

    Read once in a transaction that only reads (a dashboard asks it six times; each read counts every figure).
    """
    return within_transaction(session, "store_key", lambda: _store_key(session))


def _store_key(session: Session) -> tuple[Any, ...]:
    key = session.execute(
        columns(
            func.max(col(Observation.id)),
            func.count(col(Observation.id)),
            # SQLite gives a rolled-back or deleted last row's id to the next one: when it was recorded tells them apart.
            func.max(col(Observation.recorded_at)),
            columns(func.max(col(CatalogueVersion.id))).scalar_subquery(),
            columns(func.count()).select_from(AgencyOrg).scalar_subquery(),
            columns(func.count()).select_from(Agency).scalar_subquery(),
            # An agency changed (say, it now publishes its own figures) changes whose figures need signing off.
            columns(func.max(col(Agency.updated_at))).scalar_subquery(),
            # A publisher's release kept beside a body's figures fills the cells the body leaves empty.
            columns(func.max(col(PublishedFigure.id))).scalar_subquery(),
        )
    ).one()
    # The database too: two stores (a test's copies, or a service pointed at another) can reach the same counts.
    return (str(session.get_bind().engine.url), *tuple(key), datetime.now(UTC).date())


def key_digest(key: tuple[Any, ...]) -> str:
    """The store's key as kept beside what was found under it: without the database's address (the table is the
    store's own), with the service's version (a new version may build a return from other figures)."""
    return hashlib.sha256(repr((version("onereturn"), *key[1:])).encode()).hexdigest()
