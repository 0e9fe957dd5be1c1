"""Time the SSD extract's own part: ``python -m benchmarks ssd [--lac N] [--cin N] [--repeat N] [--rules]``.

A synthetic SSD extract of ``--cin`` children in need and ``--lac`` looked-after children (the children of the
synthetic census and SSDA903 of the same seed) is unpacked, read and checked against the SSD's schema (timed beside
polars reading the same CSVs as text, the floor any check stands on), and made into the CIN census XML and the
SSDA903 tables and DfE's children's social care payloads. ``--rules`` also times DfE's rules on the two files made,
the part of an upload they dominate; ``--journey`` also sends the extract to a running service (``onereturn serve``
on a store of its own) and follows both submissions made from it to their last stage, against DfE's rules alone on
the same two files.
Best of ``--repeat`` runs, on this machine as it is (shared, so say what else ran).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.records.path import FINAL_STAGES
from benchmarks.server import MIB, Server, free_port
from cli.synthetic.ssd import synthetic_ssd
from collectors.records.contract import run_rules
from collectors.ssd.cin import make_cin
from collectors.ssd.intake import read_extract, unpack
from collectors.ssd.payload import kept_items
from collectors.ssd.payload_store import prepare
from collectors.ssd.service import collection
from collectors.ssd.spec import mapping
from collectors.ssd.ssda903 import make_ssda903

LA = "E10000007"
#: The synthetic county's key: the demo's council whose files are made and checked as Derbyshire's (``LA``).
COUNTY_KEY = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}


def _best(step: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv: list[str]) -> None:
    """Run the benchmark and print one line a step."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks ssd")
    parser.add_argument("--lac", type=int, default=2000)
    parser.add_argument("--cin", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rules", action="store_true", help="also time DfE's rules on the two files made")
    parser.add_argument(
        "--journey",
        action="store_true",
        help="also send the extract through a running service's upload (implies --rules)",
    )
    args = parser.parse_args(argv)
    year = "2024-25"
    # With the columns DfE's payloads read, as an upload reads the extract.
    maps = dataclasses.replace(mapping(year), items=(*mapping(year).items, *kept_items(identifiers=False)))
    with tempfile.TemporaryDirectory(prefix="onereturn-bench-ssd-") as work:
        path = synthetic_ssd(3, args.cin, year, Path(work), looked_after=args.lac, la=LA)
        members = unpack(path, path.name, max_unpacked=2**31)
        floor, _ = _best(
            lambda: {n: pl.read_csv(io.BytesIO(b), infer_schema=False) for n, b in members.items()}, args.repeat
        )
        unpacked, _ = _best(lambda: unpack(path, path.name, max_unpacked=2**31), args.repeat)
        checked, extract = _best(lambda: read_extract(members, maps), args.repeat)
        made_cin, census = _best(lambda: make_cin(extract, collection(year), "830"), args.repeat)
        made_903, tables = _best(lambda: make_ssda903(extract, collection(year)), args.repeat)
        payloads, built = _best(lambda: prepare(extract, date.today(), identifiers=False), args.repeat)
        print(
            f"SSD extract: {args.cin:,} children in need, {args.lac:,} looked after; {extract.rows:,} rows in "
            f"{len(members)} tables, {path.stat().st_size:,} bytes zipped"
        )
        print(f"  polars reads the CSVs      {floor:7.2f} s")
        print(f"  unpack                     {unpacked:7.2f} s")
        print(f"  read and check (pandera)   {checked:7.2f} s  ({checked / floor:.1f}x polars reading)")
        print(f"  make the CIN census XML    {made_cin:7.2f} s")
        print(f"  make the SSDA903 tables    {made_903:7.2f} s")
        print(f"  DfE's payloads and hashes  {payloads:7.2f} s  ({len(built.children):,} children)")
        print(f"  the extract's own part     {unpacked + checked + made_cin + made_903 + payloads:7.2f} s")
        if args.rules or args.journey:
            xml = Path(work) / "cin.xml"
            xml.write_bytes(census)
            folder = Path(work) / "903"
            with zipfile.ZipFile(io.BytesIO(tables)) as archive:
                archive.extractall(folder)
            files = [(p.name, p) for p in sorted(folder.iterdir())]
            cin_rules, _ = _best(lambda: run_rules("cin", "cin2024_25", [(xml.name, xml)]), 1)
            lac_rules, _ = _best(lambda: run_rules("903", "lac2024_25", files, local_authority=LA), 1)
            print(f"  DfE's CIN rules            {cin_rules:7.2f} s")
            print(f"  DfE's 903 rules            {lac_rules:7.2f} s")
            if args.journey:
                seconds, stages = journey(path, year, Path(work))
                rules = cin_rules + lac_rules
                print(
                    f"  the whole journey          {seconds:7.2f} s  ({seconds / rules:.2f}x DfE's rules alone on the "
                    f"two files, one after the other; stages: {', '.join(stages)})"
                )


def journey(path: Path, year: str, work: Path) -> tuple[float, list[str]]:
    """Send the extract as the synthetic county to a running service; the seconds until both submissions made from
    it reach their last stage, and those stages."""
    folder = work / "server"
    folder.mkdir()
    server = Server(folder, free_port(), 256 * MIB, demo=False)
    try:
        started = time.perf_counter()
        answer = server.client.post(
            "/api/submissions",
            headers=COUNTY_KEY,
            data={"collection_year": year},
            files=[("files", (path.name, path.read_bytes(), "application/zip"))],
        )
        if answer.status_code != 202:
            raise SystemExit(f"the extract was answered {answer.status_code}, not 202: {answer.text[:500]}")
        waiting = {int(s["id"]): "" for s in answer.json()["submissions"]}
        deadline = started + 3600
        while any(stage not in FINAL_STAGES for stage in waiting.values()):
            if time.perf_counter() > deadline:
                raise SystemExit(f"the submissions made from the extract did not end within an hour: {waiting}")
            for sid in waiting:
                waiting[sid] = server.client.get(f"/api/submissions/{sid}", headers=COUNTY_KEY).json()["stage"]
            time.sleep(0.05)
        return time.perf_counter() - started, list(waiting.values())
    finally:
        server.stop()
