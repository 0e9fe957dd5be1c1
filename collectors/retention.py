"""Retention of children's data across the rooms that keep it: each room's own purge, run together past the period.

Record-level uploads lose their raw files and child-level rows (``collectors.records.retention``); DfE's payloads
built from an SSD extract go with the record files of the same age (``collectors.ssd.payload_store``). This module
sits above both rooms so neither imports the other to be purged with it. ``onereturn records purge`` and the
scheduler's daily job call :func:`purge`.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from sqlalchemy import Engine

from collectors.records.retention import Purged, purge_uploads
from collectors.ssd import payload_store
from onereturn.settings import Settings


def purge(engine: Engine, settings: Settings, *, now: datetime | None = None) -> Purged:
    """Delete every room's children's data received before the retention period; the counts of all of it."""
    now = now or datetime.now(UTC)
    done = purge_uploads(engine, settings, now=now)
    payload_files = payload_store.purge(engine, settings, now=now)[1]
    return dataclasses.replace(done, files=done.files + payload_files)
