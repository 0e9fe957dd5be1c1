"""A council's SEN2 file of a large county served: the serving process's memory and each answer's time and size.

``./run bench sen2-serve`` writes a seeded synthetic SEN2 file (illustrative, :mod:`cli.synthetic.sen2`) of
``--children`` children (default 60,000) for the January 2025 survey, starts ``onereturn serve`` in its own process
on a fresh SQLite store (the catalogue and the demo's keys, none of its uploads: ``benchmarks.server``), and as the
county's approver:

- uploads the file (the door's check, the file kept sealed, its children and figures stored);
- lists DfE's twelve tables, then asks for each table's CSV;
- asks for List 1 as at 31 March 2025 as JSON (one page of ``--page`` rows, then every page in turn) and as the
  workbook, and the checks across returns.

Each request's row gives its status, seconds, answer size and the peak resident memory (``VmHWM``) while it ran of
the process serving requests and, apart, of the upload processes it started (a SEN2 file is checked in one; one
left holding much is renewed after the upload); the last row is the serving process's peak over every request and
what it holds once every answer is given. Nothing is asserted: the figures are printed as JSON lines, to be written
up in ``docs/sen2-benchmark.md``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.server import MIB, Server, free_port, sampled_peaks, status

COUNTY = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
YEAR, ON = "2024-25", "2025-03-31"


def _row(server: Server, name: str, call: Any) -> tuple[dict[str, Any], Any]:
    """One request: its status, seconds and answer size, and the peak resident memory while it ran of the process
    serving requests and, apart, of the upload processes it started."""
    with sampled_peaks(server.proc.pid) as peaks:
        started = time.monotonic()
        try:
            response = call()
        finally:
            seconds = time.monotonic() - started
    serving = server.proc.pid
    row = {
        "phase": name,
        "status": response.status_code,
        "seconds": round(seconds, 2),
        "bytes": len(response.content),
        "serving_peak_mib": round(peaks[serving] / MIB),
        "serving_after_mib": round(status(serving, "VmRSS") / MIB),
        "upload_processes_peak_mib": round(max((v for k, v in peaks.items() if k != serving), default=0) / MIB),
    }
    print(json.dumps(row), flush=True)
    return row, response


def _list1_pages(server: Server, page: int) -> Any:
    """Every page of List 1 as JSON in turn; the last page's answer."""
    offset = 0
    while True:
        answer = server.client.get(
            "/api/agencies/notts_cyp/annex-a-send",
            headers=COUNTY,
            params={"inspection_date": ON, "limit": page, "offset": offset},
        )
        body = answer.json()
        offset += len(body.get("rows", []))
        if answer.status_code != 200 or offset >= body.get("total", 0) or not body.get("rows"):
            return answer


def main(argv: list[str]) -> None:
    """Write the file, start the service, make each request and print what each cost."""
    from cli.synthetic.sen2 import synthetic_sen2

    parser = argparse.ArgumentParser(prog="python -m benchmarks sen2-serve")
    parser.add_argument("--children", type=int, default=60_000)
    parser.add_argument("--page", type=int, default=1_000)
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="onereturn-bench-sen2-serve-") as work:
        path = synthetic_sen2(11, args.children, 2025, Path(work) / "file", la="E10000024")
        print(json.dumps({"file_mib": round(path.stat().st_size / MIB, 1), "children": args.children}), flush=True)
        server = Server(Path(work), free_port(), 64 * MIB, demo=False)
        try:
            base = f"/api/agencies/notts_cyp/sen2/{YEAR}"
            with path.open("rb") as handle:
                data = handle.read()
            sent, answer = _row(
                server,
                "upload",
                lambda: server.client.post(
                    "/api/submissions",
                    headers=COUNTY,
                    data={"collection_year": YEAR},
                    files=[("files", (path.name, data, "application/xml"))],
                ),
            )
            rows.append(sent)
            listed, answer = _row(server, "tables listed", lambda: server.client.get(f"{base}/tables", headers=COUNTY))
            rows.append(listed)
            for item in answer.json().get("items", []):
                href = item["href"]
                rows.append(
                    _row(server, f"table {item['table']}", lambda h=href: server.client.get(h, headers=COUNTY))[0]
                )
            on = {"inspection_date": ON}
            list1 = "/api/agencies/notts_cyp/annex-a-send"
            rows.append(
                _row(server, "List 1 JSON, first answer", lambda: server.client.get(list1, headers=COUNTY, params=on))[
                    0
                ]
            )
            rows.append(
                _row(server, f"List 1 JSON, every page of {args.page:,}", lambda: _list1_pages(server, args.page))[0]
            )
            rows.append(
                _row(server, "List 1 workbook", lambda: server.client.get(f"{list1}.xlsx", headers=COUNTY, params=on))[
                    0
                ]
            )
            rows.append(
                _row(server, "cross-checks", lambda: server.client.get(f"{base}/cross-checks", headers=COUNTY))[0]
            )
            held = status(server.proc.pid, "VmRSS")
            print(
                json.dumps(
                    {
                        "serving_peak_mib_of_every_phase": max(r["serving_peak_mib"] for r in rows),
                        "upload_processes_peak_mib": max(r["upload_processes_peak_mib"] for r in rows),
                        "serving_rss_after_mib": round(held / MIB),
                    }
                ),
                flush=True,
            )
        finally:
            server.stop()
