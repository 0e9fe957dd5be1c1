"""The server's peak resident memory through large uploads and their reports; what reaches the disk for huge bodies.

Starts ``onereturn serve`` (SQLite, demo keys, no scheduler) in its own process and, for each phase,
resets the peak resident set of it and of its upload processes (``/proc/PID/clear_refs``), makes one request and reads the
peak back (``VmHWM``). Phases: a clean 1M-row CSV upload and its JSON report; a 1M-row CSV in which
every row has an error, its JSON report, ``report.csv`` and ``report.xlsx``; a 1M-row JSON upload.
Then a 1 GB chunked body (no ``Content-Length``) is sent with no key and with a key, while the
server's open temporary files are watched, to give the most bytes that ever reached the disk.
The target is under 1 GiB for every phase.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from benchmarks.collect import population_figures
from benchmarks.server import MIB, Server, status

OFFICER = "demo-officer-5e0b9c2a4f"


def _rows(template: Path, rows: int) -> pl.DataFrame:
    """The benchmark's figures: the same plausible population figures ``bench collect`` uploads."""
    return population_figures(f"sqlite:///{template}", rows)


def _upload(server: Server, path: Path, name: str) -> Any:
    with path.open("rb") as handle:
        return server.client.post(
            "/api/submissions", headers={"X-API-Key": OFFICER}, files={"file": (name, handle)}, data={"agency": "ons"}
        )


def _chunked(server: Server, total: int, key: str | None) -> dict[str, Any]:
    """Send ``total`` bytes as a chunked multipart body; watch the disk; return what the server took."""
    boundary = "benchboundary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'.encode()
    block = b"pop.resident_0_17,E06000001,CY2020,,100,,,,\n" * (MIB // 45)
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield head
        while sent < total:
            sent += len(block)
            yield block
        yield f"\r\n--{boundary}--\r\n".encode()

    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.temp_bytes())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    if key:
        headers["X-API-Key"] = key
    try:
        status: int | str = server.client.post("/api/submissions", headers=headers, content=body()).status_code
    except httpx.TransportError as exc:
        status = type(exc).__name__
    done.set()
    watcher.join()
    row = {
        "phase": f"1 GB chunked body, {'agency key' if key else 'no key'}",
        "status": status,
        "client_sent_mib": round(sent / MIB),
        "peak_temp_disk_mib": round(peak / MIB, 2),
    }
    print(json.dumps(row), flush=True)
    return row


def main(argv: list[str]) -> None:
    """Run every phase and print one JSON line each, then a summary."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks memory")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunked-bytes", type=int, default=1 << 30)
    parser.add_argument("--max-upload-bytes", type=int, default=256 * MIB, help="the server's upload limit")
    parser.add_argument("--port", type=int, default=int(os.environ.get("ONERETURN_BENCH_PORT", "8140")))
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["csv", "json", "xlsx", "chunked"],
        help="leave out a phase: the CSV uploads, the JSON upload, report.xlsx, the chunked bodies",
    )
    parser.add_argument("--bare-store", action="store_true", help="start without the demo's uploads (a quicker start)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="onereturn-memory-") as work:
        folder = Path(work)
        server = Server(folder, args.port, args.max_upload_bytes, demo=not args.bare_store)
        print(json.dumps({"max_upload_bytes": args.max_upload_bytes}), flush=True)
        results: list[dict[str, Any]] = []
        try:
            print(json.dumps({"phase": "idle", "rss_mib": round(status(server.proc.pid, "VmRSS") / MIB)}), flush=True)
            frame = _rows(folder / "data" / "onereturn.sqlite3", args.rows)
            clean, bad, as_json = folder / "clean.csv", folder / "bad.csv", folder / "figures.json"
            frame.write_csv(clean)
            frame.with_columns(pl.lit("not a number").alias("value")).write_csv(bad)
            as_json.write_text(json.dumps(frame.to_dicts()))
            uploads = [("clean", clean, "csv"), ("every row wrong", bad, "csv"), ("JSON", as_json, "json")]
            for label, path, kind in uploads:
                if kind in args.skip:
                    continue
                size = path.stat().st_size
                row, response = server.measure(
                    f"upload {args.rows:,} rows, {label} ({size / MIB:.0f} MiB)",
                    lambda p=path: _upload(server, p, p.name),
                )
                results.append(row)
                if response.status_code >= 500:
                    print(json.dumps({"server_log_tail": (folder / "server.log").read_text()[-3000:]}), flush=True)
                    continue
                sub = response.json().get("id")
                if sub is None:
                    continue
                for what in ("", "/report.csv", "/report.xlsx"):
                    if (label != "every row wrong" and what) or (what == "/report.xlsx" and "xlsx" in args.skip):
                        continue
                    row, _ = server.measure(
                        f"  its report{what or ' (JSON)'}",
                        lambda s=sub, w=what: server.client.get(
                            f"/api/submissions/{s}{w}", headers={"X-API-Key": OFFICER}
                        ),
                    )
                    results.append(row)
            for key in () if "chunked" in args.skip else (None, "demo-notts-cyp-2c9f41d07b"):
                results.append(_chunked(server, args.chunked_bytes, key))
        finally:
            server.stop()
    worst = max(r.get("peak_mib", 0) for r in results)
    print(
        json.dumps(
            {"summary": "peak resident memory of the worst phase", "peak_mib": worst, "under_1_gib": worst < 1024}
        )
    )
