"""Our read of an upload's tables runs while DfE's rules do: what it refuses is still refused first, and an XML
file it would refuse as unsafe never reaches DfE's library."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from collectors.records import contract, reading
from collectors.records.contract import Findings, RecordsError
from collectors.records.reading import identify, rules_beside_read
from onereturn.errors import InvalidInput
from tests.collectors.records.samples import CIN_2024, FIXTURES, PASSING

HOSTILE = b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Message>&b;</Message>'


def _files(tmp_path: Path, named: dict[str, bytes]) -> list[tuple[str, Path]]:
    found = []
    for name, data in named.items():
        path = tmp_path / name
        path.write_bytes(data)
        found.append((name, path))
    return found


def _no_rules(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []

    def run_rules(*args: Any, **_: Any) -> Findings:
        calls.append(args)
        raise AssertionError("DfE's rules were started")

    monkeypatch.setattr(reading, "run_rules", run_rules)
    return calls


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (HOSTILE, "declares a DOCTYPE or ENTITY"),
        (b"<Message>" + b"<a>" * 20 + b"</a>" * 20 + b"</Message>", "deeper than 12 levels"),
        (b"<Message><Children></Message>", "not well-formed XML"),
    ],
    ids=["entities", "too-deep", "malformed"],
)
def test_a_census_our_read_would_refuse_is_refused_before_the_rules_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, expected: str
) -> None:
    calls = _no_rules(monkeypatch)
    with pytest.raises((InvalidInput, RecordsError), match=expected):
        identify(_files(tmp_path, {"census.xml": data}), tmp_path, "2024-25", max_unpacked=1 << 26)
    assert calls == []


def test_a_903_xml_our_read_would_refuse_is_refused_before_the_rules_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _no_rules(monkeypatch)
    hostile = HOSTILE.replace(b"Message", b"Children")
    with pytest.raises(InvalidInput, match="the SSDA903 XML declares a DOCTYPE"):
        identify(_files(tmp_path, {"903.xml": hostile}), tmp_path, "2024-25", max_unpacked=1 << 26)
    assert calls == []


def test_our_reads_refusal_comes_first_whatever_the_rules_made_of_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = (FIXTURES / "ssda903_passing" / "header.csv").read_bytes()
    found = identify(_files(tmp_path, {"header.csv": header}), tmp_path, "2024-25", max_unpacked=1 << 26)

    def refused(*_: Any, **__: Any) -> Findings:
        raise RecordsError("the rules could not run")

    monkeypatch.setattr(reading, "run_rules", refused)
    assert "Episodes table is missing" in str(rules_beside_read(found, "E10000024"))


def test_the_rules_refusal_is_given_when_our_read_has_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = identify([(p.name, p) for p in PASSING], tmp_path, "2024-25", max_unpacked=1 << 26)

    def refused(*_: Any, **__: Any) -> Findings:
        raise RecordsError("the rules could not run")

    monkeypatch.setattr(reading, "run_rules", refused)
    assert rules_beside_read(found, "E10000024") == "the rules could not run"


def test_a_census_read_beside_its_rules_gives_the_tables_and_the_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = identify([(CIN_2024.name, CIN_2024)], tmp_path, "2024-25", max_unpacked=1 << 26)
    given = Findings.__new__(Findings)
    monkeypatch.setattr(reading, "run_rules", lambda *_, **__: given)
    outcome = rules_beside_read(found, "E10000024")
    assert not isinstance(outcome, str)
    read, findings = outcome
    assert findings is given
    assert read.library == "cin"
    assert read.tables["Children"].height > 0
    assert read.rows == sum(t.height for t in read.tables.values())


def test_the_rules_are_stopped_not_waited_for_once_our_read_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DfE's rules that would run for minutes (a stand-in that sleeps) are stopped when our read refuses the files:
    the refusal is given, the rules end as stopped (not by their time limit) and their process is gone."""
    header = (FIXTURES / "ssda903_passing" / "header.csv").read_bytes()
    found = identify(_files(tmp_path, {"header.csv": header}), tmp_path, "2024-25", max_unpacked=1 << 26)
    pids = tmp_path / "rules.pid"
    sleeper = tmp_path / "python"
    sleeper.write_text(f"#!/bin/sh\necho $$ > {pids}\nexec sleep 120\n")
    sleeper.chmod(0o755)
    monkeypatch.setattr(contract, "validators_python", lambda: sleeper)
    # The time limit is the test's bound: stopped rules end within a tenth of a second, timed-out ones after it.
    monkeypatch.setenv("ONERETURN_RECORDS_TIMEOUT_S", "60")
    ended: list[BaseException] = []
    real = contract._call

    def watched(*args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return real(*args, **kwargs)
        except BaseException as exc:
            ended.append(exc)
            raise

    monkeypatch.setattr(contract, "_call", watched)
    assert "Episodes table is missing" in str(rules_beside_read(found, "E10000024"))
    assert [type(e) for e in ended] == [contract.RulesStopped]
    if pids.exists():
        with pytest.raises(ProcessLookupError):
            os.kill(int(pids.read_text()), 0)
