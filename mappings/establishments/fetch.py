"""The scheduled download of GIAS's register, where the deployment can reach GIAS (``ONERETURN_ESTABLISHMENTS_FETCH``,
off by default). GIAS refreshes its extract daily under a dated name (``edubasealldataYYYYMMDD.csv``, with
``links_edubasealldataYYYYMMDD.csv``); the newest of the last week's that GIAS answers is downloaded (the day's is
not there until GIAS has made it), unless it is the register already held. A download is bounded by the register's
limit, read and checked whole, and loaded in one transaction: a fetch that fails leaves the register as it was.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import Engine

from mappings.establishments.service import Held, load_register, register_held
from onereturn.errors import OneReturnError, PayloadTooLarge
from onereturn.settings import Settings

log = logging.getLogger(__name__)
#: Days looked back for GIAS's newest extract.
LOOKBACK_DAYS = 7
FETCHED_BY = "scheduled download"


class RegisterFetchFailed(OneReturnError):
    """GIAS could not be reached or answered wrongly: nothing was stored, the register held is unchanged."""

    status_code = 502
    error_type = "register_fetch_failed"


@dataclass(frozen=True)
class FetchOutcome:
    """What one download did: the register loaded, or the register already held (``loaded`` False)."""

    held: Held | None
    loaded: bool
    url: str


def _get(client: httpx.Client, url: str, limit: int, stop: threading.Event | None) -> bytes | None:
    """The file at ``url``, None when GIAS has no such file (404); bounded by ``limit`` bytes as it arrives."""
    try:
        with client.stream("GET", url) as response:
            if response.status_code == 404:
                return None
            if response.status_code >= 400:
                raise RegisterFetchFailed(f"{url}: HTTP {response.status_code}; nothing was stored")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"{url} is over the register's limit of {limit:,} bytes; nothing was stored")
                if stop is not None and stop.is_set():
                    raise RegisterFetchFailed(f"{url}: the service is stopping; nothing was stored")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise RegisterFetchFailed(f"{url}: {type(exc).__name__}: {exc}; nothing was stored") from exc


def fetch_register(
    engine: Engine,
    settings: Settings,
    *,
    client: httpx.Client | None = None,
    today: date | None = None,
    stop: threading.Event | None = None,
) -> FetchOutcome:
    """Download GIAS's newest extract and its links file and load them, unless that register is already held."""
    base = settings.establishments_url.rstrip("/") + "/"
    day = today or datetime.now(UTC).date()
    own = client is None
    http = client or httpx.Client(timeout=settings.published_fetch_timeout_seconds, follow_redirects=True)
    try:
        now = register_held(engine)
        for back in range(LOOKBACK_DAYS):
            stamp = (day - timedelta(days=back)).strftime("%Y%m%d")
            name = f"edubasealldata{stamp}.csv"
            if now is not None and now.file_name == name:
                return FetchOutcome(now, False, base + name)
            data = _get(http, base + name, settings.establishments_max_bytes, stop)
            if data is None:
                continue
            links_name = f"links_edubasealldata{stamp}.csv"
            links = _get(http, base + links_name, settings.establishments_max_bytes, stop)
            loaded = load_register(
                engine,
                settings,
                data,
                name,
                links=links,
                links_name=links_name if links is not None else "",
                by=FETCHED_BY,
            )
            log.info("register of establishments loaded from %s: %s", base + name, loaded.words())
            return FetchOutcome(loaded, True, base + name)
    finally:
        if own:
            http.close()
    raise RegisterFetchFailed(
        f"{base}: no edubasealldataYYYYMMDD.csv for any of the {LOOKBACK_DAYS} days to {day.isoformat()}; "
        "nothing was stored"
    )
