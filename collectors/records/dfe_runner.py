"""DfE's validation rules over one return's files, as a script: a JSON request on stdin, a JSON answer on stdout.

Executed by the interpreter of ``.venv-validators`` (DfE's CSC validator libraries pin pandas<2 and numpy<1.25,
which cannot share the service's environment), so it imports only the standard library and those libraries:
``lac_validator`` (csc-validator-be-903, the SSDA903 return) and ``cin_validator`` (csc-validator-be-cin, the
CIN census). It calls their public entry points and never changes a rule. One thing reaches inside the 903 library:
which postcodes its lookup holds (``_Named``), read from its own files through its own private readers, which
``validators.lock`` pins; ``tests/collectors/records/test_dfe_runner_postcodes.py`` compares every distance and
finding with the library left alone, so a new release that reads otherwise fails there first.
``collectors/records/contract.py`` is the service's side and documents the contract.

    python dfe_runner.py --memory-mib 1536 < request.json > answer.json
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import importlib
import io
import json
import logging
import os
import pkgutil
import resource
import sys
import threading
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

CONTRACT = 1
#: Exit status when the memory limit was reached, so the caller can say so even if no answer was written.
EXIT_MEMORY = 3
#: Exit status for an answer that is an error (the answer says which).
EXIT_ERROR = 2

LIBRARIES = {
    "903": ("lac_validator", "csc-validator-be-903", "lac"),
    "cin": ("cin_validator", "csc-validator-be-cin", "cin"),
}


class InputError(Exception):
    """The files cannot be read as the return they claim to be."""


def main() -> None:
    """Read the request, run it, write the answer; never let the library write to stdout."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory-mib", type=int, default=0)
    args = parser.parse_args()
    if args.memory_mib > 0:
        limit = args.memory_mib * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _die_with_parent(os.getppid())
    # The 903 library logs every rule it runs at INFO; warnings and the tracebacks of rules that raise remain.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    out = sys.stdout
    try:
        request = json.load(sys.stdin)
        # The CIN library prints a rule's exception to stdout; stdout carries only the answer.
        with contextlib.redirect_stdout(sys.stderr):
            answer = _handle(request)
        status = 0
    except MemoryError:
        # The limit may leave too little to build an answer; the exit status says it on its own.
        os._exit(EXIT_MEMORY)
    except InputError as exc:
        answer, status = _error("input", str(exc)), EXIT_ERROR
    except Exception as exc:
        if _is_memory(exc):
            os._exit(EXIT_MEMORY)
        traceback.print_exc(file=sys.stderr)
        kind = "input" if type(exc).__name__ == "UploadError" else "library"
        # An exception's own text can quote a cell; its kind and the traceback (values taken out by the caller) say enough.
        answer, status = _error(kind, type(exc).__name__), EXIT_ERROR
    # One write: under PYTHONUNBUFFERED each of json.dump's many small pieces would be a write to the pipe.
    out.write(json.dumps(answer))
    out.flush()
    sys.stderr.flush()
    # Skips the interpreter's clean-up: after a failed import under the memory limit it can wait forever on a lock.
    os._exit(status)


#: How an allocation refused under RLIMIT_AS shows when it is not a MemoryError: numpy's own message, and the
#: dynamic loader's when it cannot map an extension module.
_MEMORY_SIGNS = ("Unable to allocate", "failed to map segment", "Cannot allocate memory")


def _is_memory(exc: BaseException) -> bool:
    # numpy and imports under RLIMIT_AS report an allocation failure in several ways, sometimes as the cause.
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        if isinstance(seen, MemoryError) or any(sign in text for sign in _MEMORY_SIGNS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _die_with_parent(parent: int) -> None:
    # Stopped by a signal it cannot catch, the service leaves this process behind; it ends itself instead.
    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"contract": CONTRACT, "ok": False, "error": {"kind": kind, "message": message}}


def _handle(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("contract") != CONTRACT:
        raise InputError(f"this runner speaks contract {CONTRACT}, not {request.get('contract')!r}")
    action = request.get("action")
    if action == "rulesets":
        return {"contract": CONTRACT, "ok": True, "rulesets": {lib: _rulesets(lib) for lib in LIBRARIES}}
    if action != "validate":
        raise InputError(f"unknown action {action!r}")
    library = request["library"]
    ruleset = request["ruleset"]
    available = _rulesets(library)
    if ruleset not in available:
        answer = _error("ruleset", f"{LIBRARIES[library][1]} has no rule set {ruleset}")
        answer["error"]["available"] = available
        return answer
    files = [(Path(f["path"]), f["name"]) for f in request["files"]]
    started = time.perf_counter()
    registry, raised = _recording(importlib.import_module(f"{LIBRARIES[library][0]}.rules.{ruleset}").registry)
    result = _run_903(files, registry, raised, request) if library == "903" else _run_cin(files, registry, raised)
    name = LIBRARIES[library][1]
    return {
        "contract": CONTRACT,
        "ok": True,
        "library": name,
        "library_version": package_metadata.version(name),
        "ruleset": ruleset,
        "rules_run": len(registry),
        "seconds": round(time.perf_counter() - started, 3),
        **result,
    }


def _rulesets(library: str) -> list[str]:
    """The library's own rule sets, one a collection year (``lac2024_25``, ``cin2024_25``)."""
    module, _, prefix = LIBRARIES[library]
    rules = importlib.import_module(f"{module}.rules")
    return sorted(m.name for m in pkgutil.iter_modules(rules.__path__) if m.ispkg and m.name.startswith(prefix))


def _recording(registry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The registry with each rule's function wrapped to note what it raised (then raise it again, as before)."""
    raised: dict[str, str] = {}

    def wrap(code: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                # An exception's text may quote a child's value; the kind of error is enough to say why.
                raised[code] = type(exc).__name__
                raise

        return run

    return {
        code: dataclasses.replace(rule, func=wrap(str(rule.code), rule.func)) for code, rule in registry.items()
    }, raised


def _read(files: list[tuple[Path, str]]) -> list[tuple[str, bytes]]:
    if not files:
        raise InputError("no files were given")
    read = []
    for path, name in files:
        content = path.read_bytes()
        if not content.strip():
            raise InputError(f"{name} is empty")
        read.append((name, content))
    return read


def _csv_columns(name: str, content: bytes) -> list[str]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not UTF-8 text (byte {exc.start}); save it again as CSV UTF-8") from exc
    return [c.strip() for c in next(csv.reader(io.StringIO(text)), [])]


def _few(items: list[str], shown: int = 5) -> str:
    """The first few named and the rest counted, so a header of 50,000 columns gives a short message."""
    rest = len(items) - shown
    return ", ".join(items[:shown]) + (f" and {rest:,} more" if rest > 0 else "")


def _check_903_tables(files: list[tuple[str, bytes]], column_names: dict[str, list[str]]) -> dict[str, str]:
    """Which 903 table each CSV is, by its columns as DfE's tool matches them; a clear error otherwise."""
    tables: dict[str, str] = {}
    for name, content in files:
        columns = _csv_columns(name, content)
        matches = [table for table, expected in column_names.items() if set(columns) == set(expected)]
        if not matches:
            table, expected = max(column_names.items(), key=lambda item: len(set(item[1]) & set(columns)))
            missing = [c for c in expected if c not in columns]
            extra = [c for c in columns if c not in expected]
            detail = "; ".join(
                part
                for part in (
                    f"missing {_few(missing)}" if missing else "",
                    f"not expected {_few(extra)}" if extra else "",
                )
                if part
            )
            raise InputError(f"{name} is not an SSDA903 table: nearest is {table} ({detail})")
        if matches[0] in tables:
            raise InputError(f"{name} and {tables[matches[0]]} are both the {matches[0]} table")
        tables[matches[0]] = name
    return tables


def _run_903(
    files: list[tuple[Path, str]], registry: dict[str, Any], raised: dict[str, str], request: dict[str, Any]
) -> dict[str, Any]:
    from lac_validator.config import column_names
    from lac_validator.lac_validator import LacValidator

    read = _read(files)
    kinds = {name.rsplit(".", 1)[-1].lower() for name, _ in read}
    if kinds == {"csv"}:
        _check_903_tables(read, column_names)
    elif kinds == {"xml"}:
        if len(read) > 1:
            raise InputError(f"one SSDA903 XML file is a whole return; {len(read)} were given")
        _parse_xml(*read[0])
    else:
        raise InputError(f"SSDA903 files are CSV (one a table) or one XML file, not {', '.join(sorted(kinds))}")
    uploaded = [{"name": name, "description": "This year", "file_content": content} for name, content in read]
    held = _postcodes_named_only()
    end_year = str(int(request["ruleset"][3:7]) + 1)
    validator = LacValidator(
        metadata={"collectionYear": end_year, "localAuthority": request["local_authority"]},
        files=uploaded,
        registry=registry,
    )
    findings = []
    for table, frame in validator.ds_results.items():
        if table == "metadata":
            continue
        for column in frame.columns:
            if not str(column).startswith("ERR_"):
                continue
            rule = registry[column[4:]]
            flagged = frame.index[frame[column] == True]  # noqa: E712 - the column holds True or NaN
            for row, child in zip(flagged, frame.loc[flagged, "CHILD"], strict=True):
                findings.append(_finding(rule.code, rule.message, table, child, int(row), rule.affected_fields))
    present = sorted(table for table in validator.dfs)
    episodes = validator.ds_results.get("Episodes")
    # DfE's library works out each placement's distance from home from the two postcodes (its datastore, "taken
    # straight from the guidance"); the service keeps the distance and never the postcodes.
    distances = (
        [None if value != value else float(value) for value in episodes["PL_DISTANCE"]]  # NaN is not equal to itself
        if episodes is not None and "PL_DISTANCE" in episodes.columns
        else []
    )
    return {
        "postcodes_held": held.held(),
        "episode_distances": distances,
        "tables": {table: len(validator.dfs[table]) for table in present},
        "tables_missing": [table for table in column_names if table not in validator.dfs],
        "findings": findings,
        "rules_raised": [_rule(registry[code], raised.get(code, "")) for code in validator.fails],
        "rules_skipped": [_rule(registry[code], "a table each needs was not given") for code in validator.skips],
    }


class _Named:
    """The postcodes DfE's library holds: of each postcode file it asks for (one a first letter), only the postcodes
    of the episodes it looks up, where it would hold every postcode of that letter (a county's placements ask for
    most of the country's letters, over 250 MiB of a 903's 330 MiB peak). What each lookup finds is the same: a
    postcode it looks up is held exactly when the library's whole letter holds it."""

    def __init__(self, postcodes: Any) -> None:
        self.postcodes = postcodes
        self.letters: set[str] = set()
        self.wanted: set[str] = set()

    def held(self) -> int:
        """How many postcodes the library holds."""
        return len(self.postcodes.dataframe)

    def look_up(self, merge: Callable[..., Any]) -> Callable[..., Any]:
        """The library's ``merge_postcodes``, with the postcodes it will look up read first."""

        def merge_named(df: Any, postcode_field: str) -> Any:
            # The library's own key: a text upper-cased without its spaces (a cell not text it finds no postcode
            # for); the letters it reads, each text's first.
            written = [value.upper() for value in df[postcode_field] if isinstance(value, str)]
            self.read({text[0] for text in written if text}, {text.replace(" ", "") for text in written})
            return merge(df, postcode_field)

        return merge_named

    def read(self, letters: set[str], keys: set[str]) -> None:
        """Hold, of every letter asked for so far, the postcodes of every key asked for so far."""
        import pandas as pd

        postcodes = self.postcodes
        new_keys = keys - self.wanted
        reads = [(letter, keys | self.wanted) for letter in sorted(letters - self.letters)]
        # A letter held already gains only the keys not asked for before, so no postcode is held twice.
        reads += [(letter, new_keys) for letter in sorted(self.letters) if new_keys]
        self.letters |= letters
        self.wanted |= keys
        frames = [postcodes._df]
        for letter, wanted in reads:
            try:
                frames.append(_named_rows(postcodes, letter, wanted))
            except (ValueError, FileNotFoundError):
                continue  # as the library does: a letter with no file holds no postcode
        if len(frames) > 1:
            postcodes._df = pd.concat(frames)
            postcodes._df.reset_index(drop=True, inplace=True)
            postcodes._df["pcd_abbr"] = postcodes._df["pcd"].str.replace(" ", "")
        # Every letter asked for is read here: the library's own read finds each one read and reads nothing.
        postcodes._read = postcodes._read | {letter.upper() for letter in letters}


def _named_rows(postcodes: Any, letter: str, wanted: set[str]) -> Any:
    """The rows of the library's postcode file of ``letter`` whose postcode without its spaces is ``wanted``, as the
    library's own read makes them (``Postcodes._read_msgpack``), read a value at a time: the file (brotli over
    msgpack, its values column by column, the postcodes first) made whole into a frame took about 110 MiB at its peak
    for the largest letters. A file laid out otherwise is read whole by the library's read, then cut."""
    import brotli
    import msgpack
    import pandas as pd

    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(brotli.decompress(postcodes._get_filename(letter).read_bytes()))
    columns: list[str] = []
    values: dict[str, list[Any]] = {}
    floats: dict[str, bool] = {}
    rows: set[int] = set()
    for _ in range(unpacker.read_map_header()):
        if unpacker.unpack() != "data":
            columns = list(unpacker.unpack())
            continue
        for _ in range(unpacker.read_map_header()):
            column = unpacker.unpack()
            if column != "pcd" and not values:
                whole = postcodes._read_msgpack(letter)
                return whole[whole["pcd"].str.replace(" ", "").isin(wanted)]
            kept: list[Any] = []
            # Whether every value of the whole column is a float or missing: the library's frame is then float64.
            only_floats, seen_float = True, False
            for row in range(unpacker.read_array_header()):
                value = unpacker.unpack()
                if value is not None:
                    seen_float = seen_float or isinstance(value, float)
                    only_floats = only_floats and isinstance(value, float)
                if column == "pcd":
                    if isinstance(value, str) and value.replace(" ", "") in wanted:
                        kept.append(value)
                        rows.add(row)
                elif row in rows:
                    kept.append(value)
            values[column] = kept
            floats[column] = only_floats and seen_float
    # An empty column's type as the library's whole one's: object for text, float64 for the coordinates.
    series = {c: pd.Series(values[c], dtype="float64" if floats[c] else None if values[c] else object) for c in columns}
    return pd.DataFrame(series, columns=columns)


def _postcodes_named_only() -> _Named:
    """DfE's 903 library made to hold only the postcodes its episodes name (:class:`_Named`)."""
    from lac_validator import datastore

    named = _Named(datastore.postcodes)
    if not os.getenv("QLAC_DISABLE_PC"):
        datastore.merge_postcodes = named.look_up(datastore.merge_postcodes)
    return named


def _parse_xml(name: str, content: bytes) -> ET.Element:
    try:
        return ET.fromstring(content)
    except ET.ParseError as exc:
        raise InputError(f"{name} is not well-formed XML (line {exc.position[0]}, column {exc.position[1]})") from exc


def _run_cin(files: list[tuple[Path, str]], registry: dict[str, Any], raised: dict[str, str]) -> dict[str, Any]:
    from cin_validator import cin_validator

    read = _read(files)
    if len(read) != 1 or not read[0][0].lower().endswith(".xml"):
        raise InputError("a CIN census is one XML file")
    root = _parse_xml(*read[0])
    if root.find("Children") is None:
        raise InputError(f"{read[0][0]} is not a CIN census (no <Children> element)")
    data = cin_validator.process_data(cin_validator.convert_data(root))
    tables = {table: len(frame) for table, frame in data.items()}
    validator = cin_validator.CinValidator(data, registry)
    issues = validator.full_issue_df
    located: dict[tuple[str, str, Any, int], set[str]] = {}
    for code, table, child, row, field in zip(
        issues["rule_code"],
        issues["tables_affected"],
        issues["child_id"],
        issues["row_id"],
        issues["columns_affected"],
        strict=True,
    ):
        located.setdefault((str(code), str(table), child, int(row)), set()).add(str(field))
    findings = [
        _finding(code, registry[code].message, table, child, row, sorted(fields), _severity(registry[code]))
        for (code, table, child, row), fields in located.items()
    ]
    return_level = set(validator.la_rule_issues["rule_code"]) if len(validator.la_rule_issues) else set()
    for code in dict.fromkeys(validator.multichild_issues["rule_code"]):
        table = None if code in return_level else "Header"
        findings.append(_finding(code, registry[code].message, table, None, None, [], _severity(registry[code])))
    return {
        "tables": tables,
        "tables_missing": [],
        "findings": findings,
        "rules_raised": [_rule(registry[code], error) for code, error in raised.items()],
        "rules_skipped": [],
    }


def _severity(rule: Any) -> str:
    # The CIN library marks each rule an Error or a Query (RuleDefinition.rule_type); the 903 library does not.
    kind = getattr(getattr(rule, "rule_type", None), "value", "Error")
    return "query" if kind == "Query" else "error"


def _finding(
    code: Any, message: Any, table: str | None, child: Any, row: int | None, fields: Any, severity: str = "error"
) -> dict[str, Any]:
    # A child id the file left blank reaches here as NaN, which is no JSON value.
    child_id = child if isinstance(child, str) else None
    return {
        "rule": str(code),
        "message": message,
        "table": table,
        "child": child_id,
        "row": row,
        "fields": list(fields or []),
        "severity": severity,
    }


def _rule(rule: Any, reason: str) -> dict[str, Any]:
    return {"rule": str(rule.code), "message": rule.message, "reason": reason}


if __name__ == "__main__":
    main()
