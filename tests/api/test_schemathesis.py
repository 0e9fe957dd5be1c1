"""schemathesis against the whole API, from its own OpenAPI document, with an officer and an agency key.

Bounded so it suits CI on two cores: a few examples per operation in the coverage and fuzzing
phases, no shrinking. Every response must not be a server error, must have a documented status,
content type and schema, and must come back within five seconds (a ceiling for runaway requests
such as an unbounded calendar window, not a performance target).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events
from sqlalchemy import Engine

from api.main import create_app
from api.throttle import KeyThrottle
from collectors.figures.service import submit
from mappings.catalogue import Catalogue
from mappings.service import load_bundled
from onereturn import db
from onereturn.settings import Settings

OFFICER = "demo-officer-5e0b9c2a4f"
NOTTS = "demo-notts-cyp-2c9f41d07b"
HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"


def config(key: str) -> SchemathesisConfig:
    """The run's settings: the key on every request, the checks, and small bounds for CI."""
    return SchemathesisConfig.from_dict(
        {
            "headers": {"X-API-Key": key},
            "checks": {
                "max_response_time": 5.0,
                # These re-send requests without or with other credentials; the access-matrix test
                # covers every route with every principal instead.
                "ignored_auth": {"enabled": False},
                "use_after_free": {"enabled": False},
                "ensure_resource_availability": {"enabled": False},
                # A period, code or date window can be well-formed and still not exist (FY1900-01, a
                # window of 90 years); the API refuses those with 422, which this check counts as wrong.
                "positive_data_acceptance": {"enabled": False},
            },
            "generation": {"max-examples": 12, "no-shrink": True, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
            "seed": 20261123,
        }
    )


@dataclass
class Run:
    """What one schemathesis run saw: requests by status, and every failed check."""

    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)

    @property
    def requests(self) -> int:
        """Count the requests sent."""
        return sum(self.statuses.values())


def run_schemathesis(app: Any, key: str) -> Run:
    """Run schemathesis's examples, coverage and fuzzing phases against the app with the key."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config(key))
    run = Run()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            run.operations.add(event.recorder.label)
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    run.statuses[interaction.response.status_code] += 1
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE:
                        case = event.recorder.cases[case_id].value
                        info = check.failure_info.failure if check.failure_info else None
                        run.failures.append(
                            f"{event.recorder.label} {check.name}: {getattr(info, 'title', '')} "
                            f"{getattr(info, 'message', '')[:300]} | path={case.path_parameters} query={case.query}"
                        )
        elif isinstance(event, events.NonFatalError):
            run.errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            run.errors.append(repr(event.exception))
    return run


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory, bundled_catalogue: Catalogue) -> Iterator[tuple[Engine, Path]]:
    """A SQLite store with the catalogue, demo keys and two agencies' uploads, for the whole run."""
    root = tmp_path_factory.mktemp("fuzz")
    engine = db.make_engine(f"sqlite:///{root / 'fuzz.sqlite3'}")
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        load_bundled(session, catalogue=bundled_catalogue)
    store_settings = Settings(data_dir=root / "data")
    for agency, row in (
        ("notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1100,,,,"),
        ("lewisham_council", "cyp.lac_count,E09000023,2025-03-31,,480,,,,"),
    ):
        data = (HEADER + row + "\n").encode()
        submit(engine, store_settings, agency_code=agency, filename=f"{agency}.csv", data=data)
    yield engine, root
    engine.dispose()


@pytest.fixture(scope="module")
def fuzz_app(fuzz_store: tuple[Engine, Path]) -> Any:
    """An app on the fuzzing store."""
    engine, root = fuzz_store
    app = create_app(Settings(data_dir=root / "data"), engine=engine)
    # The coverage phase sends malformed keys on purpose; held back, the address would get only 429s after.
    app.state.key_throttle = KeyThrottle(failures=10**9)
    return app


@pytest.mark.slow
@pytest.mark.parametrize("key", [OFFICER, NOTTS], ids=["officer", "agency"])
def test_schemathesis_finds_nothing(fuzz_app: Any, key: str) -> None:
    run = run_schemathesis(fuzz_app, key)
    # The counts are the run's evidence; -s shows them.
    sys.stderr.write(
        f"\nschemathesis with {key[:12]}…: {len(run.operations)} operations, {run.requests} requests, "
        f"statuses {dict(sorted(run.statuses.items()))}, {len(run.failures)} failed checks\n"
    )
    assert not run.errors, "\n".join(run.errors)
    assert not run.failures, "\n".join(run.failures)
    assert run.statuses.get(500, 0) == 0
    assert run.requests > 100, "the run must really have exercised the API"
