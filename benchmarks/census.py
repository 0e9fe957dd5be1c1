"""A county's school census term: read and checked, against the same CSVs read alone with polars.

``python -m benchmarks.census`` writes a seeded made-up census in COLLECT's blade layout
(:func:`collectors.census.synthetic.write_census`: ``--pupils`` pupils on roll, default 250,000, the autumn census of
2024, about six session rows a pupil and an exclusion row for one pupil in twelve, so about 1.5 million session rows
and 20,000 exclusion rows at the default) and times, each the best of ``--repeat`` runs:

- polars alone: every blade read whole as text by ``polars.read_csv``, nothing more (the floor of any reader);
- the census read and checked (:func:`collectors.census.blades.read_census`): each blade known by its heading and
  checked against the 2024 autumn schema, the checks that join the blades, the census's tables made; target under
  60 s at the default size, with its ratio to polars alone.

The functions another part of the benchmark builds on: :func:`made_county` (the census's files),
:func:`polars_alone` and :func:`read_checked` (each one run, in seconds) and :func:`reading` (the rows above). The
storing part (the census minimised and kept through the door) adds its rows beside these.

Nothing is asserted: the figures are printed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

YEAR, TERM = 2024, "autumn"


def made_county(folder: Path, pupils: int, seed: int = 1) -> list[tuple[str, Path]]:
    """The made-up county's census term, written into ``folder`` as COLLECT names its blades."""
    from collectors.census.synthetic import write_census

    return write_census(folder, [], year=YEAR, term=TERM, others=pupils, seed=seed)


def polars_alone(files: list[tuple[str, Path]]) -> float:
    """Seconds to read every blade whole as text with polars alone."""
    import polars as pl

    started = time.perf_counter()
    for _, path in files:
        pl.read_csv(path, infer_schema=False)
    return time.perf_counter() - started


def read_checked(files: list[tuple[str, Path]]) -> float:
    """Seconds to read and check the census as the service does."""
    from collectors.census.blades import read_census

    started = time.perf_counter()
    read_census(files)
    return time.perf_counter() - started


def _best(repeat: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(repeat))


def reading(files: list[tuple[str, Path]], repeat: int) -> dict[str, float]:
    """The reading part's rows: seconds for polars alone and for the census read and checked."""
    return {
        "polars alone: every blade read as text": _best(repeat, lambda: polars_alone(files)),
        "the census read and checked": _best(repeat, lambda: read_checked(files)),
    }


def main(argv: list[str]) -> None:
    """Write the census, time each row and print the table."""
    from collectors.census.blades import read_census

    parser = argparse.ArgumentParser(prog="python -m benchmarks.census")
    parser.add_argument("--pupils", type=int, default=250_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="onereturn-bench-census-") as work:
        files = made_county(Path(work), args.pupils)
        size = sum(path.stat().st_size for _, path in files)
        read = read_census(files)
        rows = reading(files, args.repeat)
    floor = rows["polars alone: every blade read as text"]
    print(
        f"A made-up county's {YEAR} {TERM} census: {read.pupils_read:,} pupils, {read.records.sessions.height:,} "
        f"sessions by code, {read.records.exclusions.height:,} exclusions, {size / (1 << 20):,.1f} MB of blades; "
        f"best of {args.repeat}\n"
    )
    print("| row | seconds | x polars alone |\n|---|---:|---:|")
    for row, seconds in rows.items():
        print(f"| {row} | {seconds:.2f} | {seconds / floor:.1f} |")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
