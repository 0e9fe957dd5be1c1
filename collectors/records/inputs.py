"""A council's record-level files as it sends them to DfE (a ZIP, several CSVs or the XML), made ready for DfE's rules."""

from __future__ import annotations

import re
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from collectors.records.contract import Findings, Library, RecordsError, ruleset_for, run_rules

#: The 903 tables are eleven CSVs (twelve with DoLo); a few more leave room for a readme without inviting a dump.
MAX_MEMBERS = 30
#: A large county's full 903 set is a few MB; the national fake set (2,675 children) is 1.5 MB.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
SUFFIXES = (".csv", ".xml")


def gather(paths: list[Path], workdir: Path) -> list[tuple[str, Path]]:
    """The CSV and XML files among ``paths``, each ZIP's members unpacked into ``workdir``, as (name, path)."""
    files: list[tuple[str, Path]] = []
    for path in paths:
        if not path.is_file():
            raise RecordsError(f"{path} is not a file")
        if zipfile.is_zipfile(path):
            files.extend(_unzip(path, workdir))
        elif path.suffix.lower() in SUFFIXES:
            files.append((path.name, path))
        else:
            raise RecordsError(f"{path.name}: record-level files are CSV, XML or a ZIP of them")
    if not files:
        raise RecordsError("no CSV or XML file was given")
    return files


def _unzip(path: Path, workdir: Path) -> list[tuple[str, Path]]:
    with zipfile.ZipFile(path) as archive:
        members = [
            m
            for m in archive.infolist()
            if not m.is_dir() and not m.filename.startswith("__MACOSX/") and not Path(m.filename).name.startswith(".")
        ]
        if len(members) > MAX_MEMBERS:
            raise RecordsError(f"{path.name} holds {len(members)} files; a return's tables are at most {MAX_MEMBERS}")
        # The sizes a ZIP declares are checked before anything is inflated, and again while reading.
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise RecordsError(f"{path.name} unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MiB")
        unpacked = []
        for number, member in enumerate(members):
            name = Path(member.filename).name
            if Path(name).suffix.lower() not in SUFFIXES:
                raise RecordsError(f"{path.name}: {member.filename} is not a CSV or XML file")
            # Members are written under a number of ours, never under a path the archive chose.
            target = workdir / f"{path.stem}-{number}{Path(name).suffix.lower()}"
            with archive.open(member) as source:
                data = source.read(member.file_size + 1)
            if len(data) > member.file_size:
                raise RecordsError(f"{path.name}: {member.filename} is larger than the archive says")
            target.write_bytes(data)
            unpacked.append((name, target))
    if not unpacked:
        raise RecordsError(f"{path.name} holds no CSV or XML file")
    return unpacked


def which_return(files: list[tuple[str, Path]]) -> Library:
    """SSDA903 for CSVs and the 903 XML; the CIN census for an XML whose root is DfE's census ``Message``."""
    xml = [path for name, path in files if name.lower().endswith(".xml")]
    if len(xml) == 1 and len(files) == 1:
        if not xml[0].read_bytes().strip():
            raise RecordsError(f"{files[0][0]} is empty")
        try:
            _, root = next(ET.iterparse(xml[0], events=("start",)))
        except (ET.ParseError, StopIteration) as exc:
            raise RecordsError(f"{files[0][0]} is not well-formed XML ({exc})") from exc
        if root.tag == "Message":
            return "cin"
    return "903"


def check(
    paths: list[Path],
    year: str,
    *,
    local_authority: str | None = None,
    timeout_s: float | None = None,
    memory_mib: int | None = None,
) -> Findings:
    """Check a council's record-level files for one collection year with DfE's rules for that year."""
    with tempfile.TemporaryDirectory(prefix="onereturn-records-") as workdir:
        files = gather(paths, Path(workdir))
        library = which_return(files)
        ruleset = ruleset_for(library, year)
        if library == "903" and not (local_authority and re.fullmatch(r"[ENSW]\d{8}", local_authority)):
            raise RecordsError(
                "SSDA903 files need the council's ONS code (e.g. E10000024): DfE's rules use it to tell "
                f"placements inside the council from those outside; got {local_authority!r}"
            )
        return run_rules(
            library, ruleset, files, local_authority=local_authority, timeout_s=timeout_s, memory_mib=memory_mib
        )
