"""Settings from environment variables prefixed ``ONERETURN_``, validated at start."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from onereturn.errors import ConfigurationError

#: How much lower than the API's a helper process's CPU priority is (nice(2): 10 gives it about a tenth of a
#: core's share against a busy API process; none of it is lost when the cores are idle).
NICENESS = 10

#: Where the checkout (and so the bundled catalogue) lives.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting the service reads; each maps to ``ONERETURN_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ONERETURN_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Folder for the SQLite database, kept raw uploads and export snapshots.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite at <data_dir>/onereturn.sqlite3. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db.",
    )
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0, description="Largest upload accepted, in bytes.")
    max_upload_rows: int = Field(default=2_000_000, gt=0, description="Most rows one upload may hold.")
    timezone: str = Field(default="Europe/London", description="Time zone of the collection calendar.")
    host: str = Field(default="127.0.0.1", description="Address `onereturn serve` listens on.")
    port: int = Field(default=8000, gt=0, lt=65536, description="Port `onereturn serve` listens on.")
    log_json: bool = Field(default=False, description="Write logs as JSON lines (production).")
    load_demo: bool = Field(default=True, description="Load the bundled demo agencies and figures on `serve`.")
    request_threads: int = Field(
        default=16,
        gt=0,
        le=1000,
        description="Requests one API worker handles at a time; its connection pool is sized to it.",
    )
    upload_slots: int = Field(default=2, gt=0, le=64, description="Uploads one API worker processes at a time.")
    upload_wait_seconds: float = Field(
        default=10.0, ge=0, description="How long an upload waits for a slot before the service answers 503."
    )
    stop_seconds: float = Field(
        default=20.0,
        gt=0,
        description="How long a stop waits for the work in hand (requests, uploads, scheduled jobs) before it stops "
        "it; work cut off is left as a crash leaves it (rolled back; an upload marked interrupted, its raw file kept).",
    )
    upload_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long an upload's lease runs without renewal; the worker processing it renews it every "
        "quarter of this, and only an upload whose lease has run out is marked interrupted.",
    )
    upload_processes: bool = Field(
        default=True,
        description="`onereturn serve` processes uploads in processes of their own (one per upload slot of each "
        "worker), so the API process only answers requests; false processes them in the API's request threads.",
    )
    upload_niceness: int = Field(
        default=0,
        ge=0,
        le=19,
        description="How much lower than the API's the upload processes' CPU priority is (nice). 0: an upload, which "
        "someone is waiting for, shares the cores with requests evenly; 10 gives requests the cores first when "
        "uploads keep them busy, and uploads take what is left.",
    )
    upload_process_resident_bytes: int = Field(
        default=512 * 1024**2,
        gt=0,
        description="An upload process holding more than this once an upload is done is replaced by a fresh one "
        "(after the uploads in hand), so what a large upload left resident is given back.",
    )
    snapshot_disk_bytes: int = Field(
        default=2 * 1024**3,
        ge=0,
        description="Room in <data_dir>/snapshot-cache for export snapshots too large to keep in a worker's memory "
        "(over 16 MiB), so a pull of one reads a file rather than the store's blob, and for SDMX data messages that "
        "large; 0 turns it off.",
    )
    retry_after_seconds: int = Field(default=5, gt=0, description="The Retry-After a 503 (service busy) carries.")
    published_fetch: bool = Field(
        default=False,
        description="The scheduler asks each publisher's API for new releases of the published sources declared "
        "(mappings/published/) and imports them; off until an operator turns it on.",
    )
    published_fetch_hours: float = Field(default=24, gt=0, description="How often the scheduled fetch runs, in hours.")
    published_ees_api: str = Field(
        default="https://api.education.gov.uk/statistics",
        description="The base address of DfE's Explore Education Statistics API (v1 paths are added to it).",
    )
    published_fingertips_api: str = Field(
        default="",
        description="The base address of the FingertipsNext API (GET /indicators/{id}/data is added to it); empty: "
        "Fingertips sources are taken by upload only.",
    )
    published_fetch_attempts: int = Field(default=4, gt=0, le=20, description="Tries of each request before giving up.")
    published_fetch_backoff_seconds: float = Field(
        default=2.0, ge=0, description="The wait before the second try of a request; it doubles each try after."
    )
    published_fetch_timeout_seconds: float = Field(default=60, gt=0, description="How long one request may take.")
    establishments_fetch: bool = Field(
        default=False,
        description="The scheduler downloads the day's register of establishments (GIAS's all-establishments extract "
        "and its links file) and loads it; off until an operator whose deployment can reach GIAS turns it on.",
    )
    establishments_fetch_hours: float = Field(
        default=24, gt=0, description="How often the scheduled download of GIAS's register runs, in hours."
    )
    establishments_url: str = Field(
        default="https://ea-edubase-api-prod.azurewebsites.net/edubase/downloads/public/",
        description="Where GIAS's daily files are (edubasealldataYYYYMMDD.csv and links_edubasealldataYYYYMMDD.csv "
        "are added to it).",
    )
    establishments_max_bytes: int = Field(
        default=150 * 1024 * 1024,
        gt=0,
        description="Largest register of establishments (or links file) loaded, in bytes; GIAS's extract is about "
        "60 MB.",
    )
    behind_tls: bool = Field(
        default=False,
        description="The service is reached only over HTTPS (through a proxy): send Strict-Transport-Security and "
        "mark the sign-in cookie Secure.",
    )
    build_process: bool = Field(
        default=True,
        description="The scheduler embedded in `onereturn serve` rebuilds stale returns in a process of its own, "
        "so building never holds the API process's interpreter lock while requests wait; false builds in a "
        "scheduler thread of the API process.",
    )
    build_niceness: int = Field(
        default=NICENESS,
        ge=0,
        le=19,
        description="How much lower than the API's the CPU priority of the build process and of `onereturn "
        "scheduler` is (nice). 10: on a host shared with API workers, requests take the cores first and builds "
        "what is left; 0 on a host of the scheduler's own.",
    )
    scheduler_intervals: str = Field(
        default="",
        description="Seconds between runs of the scheduler's periodic jobs where they differ from the defaults, as "
        "name=seconds pairs split by commas (heartbeat=30,deliver=60,reopen-scan=300,reconcile=3600,rebuild=5,"
        "interrupted=30,records-resume=30,records-purge=86400).",
    )
    scheduler_embedded: bool = Field(
        default=True,
        description="Run the job scheduler inside `onereturn serve` (turn off when `onereturn scheduler` runs apart).",
    )
    records_retention_days: int = Field(
        default=90,
        gt=0,
        description="Days a record-level upload's raw files and child-level rows (pseudonyms, encrypted child ids, "
        "lineage to records, DfE's findings by child) are kept; `onereturn records purge` and a daily job delete "
        "them after this, keeping the derived figures and the counts.",
    )
    ssd_read_timeout_seconds: float = Field(
        default=300, gt=0, description="The statement timeout of each table's read from a council's SSD database."
    )
    records_keys_file: Path | None = Field(
        default=None,
        description="File holding the record-level keys (the pseudonym secret and the encryption key); empty "
        "means records-keys.json in a folder beside the data folder (<data_dir>-keys/), made on first use, or "
        "<data_dir>/records-keys.json where an earlier release made it. Keep it outside the database's backups.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:", "postgresql+psycopg:")):
            raise ValueError(
                f"{value!r} is not a supported database URL; use sqlite:///path or "
                "postgresql+psycopg://user@host:port/database"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone, e.g. Europe/London") from None
        return value

    @property
    def effective_database_url(self) -> str:
        """Return the database URL, defaulting to SQLite in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'onereturn.sqlite3'}"

    @property
    def is_sqlite(self) -> bool:
        """Say whether the store is SQLite."""
        return self.effective_database_url.startswith("sqlite:")


#: Settings of one council that an earlier release read from the environment, and where each is kept now.
MOVED = {
    "ONERETURN_SSD_READS": "ssd.read",
    "ONERETURN_SSD_WORKER_ROLES": "ssd.worker_roles",
    "ONERETURN_CSC_API_IDENTIFIERS": "ssd.payload_identifiers",
}


def load_settings() -> Settings:
    """Build settings from the environment, naming the variable of any bad value."""
    moved = [f"{name} (now its agency's {where})" for name, where in MOVED.items() if os.environ.get(name, "").strip()]
    if moved:
        # Read silently no more, they would leave a council's rule unapplied without a word: the start stops instead.
        raise ConfigurationError(
            "Each council's SSD settings are kept with its agency (its agency file's [agency.ssd] table, or `ssd` "
            f"given to POST or PATCH /api/agencies; docs/records.md), no longer in the environment: move {', '.join(moved)}, "
            "then unset the variable"
        )
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"ONERETURN_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"Invalid settings: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once)."""
    return load_settings()
