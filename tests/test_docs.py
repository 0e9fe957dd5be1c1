"""The README and docs/ as a reader follows them: every relative link reaches a file (and a heading, where it
names one), and every command their code blocks show is one the service has: each `onereturn` command parses
with the options shown, each `./run bench` parses its options, and each address `curl` asks for is a route."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import typer
from starlette.routing import Match
from typer.core import TyperGroup

from api.main import create_app
from benchmarks import __main__ as bench_main
from cli.commands import app as cli_app
from onereturn.settings import Settings
from tests.helpers import demo_keys

ROOT = Path(__file__).resolve().parents[1]
#: The pages a reader reaches from the front door, and the front door itself.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
RUN_COMMANDS = {"serve", "test", "onereturn", "bench", "setup"}
BASE = "http://127.0.0.1:8000"


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor on a page, outside its code blocks."""
    prose = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", prose, re.MULTILINE)}


def links() -> Iterator[tuple[Path, str]]:
    """Every relative link of every page, outside code blocks."""
    for page in PAGES:
        prose = FENCE.sub("", page.read_text(encoding="utf-8"))
        for target in LINK.findall(prose):
            if not re.match(r"[a-z]+:", target):
                yield page, target


def test_the_readme_links_every_docs_page() -> None:
    linked = {target.split("#")[0] for page, target in links() if page.name == "README.md"}
    missing = [p.name for p in PAGES[1:] if f"docs/{p.name}" not in linked]
    assert missing == []


def test_every_relative_link_reaches_a_file_and_its_heading() -> None:
    broken = []
    for page, target in links():
        path, _, anchor = target.partition("#")
        reached = (page.parent / path).resolve() if path else page
        if not reached.exists():
            broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
        elif anchor and reached.suffix == ".md" and anchor not in anchors(reached):
            broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


def expand(word: str, names: dict[str, str]) -> str:
    """A word with the shell variables its block set put in, as the shell would (others left as written)."""
    return re.sub(r"\$(\w+)", lambda m: names.get(m[1], m[0]), word)


def shell_commands() -> Iterator[tuple[Path, list[str]]]:
    """Every command line of the pages' shell blocks, continuation lines joined, comments dropped."""
    for page in PAGES:
        for lang, body in FENCE.findall(page.read_text(encoding="utf-8")):
            if lang != "bash":
                continue
            names: dict[str, str] = {}
            for line in body.replace("\\\n", " ").splitlines():
                # A command substitution is the shell's business, not a command of the service's.
                line = re.sub(r"\$\((?:[^()]|\([^()]*\))*\)", "SUBSTITUTED", line)
                words = [expand(word, names) for word in shlex.split(line, comments=True)]
                if len(words) == 1 and re.fullmatch(r"[A-Z_]+=.*", words[0]):
                    name, _, value = words[0].partition("=")
                    names[name] = value
                elif words:
                    yield page, words


def commands_of(program: list[str]) -> list[tuple[str, list[str]]]:
    """The commands run of ``program`` (e.g. ``["onereturn"]``) in the pages, and where each is shown."""
    found = []
    for page, words in shell_commands():
        for start in range(len(words)):
            if words[start : start + len(program)] == program and (start == 0 or words[start - 1] in {"&&", "|"}):
                rest = words[start + len(program) :]
                end = next((i for i, w in enumerate(rest) if w in {"&&", "|", ">", ";"}), len(rest))
                found.append((f"{page.name}: {' '.join(words)}", rest[:end]))
    return found


def parse_cli(args: list[str]) -> None:
    """Parse one command line as the `onereturn` program would, without running it."""
    command = typer.main.get_command(cli_app)
    context = None
    name: str | None = "onereturn"
    while isinstance(command, TyperGroup):
        context = command.make_context(name or "", args, parent=context)
        name, found, args = command.resolve_command(context, [*context._protected_args, *context.args])
        assert found is not None, name
        command = found
    command.make_context(name or "", args, parent=context)


ONERETURN = [pytest.param(a, id=s) for s, a in [*commands_of(["./run", "onereturn"]), *commands_of(["onereturn"])]]


@pytest.mark.parametrize("args", ONERETURN)
def test_every_onereturn_command_shown_parses(args: list[str]) -> None:
    parse_cli(args)


#: Every `onereturn …` the pages' prose and the command table name, as written (with its placeholders).
NAMED = sorted(
    {
        " ".join(m.split())
        for page in PAGES
        for m in re.findall(r"`(onereturn [^`]+)`", FENCE.sub("", page.read_text("utf-8")))
    }
)


@pytest.mark.parametrize("named", NAMED)
def test_every_command_the_prose_names_exists_with_its_options(named: str) -> None:
    command = typer.main.get_command(cli_app)
    words = named.split()[1:]
    while isinstance(command, TyperGroup) and words and words[0] in command.commands:
        command = command.commands[words.pop(0)]
    assert not isinstance(command, TyperGroup), f"{named}: names no command"
    options = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    shown = {word.strip("[]").split("\\|")[0] for word in words if word.strip("[").startswith("-")}
    assert shown - options == set(), named


def test_every_run_command_shown_is_one_run_has() -> None:
    shown = commands_of(["./run"])
    assert shown
    assert [s for s, args in shown if not args or args[0] not in RUN_COMMANDS] == []
    assert {args[0] for _, args in shown} >= {"serve", "test", "onereturn", "bench"}


class _Parsed(Exception):
    """Raised in place of running a benchmark once its options have parsed."""


def _stop_after_parsing(self: argparse.ArgumentParser, args: Any = None, namespace: Any = None) -> NoReturn:
    parsed = PARSE(self, args, namespace)
    raise _Parsed(parsed)


PARSE = argparse.ArgumentParser.parse_args
BENCH = [pytest.param(a, id=s) for s, a in commands_of(["./run", "bench"])]


@pytest.mark.parametrize("args", BENCH)
def test_every_benchmark_shown_parses(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", _stop_after_parsing)
    monkeypatch.setattr("sys.argv", ["benchmarks", *args])
    with pytest.raises(_Parsed):
        bench_main.main()


def curl_requests() -> list[Any]:
    """The method and path of every `curl` the pages show, and where it is shown."""
    found = []
    for shown, args in commands_of(["curl"]):
        urls = [a for a in args if a.startswith(BASE)]
        assert len(urls) == 1, shown
        method = "GET"
        if "-X" in args:
            method = args[args.index("-X") + 1]
        elif any(flag in args for flag in ("-d", "-F")):
            method = "POST"
        found.append(pytest.param(method, urls[0][len(BASE) :].split("?")[0] or "/", id=shown))
    return found


CURL = curl_requests()


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """The service's routes, as ``serve`` builds them (nothing started)."""
    return list(create_app(Settings(data_dir=tmp_path_factory.mktemp("data"))).routes)


@pytest.mark.parametrize(("method", "path"), CURL)
def test_every_address_curl_asks_for_is_a_route(method: str, path: str, routes: list[Any]) -> None:
    scope = {"type": "http", "path": path, "method": method, "root_path": ""}
    assert any(route.matches(scope)[0] == Match.FULL for route in routes), (method, path)


def test_every_demo_key_a_page_uses_is_in_the_readmes_table() -> None:
    published = set(demo_keys())
    used = {key for page in PAGES for key in re.findall(r"\bdemo-[a-z0-9-]+-[0-9a-f]{8,}\b", page.read_text("utf-8"))}
    assert used
    assert used - published == set()
