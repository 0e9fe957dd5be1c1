"""The officer's pages, as a browser asks for them, on the demo and on ×N its data: cold and warm, p50 and p95.

The store is made as ``onereturn serve`` makes it (the bundled catalogue, the demo agencies, every demo upload,
signed off). ``--scale N`` adds N-1 copies of every demo council and health body that uploads (Nottinghamshire,
Lewisham council, Lewisham PCT): each copy answers for copies of its org units (same type and parent), owes the
same returns and uploads the same demo files for its own org units, and the demo signs them off, so agencies,
uploads, figures, deadlines owed and sign-offs all grow N times.

Each round starts the real service (``onereturn serve``, loopback, a port the system picks) on that store, signs in
as the performance officer (timed: the sign-in answers with the dashboard), then views every page once ("cold": the
first view of that page since the service started; pages share what earlier pages read) and ``--views`` times
more ("warm"). Then it starts the service again and asks "where to look" (``GET /api/compare/flags``) for the
demo's council first (cold) and ``--views`` times more. The table gives p50 and p95 of each over the rounds. The
targets: every officer page under 1 s warm on the demo, under 2 s warm at ×10; sign-in under 1 s cold, the
dashboard under 0.5 s, and "where to look" under 1 s the first time after a start.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.load import ROOT, free_port
from benchmarks.stores import empty_postgres

OFFICER_KEY = "demo-officer-5e0b9c2a4f"
#: The demo agencies copied at ×N: each uploads figures of its own org units.
COPIED = ("notts_cyp", "lewisham_council", "lewisham_pct")
#: Every page in the officer's navigation, and the review of one sign-off.
PAGES = (
    "/officer",
    "/officer/approvals",
    "/officer/approvals/notts_cyp/dfe_ssda903/FY2024-25",
    "/calendar",
    "/catalogue",
    "/burden",
    "/submissions",
    "/outbox",
    "/agencies",
    "/keys",
)

#: "Where to look" for Nottinghamshire, the demo's council, over the API (timed after a start of its own).
FLAGS = "/api/compare/flags?org=E10000024"


def _copy_agencies(engine: Any, scale: int) -> None:
    """Add ``scale - 1`` copies of each agency in COPIED, with copies of its org units and links."""
    from sqlalchemy import insert
    from sqlmodel import Session, col, select

    from mappings.models import Agency, AgencyIndicator, AgencyOrg, AgencyReturn, OrgParent, OrgUnit

    made: set[str] = set()
    with Session(engine) as session:
        for code in COPIED:
            agency = session.get(Agency, code)
            assert agency is not None, code
            orgs = list(session.execute(select(AgencyOrg.org_code).where(AgencyOrg.agency_code == code)).scalars())
            inds = list(
                session.execute(
                    select(AgencyIndicator.indicator_id).where(AgencyIndicator.agency_code == code)
                ).scalars()
            )
            rets = list(
                session.execute(select(AgencyReturn.return_id).where(AgencyReturn.agency_code == code)).scalars()
            )
            # Agencies can share an org unit (Lewisham's council and PCT): each copy of it is made once.
            units = [u for u in (session.get(OrgUnit, o) for o in orgs) if u is not None and u.code not in made]
            made |= {u.code for u in units}
            fresh = [u.code for u in units]
            parents = list(session.execute(select(OrgParent).where(col(OrgParent.child_code).in_(fresh))).scalars())
            for k in range(2, scale + 1):
                copy = f"{code}_x{k}"
                session.add(
                    Agency(
                        code=copy,
                        name=f"{agency.name} (copy {k})",
                        body_type=agency.body_type,
                        email=agency.email,
                        source="bench",
                        origin="api",
                        definition=agency.definition,
                        created_at=agency.created_at,
                        updated_at=agency.updated_at,
                    )
                )
                session.flush()
                _copy_units(session, units, parents, k)
                session.execute(insert(AgencyOrg), [{"agency_code": copy, "org_code": f"{o}x{k}"} for o in orgs])
                session.execute(insert(AgencyIndicator), [{"agency_code": copy, "indicator_id": i} for i in inds])
                session.execute(insert(AgencyReturn), [{"agency_code": copy, "return_id": r} for r in rets])
        session.commit()


def _copy_units(session: Any, units: list[Any], parents: list[Any], k: int) -> None:
    """The ``k``th copy of an agency's org units, each under the parents its original has."""
    from sqlalchemy import insert

    from mappings.models import OrgParent, OrgUnit

    if units:
        session.execute(
            insert(OrgUnit),
            [
                {
                    "code": f"{u.code}x{k}",
                    "name": f"{u.name} (copy {k})",
                    "type": u.type,
                    "valid_from": u.valid_from,
                    "valid_to": u.valid_to,
                    "source": "bench",
                }
                for u in units
            ],
        )
    if parents:
        session.execute(
            insert(OrgParent),
            [
                {
                    "child_code": f"{p.child_code}x{k}",
                    "parent_code": p.parent_code,
                    "valid_from": p.valid_from,
                    "valid_to": p.valid_to,
                    "source": "bench",
                }
                for p in parents
            ],
        )


def _upload_copies(engine: Any, settings: Any, scale: int) -> int:
    """Upload each copied agency's demo files for its copy's org units; return how many uploads were made."""
    from sqlmodel import Session, select

    from cli.demo import DEMO_DIR
    from collectors.figures.service import submit
    from mappings.models import AgencyOrg

    made = 0
    for code in COPIED:
        with Session(engine) as session:
            orgs = list(session.execute(select(AgencyOrg.org_code).where(AgencyOrg.agency_code == code)).scalars())
        for path in sorted((DEMO_DIR / code).glob("*.csv")):
            text = path.read_text(encoding="utf-8")
            for k in range(2, scale + 1):
                copied = text
                for org in orgs:
                    copied = re.sub(rf",{re.escape(org)},", f",{org}x{k},", copied)
                outcome = submit(
                    engine,
                    settings,
                    agency_code=f"{code}_x{k}",
                    filename=path.name,
                    data=copied.encode(),
                    submitted_by="bench",
                )
                assert outcome.submission is not None
                made += 1
    return made


def prepare(folder: Path, scale: int, database_url: str) -> dict[str, str]:
    """Make the demo store (×``scale``) in ``folder`` (or the PostgreSQL database given); return the service's env."""
    from sqlmodel import Session

    from cli.demo import DEMO_APPROVER, load_demo
    from exports.signoff.acts import sign_off_all
    from mappings.service import load_bundled
    from onereturn import db
    from onereturn.settings import Settings

    if database_url:
        empty_postgres(database_url)
    url = database_url or f"sqlite:///{folder / 'onereturn.sqlite3'}"
    settings = Settings(data_dir=folder, database_url=url)
    engine = db.make_engine(url)
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        load_bundled(session, demo_keys=True)
    load_demo(engine, settings)
    if scale > 1:
        _copy_agencies(engine, scale)
        uploads = _upload_copies(engine, settings, scale)
        with Session(engine) as session:
            sign_off_all(session, DEMO_APPROVER)
            session.commit()
        print(f"x{scale}: {uploads} more uploads by {len(COPIED) * (scale - 1)} more agencies", file=sys.stderr)
    engine.dispose()
    return service_env(folder, database_url)


def service_env(folder: Path, database_url: str) -> dict[str, str]:
    """The environment the service is started with on the store in ``folder`` (or the PostgreSQL database given)."""
    return {
        **os.environ,
        "ONERETURN_DATA_DIR": str(folder),
        "ONERETURN_DATABASE_URL": database_url,
        "ONERETURN_LOAD_DEMO": "true",
        "ONERETURN_SCHEDULER_EMBEDDED": "false",
    }


def _serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import cli; cli.main()", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the service stopped while starting; see {log}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    _stop(proc)
    raise SystemExit(f"the service did not start within 300 s; see {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _timed(client: httpx.Client, method: str, path: str, **kwargs: Any) -> float:
    started = time.perf_counter()
    answer = client.request(method, path, **kwargs)
    took = time.perf_counter() - started
    if answer.status_code != 200:
        raise SystemExit(f"{method} {path} answered {answer.status_code}: {answer.text[:500]}")
    return took


def measure(env: dict[str, str], log: Path, rounds: int, views: int) -> dict[str, dict[str, list[float]]]:
    """Start the service ``rounds`` times; each time sign in, then view every page once (cold) and ``views`` times."""
    times: dict[str, dict[str, list[float]]] = {p: {"cold": [], "warm": []} for p in ("sign-in", *PAGES, FLAGS)}
    for _ in range(rounds):
        proc, base = _serve(env, log)
        try:
            with httpx.Client(base_url=base, timeout=300, follow_redirects=True) as client:
                form = client.get("/sign-in")
                token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
                assert token is not None, form.text[:500]
                times["sign-in"]["cold"].append(
                    _timed(client, "POST", "/sign-in", data={"key": OFFICER_KEY, "csrf_token": token.group(1)})
                )
                for path in PAGES:
                    times[path]["cold"].append(_timed(client, "GET", path))
                for _ in range(views):
                    for path in PAGES:
                        times[path]["warm"].append(_timed(client, "GET", path))
        finally:
            _stop(proc)
        # "Where to look" over the API, the first call after a start of its own (nothing read before it) and again.
        proc, base = _serve(env, log)
        try:
            with httpx.Client(base_url=base, timeout=300, headers={"X-API-Key": OFFICER_KEY}) as client:
                for kind in ("cold", *["warm"] * views):
                    times[FLAGS][kind].append(_timed(client, "GET", FLAGS))
        finally:
            _stop(proc)
    return times


def _quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def table(scale: int, times: dict[str, dict[str, list[float]]]) -> str:
    """Format one scale's timings: cold and warm p50 and p95 per page, in seconds."""
    lines = [
        f"x{scale}: {'page':<52} {'cold p50':>9} {'cold p95':>9} {'warm p50':>9} {'warm p95':>9}",
    ]
    for page, kinds in times.items():
        cells = []
        for kind in ("cold", "warm"):
            values = kinds[kind]
            cells += [f"{_quantile(values, 0.5):>8.2f}s", f"{_quantile(values, 0.95):>8.2f}s"] if values else ["-", "-"]
        lines.append(f"x{scale}: {page:<52} " + " ".join(f"{c:>9}" for c in cells))
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    """Make the demo store at each scale, then time the officer's pages on the real service."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks pages", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, nargs="+", default=[1, 10], help="copies of the demo's data (1 10)")
    parser.add_argument("--rounds", type=int, default=3, help="service starts per scale, one cold view each (3)")
    parser.add_argument("--views", type=int, default=5, help="warm views of each page per round (5)")
    parser.add_argument("--database-url", default="", help="a PostgreSQL database to use (emptied first)")
    args = parser.parse_args(argv)
    if any(s < 1 for s in args.scale) or args.rounds < 1 or args.views < 1:
        parser.error("--scale, --rounds and --views take whole numbers of 1 or more")
    for scale in args.scale:
        with tempfile.TemporaryDirectory(prefix="onereturn-pages-") as tmp:
            folder = Path(tmp)
            started = time.monotonic()
            env = prepare(folder, scale, args.database_url)
            print(f"x{scale}: store made in {time.monotonic() - started:.0f} s", file=sys.stderr)
            times = measure(env, folder / "service.log", args.rounds, args.views)
        print(table(scale, times), flush=True)
