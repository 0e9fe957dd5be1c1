"""A council's record-level files as it sends them to DfE (a ZIP, several CSVs or the XML), made ready for DfE's rules."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from collectors.door import recognise as content
from collectors.records.contract import Findings, Library, RecordsError, ruleset_for, run_rules
from onereturn.listing import clip, error_kind, name_a_few
from onereturn.settings import Settings, get_settings
from onereturn.workspace import private_folder

#: The 903 tables are eleven CSVs (twelve with DoLo); a few more leave room for a readme without inviting a dump.
MAX_MEMBERS = 30
#: What a return's files may unpack to when no smaller limit is given; the service gives its upload limit
#: (``ONERETURN_MAX_UPLOAD_BYTES``), so a ZIP holds no more than the files sent as they are could. A large
#: county's full 903 set is a few MB; the national fake set (2,675 children) is 1.5 MB.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
SUFFIXES = (".csv", ".xml")
_CHUNK = 1024 * 1024


def gather(paths: list[Path], workdir: Path, *, max_unpacked: int = MAX_UNPACKED_BYTES) -> list[tuple[str, Path]]:
    """The CSV and XML files among ``paths``, each ZIP's members unpacked into ``workdir``, as (name, path);
    the ZIPs together unpack to at most ``max_unpacked`` bytes."""
    files: list[tuple[str, Path]] = []
    left = max_unpacked
    for path in paths:
        if not path.is_file():
            raise RecordsError(f"{path} is not a file")
        if zipfile.is_zipfile(path):
            unpacked = _unzip(path, workdir, left, max_unpacked)
            left -= sum(target.stat().st_size for _, target in unpacked)
            files.extend(unpacked)
        elif path.suffix.lower() in SUFFIXES:
            files.append((path.name, path))
        else:
            raise RecordsError(f"{path.name}: record-level files are CSV, XML or a ZIP of them")
    if not files:
        raise RecordsError("no CSV or XML file was given")
    return files


def check_archive(path: Path, name: str, max_unpacked: int) -> list[zipfile.ZipInfo]:
    """Refuse a ZIP from its central directory alone, before anything inflates it: too many members, or declared
    sizes over ``max_unpacked`` bytes; return its members (none for a file that is not a ZIP)."""
    if not zipfile.is_zipfile(path):
        return []
    try:
        with zipfile.ZipFile(path) as archive:
            members = content.members(archive)
    except zipfile.BadZipFile as exc:
        raise RecordsError(f"{name} is not a readable ZIP ({error_kind(exc)})") from exc
    if len(members) > MAX_MEMBERS:
        raise RecordsError(f"{name} holds {len(members)} files; a return's tables are at most {MAX_MEMBERS}")
    declared = sum(m.file_size for m in members)
    if declared > max_unpacked:
        raise TooLarge(
            f"{name} unpacks to {declared:,} bytes, over the limit of {max_unpacked:,} for a return's files; "
            "nothing of it was unpacked"
        )
    return members


def check_at_door(path: Path, name: str, max_unpacked: int) -> None:
    """Refuse, before anything is kept, a file that is none of a return's: not a CSV, an XML or a ZIP of them, a ZIP
    that holds nothing, or one that holds anything else (another ZIP, say); a ZIP is refused from its directory."""
    suffix = Path(name).suffix.lower()
    if not zipfile.is_zipfile(path):
        if suffix == ".zip":
            raise RecordsError(f"{clip(name)} is not a ZIP: its bytes are not a ZIP archive's")
        if suffix not in SUFFIXES:
            raise RecordsError(f"{clip(name)}: record-level files are CSV, XML or a ZIP of them")
        return
    members = check_archive(path, name, max_unpacked)
    if not members:
        raise RecordsError(f"{clip(name)} holds no CSV or XML file: it is empty")
    other = [clip(m.filename, 100) for m in members if Path(m.filename).suffix.lower() not in SUFFIXES]
    if other:
        raise RecordsError(
            f"{clip(name)} holds {len(other):,} file(s) that are not CSV or XML ({name_a_few(other)}): a ZIP of a "
            "return's files holds its CSVs or its XML, not another ZIP"
        )


class TooLarge(RecordsError):
    """A ZIP unpacks (by what it declares, or as it inflates) to more than a return's files may be."""

    status_code = 413
    error_type = "payload_too_large"


def _unzip(path: Path, workdir: Path, left: int, max_unpacked: int) -> list[tuple[str, Path]]:
    # The sizes the ZIP declares are checked before anything is inflated, and the bytes themselves while inflating
    # (a member may declare less than it holds): at most a chunk past the limit is ever read.
    check_archive(path, path.name, left)
    with zipfile.ZipFile(path) as archive:
        unpacked = []
        for number, member in enumerate(content.members(archive)):
            name = Path(member.filename).name
            if Path(name).suffix.lower() not in SUFFIXES:
                raise RecordsError(f"{path.name}: {member.filename} is not a CSV or XML file")
            # Members are written under a number of ours, never under a path the archive chose.
            target = workdir / f"{path.stem}-{number}{Path(name).suffix.lower()}"
            try:
                written = _inflate(archive, member, target, left)
            except zipfile.BadZipFile as exc:
                # Python's reader stops at the declared size, so a member holding more fails its checksum.
                raise RecordsError(
                    f"{path.name}: {member.filename} is damaged or larger than the archive says ({error_kind(exc)})"
                ) from exc
            if written > member.file_size:
                raise RecordsError(f"{path.name}: {member.filename} is larger than the archive says")
            if written > left:
                raise TooLarge(
                    f"{path.name} unpacks to more than the limit of {max_unpacked:,} bytes for a return's files"
                )
            left -= written
            unpacked.append((name, target))
    if not unpacked:
        raise RecordsError(f"{path.name} holds no CSV or XML file")
    return unpacked


def _inflate(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, left: int) -> int:
    """Inflate one member into ``target`` a chunk at a time, stopping a chunk past its declared size or ``left``."""
    written = 0
    with archive.open(member) as source, target.open("wb") as out:
        while chunk := source.read(min(_CHUNK, member.file_size - written + 1)):
            written += len(chunk)
            if written > member.file_size or written > left:
                break
            out.write(chunk)
    return written


def which_return(files: list[tuple[str, Path]]) -> Library:
    """SSDA903 for CSVs and the 903 XML; the CIN census for an XML whose root is DfE's census ``Message``, as the
    door reads a root (``collectors.door.recognise``)."""
    xml = [path for name, path in files if name.lower().endswith(".xml")]
    if len(xml) == 1 and len(files) == 1:
        if not (data := xml[0].read_bytes()).strip():
            raise RecordsError(f"{files[0][0]} is empty")
        try:
            next(ET.iterparse(xml[0], events=("start",)))
        except (ET.ParseError, StopIteration) as exc:
            raise RecordsError(f"{files[0][0]} is not well-formed XML ({error_kind(exc)})") from exc
        if content.root(content.xml_text(data[: content.SNIFF]) or "") == "Message":
            return "cin"
    return "903"


def check(
    paths: list[Path],
    year: str,
    *,
    local_authority: str | None = None,
    timeout_s: float | None = None,
    memory_mib: int | None = None,
    settings: Settings | None = None,
) -> Findings:
    """Check a council's record-level files for one collection year with DfE's rules for that year."""
    # Unpacked in the service's private folder, never the system's: a crash leaves nothing there for good.
    with private_folder(settings or get_settings(), "records-") as workdir:
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
