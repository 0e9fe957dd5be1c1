"""DfE's validation rules through the contract: the same findings as the library called directly, and a clear
error for every way a check cannot be made. These run DfE's libraries for real in ``.venv-validators``."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.commands import app
from collectors.records.contract import (
    RUNNER,
    NoRuleSet,
    RecordsError,
    RecordsMemoryLimit,
    RecordsTimeout,
    ValidatorUnavailable,
    ruleset_for,
    run_rules,
    validators_python,
    without_values,
)
from collectors.records.inputs import TooLarge, check, gather, which_return

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "records"
TABLES_903 = sorted((FIXTURES / "ssda903_subset").glob("*.csv"))
CIN_2024 = FIXTURES / "cin" / "CIN_Census_2024.xml"
LA = "E09000027"

# The library called directly, through the functions its own front end uses to build its report
# (LacValidator, Report, create_issue_df; CinValidator), in the validators' environment.
DIRECT_903 = """
import importlib, json, sys
from lac_validator import lac_validator
from lac_validator.report import Report
paths, la = sys.argv[1:-1], sys.argv[-1]
registry = importlib.import_module("lac_validator.rules.lac2024_25").registry
files = [dict(name=p, description="This year", file_content=open(p, "rb").read()) for p in paths]
v = lac_validator.LacValidator(metadata={"collectionYear": "2025", "localAuthority": la}, files=files, registry=registry)
issues = lac_validator.create_issue_df(Report(v.ds_results, registry).report, Report(v.ds_results, registry).error_report)
pairs = sorted({(r, c) for r, c in zip(issues["rule_code"], issues["child_id"])})
print(json.dumps({"pairs": pairs, "raised": sorted(v.fails), "skipped": sorted(v.skips)}))
"""

DIRECT_CIN = """
import importlib, json, sys
import xml.etree.ElementTree as ET
from cin_validator import cin_validator
registry = importlib.import_module("cin_validator.rules.cin2024_25").registry
data = cin_validator.process_data(cin_validator.convert_data(ET.parse(sys.argv[1]).getroot()))
v = cin_validator.CinValidator(data, registry)
pairs = sorted({(r, c) for r, c in zip(v.full_issue_df["rule_code"], v.full_issue_df["child_id"])})
print(json.dumps({"pairs": pairs, "return_level": sorted(set(v.multichild_issues["rule_code"]))}))
"""


def _direct(script: str, *args: str) -> dict[str, list[object]]:
    done = subprocess.run([str(validators_python()), "-c", script, *args], capture_output=True, check=True, timeout=120)
    # The library prints as it goes; the answer is the last line.
    answer: dict[str, list[object]] = json.loads(done.stdout.splitlines()[-1])
    return answer


def test_903_zip_through_the_cli_finds_what_the_library_finds(tmp_path: Path) -> None:
    archive = tmp_path / "ssda903.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in TABLES_903:
            z.write(path, f"export/{path.name}")
    result = CliRunner().invoke(app, ["records", "check", "--year", "2024-25", "--la", LA, "--json", str(archive)])
    assert result.exit_code == 1, result.output  # the fake tables break many rules
    answer = json.loads(result.stdout)
    direct = _direct(DIRECT_903, *map(str, TABLES_903), LA)
    pairs = sorted({(f["rule"], f["child"]) for f in answer["findings"]})
    assert pairs == [tuple(p) for p in direct["pairs"]]  # type: ignore[arg-type]
    assert len({rule for rule, _ in pairs}) > 100
    assert sorted(r["rule"] for r in answer["rules_raised"]) == direct["raised"]
    assert sorted(r["rule"] for r in answer["rules_skipped"]) == direct["skipped"]
    assert answer["ruleset"] == "lac2024_25"
    assert answer["rules_run"] == 305
    assert answer["tables"]["Header"] == 159
    # Each finding names the row of its table and the fields DfE's rule points at.
    first = next(f for f in answer["findings"] if f["rule"] == "101")
    assert first["table"] == "Header"
    assert first["fields"] == ["SEX"]
    assert isinstance(first["row"], int)


def test_cin_census_finds_what_the_library_finds() -> None:
    found = check([CIN_2024], "2024-25")
    direct = _direct(DIRECT_CIN, str(CIN_2024))
    child_level = sorted({(f.rule, f.child) for f in found.findings if f.child is not None})
    assert child_level == [tuple(p) for p in direct["pairs"]]  # type: ignore[arg-type]
    assert sorted({f.rule for f in found.findings if f.child is None}) == direct["return_level"]
    assert found.ruleset == "cin2024_25"
    assert found.library == "csc-validator-be-cin"
    assert found.rules_raised == ()


def test_903_xml_is_read_as_the_same_return_and_printed_for_a_spreadsheet() -> None:
    args = ["records", "check", "--year", "FY2024-25", "--la", LA, str(FIXTURES / "ssda903.xml")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "rule\ttable\trow\tchild\tfields\tmessage"
    rows = [line.split("\t") for line in lines[1 : lines.index(next(x for x in lines if "\t" not in x))]]
    assert {"101", "103"} & {row[0] for row in rows}
    assert all(row[3] for row in rows if row[1] == "Header")  # each child-level finding names its child
    assert "rule set for 2024-25: 305 rules over" in result.stdout
    assert "Episodes 6, Header 4," in result.stdout
    # The XML's tables with no rows (AD1, OC3, PlacedAdoption here) reach DfE's rules without columns, and
    # the rules that read them raise: each is listed as not passed, with what it raised.
    assert "97 rule(s) raised an error inside DfE's library, so not passed:" in result.stdout
    # Only the kind of error: its own words may quote a child's value.
    assert "KeyError" in result.stdout
    assert "KeyError: " not in result.stdout


def test_missing_tables_are_named_and_their_rules_are_skipped_not_passed() -> None:
    header = FIXTURES / "ssda903_subset" / "header.csv"
    found = run_rules("903", "lac2024_25", [("header.csv", header)], local_authority=LA)
    assert "Episodes" in found.tables_missing
    assert found.tables == {"Header": 159}
    skipped = {n.rule for n in found.rules_skipped}
    assert len(skipped) > 100  # most of DfE's rules need the episodes
    assert all(n.reason == "a table each needs was not given" for n in found.rules_skipped)
    assert not skipped & {f.rule for f in found.findings}


def test_a_rule_that_raises_inside_the_library_is_listed_apart(tmp_path: Path) -> None:
    # Saved from Excel as "CSV UTF-8", with a byte-order mark.
    header = _write(
        tmp_path / "header.csv", b"\xef\xbb\xbf" + (FIXTURES / "ssda903_subset" / "header.csv").read_bytes()
    )
    found = run_rules("903", "lac2024_25", [("header.csv", header)], local_authority=LA)
    assert found.tables == {"Header": 159}
    # Rule 231 of the 2024-25 set reads a UASC_STATUS column that version 0.1.17 of the library never makes.
    raised = {n.rule: n.reason for n in found.rules_raised}
    assert raised == {"231": "KeyError"}
    assert "231" not in {n.rule for n in found.rules_skipped}


def test_a_year_without_a_rule_set_names_the_years_there_are() -> None:
    with pytest.raises(NoRuleSet, match=r"no rule set for 2031-32; years available: 2022-23, .*2024-25"):
        check([CIN_2024], "2031-32")
    with pytest.raises(NoRuleSet, match="not a collection year"):
        ruleset_for("903", "2024-26")
    assert ruleset_for("903", "FY2025-26") == "lac2025_26"
    assert ruleset_for("cin", "2024/25") == "cin2024_25"


def test_empty_and_malformed_files_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "header.csv"
    empty.write_bytes(b"")
    with pytest.raises(RecordsError, match=r"^header\.csv is empty$"):
        run_rules("903", "lac2024_25", [("header.csv", empty)], local_authority=LA)
    empty_xml = tmp_path / "census.xml"
    empty_xml.write_bytes(b"\n")
    with pytest.raises(RecordsError, match=r"census\.xml is empty"):
        check([empty_xml], "2024-25")
    with pytest.raises(RecordsError, match="CSV, XML or a ZIP"):
        check([tmp_path / "header.csv", _write(tmp_path / "notes.txt", b"x")], "2024-25", local_authority=LA)


def test_a_missing_column_names_the_table_and_the_column(tmp_path: Path) -> None:
    lines = (FIXTURES / "ssda903_subset" / "header.csv").read_text().splitlines()
    without_sex = [",".join(c for i, c in enumerate(line.split(",")) if i != 1) for line in lines]
    path = _write(tmp_path / "children.csv", "\n".join(without_sex).encode())
    with pytest.raises(RecordsError, match=r"children\.csv is not an SSDA903 table: nearest is Header \(missing SEX\)"):
        run_rules("903", "lac2024_25", [("children.csv", path)], local_authority=LA)


def test_903_needs_the_councils_code() -> None:
    with pytest.raises(RecordsError, match="ONS code"):
        check(TABLES_903, "2024-25")


def test_time_limit_stops_the_rules_with_a_clear_error() -> None:
    started = time.monotonic()
    with pytest.raises(RecordsTimeout, match=r"time limit of 0\.2 s"):
        run_rules("903", "lac2024_25", [(p.name, p) for p in TABLES_903], local_authority=LA, timeout_s=0.2)
    assert time.monotonic() - started < 10


def test_memory_limit_is_a_clear_error_naming_the_setting_only_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), pytest.raises(RecordsMemoryLimit, match="memory limit of 64 MiB") as refused:
        run_rules("903", "lac2024_25", [(p.name, p) for p in TABLES_903], local_authority=LA, memory_mib=64)
    # The council reads the message; the setting is the operator's.
    assert "ONERETURN_" not in refused.value.message
    assert "ONERETURN_RECORDS_MEMORY_MIB" in caplog.text


def test_a_traceback_is_logged_without_the_errors_own_words() -> None:
    traceback_text = (
        "Traceback (most recent call last):\n"
        '  File "/lib/rule_101.py", line 12, in validate\n'
        "    when = parse(value)\n"
        "ValueError: time data '2022-11-31' does not match format '%Y-%m-%d'\n"
        "WARNING:lac_validator:child 'SENTINEL-77' has PersonBirthDate 2022-11-31\n"
    )
    kept = without_values(traceback_text)
    assert "2022-11-31" not in kept
    assert "SENTINEL-77" not in kept
    assert kept.splitlines() == [
        "Traceback (most recent call last):",
        '  File "/lib/rule_101.py", line 12, in validate',
        "ValueError",
    ]


def test_missing_environment_says_how_to_build_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ONERETURN_VALIDATORS_PYTHON", str(tmp_path / "nothing"))
    with pytest.raises(ValidatorUnavailable, match=r"\./run setup"):
        run_rules("cin", "cin2024_25", [("c.xml", CIN_2024)])


def test_the_rules_stop_when_their_caller_is_killed() -> None:
    # The caller starts the runner on a request pipe the test holds open, so the runner waits for its request
    # for as long as the test likes: only its watch on its parent can end it once the caller is killed.
    read, write = os.pipe()
    caller = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; subprocess.Popen(sys.argv[1:3], stdin=int(sys.argv[3])); time.sleep(60)",
            str(validators_python()),
            str(RUNNER),
            str(read),
        ],
        pass_fds=(read,),
    )
    try:
        child = _wait_for_child(caller.pid)
        time.sleep(1)  # well past the runner's start, so it is waiting on its request
        assert _alive(child)
        os.kill(caller.pid, signal.SIGKILL)
        caller.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child)
    finally:
        os.close(read)
        os.close(write)
        if caller.poll() is None:
            caller.kill()
            caller.wait(timeout=10)


def test_gather_unpacks_a_zip_under_names_of_its_own(tmp_path: Path) -> None:
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../escape/header.csv", "CHILD\n")
        z.writestr("__MACOSX/._header.csv", "junk")
        z.writestr("census.xml", "<Message><Children/></Message>")
    workdir = tmp_path / "work"
    workdir.mkdir()
    files = gather([archive], workdir)
    assert [name for name, _ in files] == ["header.csv", "census.xml"]
    assert all(path.parent == workdir for _, path in files)
    assert which_return(files) == "903"
    assert which_return(files[1:]) == "cin"


def test_gather_holds_every_zip_together_to_the_limit_by_declared_and_by_inflated_sizes(tmp_path: Path) -> None:
    """Two ZIPs within the limit each but over it together are refused before either is inflated; a member that
    inflates past what it declares is stopped as it inflates."""
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    for archive in (first, second):
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("header.csv", "CHILD\n" + "0" * 594)
    workdir = tmp_path / "work"
    workdir.mkdir()
    assert len(gather([first], workdir, max_unpacked=1000)) == 1
    with pytest.raises(TooLarge, match=r"b.zip unpacks to 600 bytes, over the limit of 400"):
        gather([first, second], workdir, max_unpacked=1000)
    lying = bytearray(first.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = lying.find(signature)
        lying[at + offset : at + offset + 4] = (10).to_bytes(4, "little")
    liar = _write(tmp_path / "liar.zip", bytes(lying))
    with pytest.raises(RecordsError, match="damaged or larger than the archive says"):
        gather([liar], workdir, max_unpacked=1000)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _wait_for_child(pid: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise AssertionError("the caller started no subprocess within 30 s")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
