"""One record-level path in a fresh process, for ``bench records`` (``python -m benchmarks.records --one 903 ...``):
its answer, one line of JSON, is the last line it prints."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.records.path import one

parser = argparse.ArgumentParser()
parser.add_argument("--one", choices=["903", "cin"], required=True)
parser.add_argument("--year", required=True)
parser.add_argument("--la", required=True)
parser.add_argument("files", nargs="+", type=Path)
ns = parser.parse_args()
print(json.dumps(one(ns.one, ns.files, ns.year, ns.la)))
