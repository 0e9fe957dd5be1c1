"""The record-level path measured once over one return's files: the service's path (gather, read, DfE's rules,
derive; timed by stage) and DfE's library alone on the same files, in a fresh process of the validators'
environment; and the demo council's key and the last stages an upload to a running service ends at.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# DfE's library called directly through its own entry points (LacValidator; process_data and CinValidator),
# run in the validators' environment: the time and peak memory of that process, as JSON on the last line.
LIBRARY_903 = """
import importlib, json, resource, sys, time
started = time.perf_counter()
from lac_validator import lac_validator
paths, la, year = sys.argv[1:-2], sys.argv[-2], sys.argv[-1]
registry = importlib.import_module("lac_validator.rules.lac" + year).registry
files = [dict(name=p, description="This year", file_content=open(p, "rb").read()) for p in paths]
v = lac_validator.LacValidator(metadata={"collectionYear": "20" + year[-2:], "localAuthority": la}, files=files,
                               registry=registry)
# Its Report cannot be built when nothing is found (pandas: no objects to concatenate), so the places each rule
# flags are counted from its results, as the service's runner reads them.
found = sum(int((frame[c] == True).sum()) for t, frame in v.ds_results.items() if t != "metadata"
            for c in frame.columns if str(c).startswith("ERR_"))
print(json.dumps({"seconds": time.perf_counter() - started, "findings": found,
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

LIBRARY_CIN = """
import importlib, json, resource, sys, time
started = time.perf_counter()
import xml.etree.ElementTree as ET
from cin_validator import cin_validator
path, year = sys.argv[1], sys.argv[2]
registry = importlib.import_module("cin_validator.rules.cin" + year).registry
data = cin_validator.process_data(cin_validator.convert_data(ET.parse(path).getroot()))
v = cin_validator.CinValidator(data, registry)
print(json.dumps({"seconds": time.perf_counter() - started, "findings": len(v.full_issue_df),
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


@dataclass
class Run:
    """One timed run: wall seconds, findings, and the peak resident set of each process involved."""

    seconds: float
    findings: int
    peak: int
    rules_peak: int = 0
    stages: dict[str, float] | None = None


def library_run(kind: str, files: list[Path], year: str, la: str) -> Run:
    """DfE's library alone on the same files, in a fresh process of the validators' environment."""
    from collectors.records.contract import validators_python

    ruleset_year = year.replace("-", "_")
    if kind == "903":
        args = ["-c", LIBRARY_903, *map(str, files), la, ruleset_year]
    else:
        args = ["-c", LIBRARY_CIN, str(files[0]), ruleset_year]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    started = time.perf_counter()
    done = subprocess.run([str(validators_python()), *args], capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"DfE's library alone failed on the {kind} files:\n{done.stderr[-3000:]}")
    seconds = time.perf_counter() - started
    answer = json.loads(done.stdout.splitlines()[-1])
    return Run(seconds, answer["findings"], answer["peak"])


#: The demo key of the council whose org is the synthetic files' council (E10000024).
COUNCIL_KEY = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
FINAL_STAGES = ("stored", "rejected", "failed")


def one(kind: str, files: list[Path], year: str, la: str) -> dict[str, Any]:
    """The service's path over one return's files: gather, read, DfE's rules, derive; time by stage."""
    from collectors.records.cin_figures import derive_cin
    from collectors.records.cin_tables import read_cin_tables
    from collectors.records.contract import ruleset_for, run_rules
    from collectors.records.inputs import gather, which_return
    from collectors.records.ssda903_figures import derive_ssda903
    from collectors.records.ssda903_tables import read_csv_tables

    stages: dict[str, float] = {}
    mark = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="onereturn-bench-") as workdir:
        gathered = gather(files, Path(workdir))
        library = which_return(gathered)
        if library != kind:
            raise SystemExit(f"expected a {kind} return, read {library}")
        ending = int(year[:4]) + 1
        if kind == "903":
            tables = read_csv_tables(files[0].parent)
        else:
            cin_tables = read_cin_tables(files[0].read_bytes())
        stages["read"] = time.perf_counter() - mark
        mark = time.perf_counter()
        found = run_rules(kind, ruleset_for(kind, year), gathered, local_authority=la if kind == "903" else None)
        stages["rules"] = time.perf_counter() - mark
        mark = time.perf_counter()
        if kind == "903":
            figures = len(derive_ssda903(tables, year_ending=ending).figures)
        else:
            figures = len(derive_cin(cin_tables, year_ending=ending).figures)
        stages["derive"] = time.perf_counter() - mark
    return {
        "findings": len(found.findings),
        "figures": figures,
        "stages": stages,
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "rules_peak": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    }
