"""Every command docs/cli.md documents, with the arguments it shows, run against a copy of the demo's store: each
ends with its answer or a one-line error, never a traceback."""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from cli.commands import app
from onereturn.errors import OneReturnError
from tests.demo_store import demo_copy

CHECKOUT = Path(__file__).resolve().parents[1]
#: The publishers' files the service ships (the demo's store has read each already).
PUBLISHED_FILES = CHECKOUT / "collectors" / "published" / "files"
CLI_DOC = CHECKOUT / "docs" / "cli.md"
#: Long-running commands (the service, the scheduler) are started by the tests that serve them (test_deployment,
#: test_scheduler); here their help is shown. ``db revision`` would write a migration into the checkout; ``published
#: fetch`` asks the publishers' APIs over the network (tests/published fake them), ``records read-ssd`` a council's
#: own SSD database (tests/collectors/ssd start one), ``establishments fetch`` GIAS over the network (tests/mappings fake it).
HELP_ONLY = ("serve", "scheduler", "db revision", "published fetch", "records read-ssd", "establishments fetch")
#: Run only as written with its options: uploading the demo and building every return takes half a minute a time.
WITH_OPTIONS_ONLY = ("demo",)


def documented() -> list[str]:
    """Each command written in the first column of docs/cli.md's table, as written."""
    commands = []
    for line in CLI_DOC.read_text().splitlines():
        if line.startswith("| `"):
            first = line[2:].split(" | ", 1)[0]
            commands += [c.replace("\\|", "|") for c in re.findall(r"`([^`]+)`", first)]
    return commands


def _placeholder(name: str, before: str, command: str, tmp: Path) -> str:
    """A real value for a placeholder the table writes in capitals, by the option before it and the command."""
    # The register of establishments: the made-up one the synthetic command writes first, then loads.
    register = tmp / "establishments"
    if "establishments" in command:
        if before == "--out":
            return str(register)
        if before == "--links":
            return str(register / "links_edubasealldata20250422.csv")
        if name == "FILE":
            return str(register / "edubasealldata20250422.csv")
    by_option = {
        "--agency": "notts_cyp",
        "--indicators": str(CHECKOUT / "indicators" / "catalogue"),
        "--returns": str(CHECKOUT / "mappings" / "returns"),
        "--return": "dfe_ssda903",
        "--recipient": "Department for Education",
        "--label": "made by the command-line test",
        "--as": "A. Approver",
        "--text": "looked after",
        "--from": "2025-04-01",
        "--weeks": "4",
        "--minutes": "3",
        "--period": "FY2024-25",
        "--state": "signed_off",
        "--principal": "officer",
        "--key": "demo-officer-5e",
        "--action": "upload",
        "--since": "2025-01-01T00:00:00",
        "--until": "2030-01-01T00:00:00",
        "--outcome": "refused",
        "-f": "csv",
        "-m": "a message",
        "--host": "127.0.0.1",
        "--port": "8000",
        "--workers": "2",
        "--year": "2024-25",
        "--la": "E10000024",
        "--kind": "cin",
        "--term": "spring",
        "--children": "3",
        "--seed": "7",
        "--scale": "0.005",
        "--councils": "2",
        "--out": str(tmp / "synthetic"),
        "--version": "as bundled",
        "--org": "E10000024",
        "--indicator": "cla.ceased_in_year",
        "--rows": "50",
        "--published": "2025-04-22",
    }
    if before in by_option:
        return by_option[before]
    if before == "-o":
        return str(tmp / ("demo-out" if name == "DIR" else "out.csv" if "export" in command else "sources.md"))
    if name == "FILE":
        if "regions postcodes" in command:
            return str(CHECKOUT / "tests" / "fixtures" / "regions" / "onspd_feb2023_sample.csv")
        if "collect" in command:
            return str(tmp / "figures.csv")
        if "agencies import" in command:
            return str(tmp / "agencies.csv")
        if "published import" in command:
            return str(PUBLISHED_FILES / "unmet_alcohol.csv")
        return str(tmp / "backup.tar")  # db backup, then db restore of what it wrote
    return {
        # A file of figures is no record-level file: DfE's rules are not run, the command says what it takes.
        "FILES…": str(tmp / "figures.csv"),
        "SOURCE": "fingertips_unmet_need_alcohol",
        "AGENCY": "notts_cyp",
        "PERIOD": "FY2024-25",
        "ID": "1",
        "RETURN": "dfe_ssda903",
        "CODE": "notts_cyp",
        "PREFIX": "demo-lewisham-co",
    }[name]


def argv(written: str, tmp: Path, *, options: bool) -> list[str]:
    """The arguments of a command as written, placeholders filled; its [options] too when ``options``."""
    tokens = shlex.split(written)
    tokens = tokens[1:] if tokens[0] == "onereturn" else tokens
    out: list[str] = []
    optional = False
    for token in tokens:
        opens, closes = token.startswith("["), token.endswith("]")
        optional = optional or opens
        word = token.strip("[]").split("|")[0]
        if not optional or options:
            filled = _placeholder(word, out[-1] if out else "", written, tmp) if word.isupper() else word
            out.append(filled)
        optional = optional and not closes
    return out


@contextmanager
def _own_log_handlers() -> Iterator[None]:
    """Run a command with the root logger's handlers as they were, less any left on a closed stream, and put them
    back after: a command that sets up logging binds it to the stream CliRunner gives that one invocation, which is
    closed when it ends (the next command's log lines would fail on it, a "Logging error" traceback)."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = [h for h in saved[0] if not getattr(getattr(h, "stream", None), "closed", False)]
    try:
        yield
    finally:
        root.handlers, root.level = saved[0], saved[1]


@pytest.fixture
def demo_store(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A copy of the demo's store as its first start left it, as the command line's store; a folder to write in."""
    from onereturn.settings import get_settings

    data = demo_copy(tmp_path_factory, tmp_path / "data")
    monkeypatch.setenv("ONERETURN_DATA_DIR", str(data))
    monkeypatch.delenv("ONERETURN_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "figures.csv").write_text(
        "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
        "cla.ceased_in_year,E10000024,FY2024-25,,120,,,final,\n"
    )
    (tmp_path / "agencies.csv").write_text("code,name\nnot_a_whole_row,\n")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_the_table_is_read_whole() -> None:
    written = documented()
    assert "onereturn submission ID" in written
    assert "agencies show CODE" in written
    assert len(written) >= 34, written


def commands(group: Any = None, prefix: tuple[str, ...] = ()) -> list[str]:
    """Every command the command line has, by the words that call it (``records check``)."""
    found = get_command(app) if group is None else group
    subs = getattr(found, "commands", None)
    if not subs:
        return [" ".join(prefix)]
    return [c for name, sub in subs.items() for c in commands(sub, (*prefix, name))]


def test_every_command_is_named_in_the_table() -> None:
    named = [written.removeprefix("onereturn ").split() for written in documented()]
    every = commands()
    assert "records check" in every
    missing = [c for c in every if not any(words[: len(c.split())] == c.split() for words in named)]
    assert not missing, f"docs/cli.md's table does not name: {missing}"


def test_every_documented_command_runs_without_a_traceback(demo_store: Path, caplog: pytest.LogCaptureFixture) -> None:
    runner = CliRunner()
    ran = []
    for written in documented():
        once = written.removeprefix("onereturn ").split()[0] in WITH_OPTIONS_ONLY
        for options in (True,) if once else (False, True):
            args = argv(written, demo_store, options=options)
            if any(" ".join(args).startswith(skipped) for skipped in HELP_ONLY):
                args = [*args[: 2 if args[0] == "db" else 1], "--help"]
            caplog.clear()
            with caplog.at_level(logging.WARNING), _own_log_handlers():
                result = runner.invoke(app, args)
            said = f"onereturn {shlex.join(args)}: exit {result.exit_code}\n{result.output[-2000:]}"
            # A domain error is the one red line cli.main prints; anything else escaping is a traceback.
            assert result.exception is None or isinstance(result.exception, SystemExit | OneReturnError), (
                f"{said}\n{result.exception!r}"
            )
            assert "Traceback" not in result.output, said
            assert not [r for r in caplog.records if r.exc_info], said
            ran.append(args)
    assert ["submission", "1"] in ran


def test_the_readme_says_how_to_choose_the_port_as_serve_takes_it() -> None:
    readme = (CHECKOUT / "README.md").read_text()
    shown = re.search(r"`\./run serve --port (\d+)`", readme)
    assert shown, "the README says how to choose the port"
    help_text = CliRunner().invoke(app, ["serve", "--help"]).output
    assert "--port" in help_text
    assert "ONERETURN_PORT" in readme
