"""What a file sent to the service is, told from its content before anything keeps it: a council's children's records
(a SEN2 survey, a CIN census, the SSDA903 tables or XML, an SSD extract, Annex A's columns, a school census's blades) or
none of them.

The ways in (``collectors.ways_in``) ask here which way takes an upload and refuse, with nothing kept, what no way
takes; the way for a file of figures refuses a child-level file sent to it. The name a file is sent under decides
nothing: the bytes do. XML is read in any encoding XML allows (UTF-8 with or without its byte order mark, UTF-16
and UTF-32 with or without theirs), a ZIP by its members, deflated or stored. Only a file's start is read (a ZIP
member's by inflating at most that much), and nothing of it is logged or put in a message.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import IO

#: How much of a file's start (or a ZIP member's) is read to tell what it is.
SNIFF = 64 * 1024
#: A ZIP of more members than this is none of a council's returns (DfE's 903 tables are eleven or twelve CSVs; an
#: SSD extract is checked against its own limit by its way).
MAX_MEMBERS = 60

SEN2 = "sen2"
CIN = "cin"
XML_903 = "903_xml"
CSV_903 = "903_csv"
SSD = "ssd"
COLUMNS = "annex_a_columns"
CENSUS = "census"
EMPTY = "empty"
ZIP = "zip"
XLSX = "xlsx"

#: What each kind is called in a message.
NAMES = {
    SEN2: "a SEN2 survey file",
    CIN: "a CIN census file",
    XML_903: "the SSDA903 XML",
    CSV_903: "an SSDA903 table",
    SSD: "an SSD extract",
    COLUMNS: "Annex A's columns file",
    CENSUS: "a school census's blade CSV",
    EMPTY: "empty",
}
#: The kinds that hold children's records.
CHILD_LEVEL = frozenset({SEN2, CIN, XML_903, CSV_903, SSD, COLUMNS, CENSUS})

_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
#: XML without a byte order mark in UTF-32 or UTF-16, told by the first ``<`` as the XML recommendation's appendix F
#: tells them (``<?`` or any ``<``).
_BARE = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)
_ROOT = re.compile(r"<(?![?!])(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_COLLECTION = re.compile(r"<Collection>\s*(\w+)\s*</Collection>")
_LEA = re.compile(r"<LEA>\s*([^<]*?)\s*</LEA>")
#: An SSD extract's member: one of its tables, ``ssd_<table>.csv`` (the table's name the first group).
SSD_MEMBER = re.compile(r"(ssd_[a-z0-9_]+)\.csv", re.IGNORECASE)
#: A school census blade's first heading: its module's table id (``pupilonrolltableid``).
_BLADE = re.compile(r"[a-z0-9]+tableid", re.IGNORECASE)


@dataclass(frozen=True)
class Seen:
    """What one file is: its kind (None: recognised as nothing), each member's for a ZIP, and the council number a
    header names (SEN2's and the CIN census's ``LEA``), as written."""

    name: str
    kind: str | None
    members: tuple[str | None, ...] = ()
    council: str | None = None

    @property
    def kinds(self) -> set[str | None]:
        """The kinds the file holds: its own, or its members' for a ZIP."""
        return set(self.members) if self.kind == ZIP else {self.kind}

    @property
    def child_level(self) -> bool:
        """Whether the file is, or holds, a child-level file of any return."""
        return bool(self.kinds & CHILD_LEVEL)

    def described(self) -> str:
        """What the file was recognised as, in words (never a value of it)."""
        if self.kind == ZIP:
            inside = sorted({NAMES.get(k or "", "a file of no return") for k in self.members})
            return f"a ZIP holding {' and '.join(inside)}" if inside else "an empty ZIP"
        return NAMES.get(self.kind or "", "a file of no return")


def xml_text(head: bytes) -> str | None:
    """The start of ``head`` as text when it is XML in an encoding XML allows; None when it is not XML."""
    encoding = next((name for mark, name in _BOMS if head.startswith(mark)), None)
    if encoding is not None:
        head = head[len(next(mark for mark, name in _BOMS if name == encoding)) :]
    else:
        encoding = next((name for mark, name in _BARE if head.startswith(mark)), "latin-1")
    width = 4 if "32" in encoding else 2 if "16" in encoding else 1
    text = head[: len(head) - len(head) % width].decode(encoding, errors="replace")
    text = text.lstrip()
    return text if text.startswith("<") else None


def root(text: str) -> str:
    """The root element's name, without its prefix, in XML ``text`` (as :func:`xml_text` gives it); "" for none."""
    found = _ROOT.search(_COMMENT.sub("", text))
    return found[1] if found else ""


def _from_xml(name: str, text: str) -> Seen:
    tag = root(text)
    lea = _LEA.search(text)
    council = lea[1] if lea else None
    if tag == "EXPSSDA903":
        return Seen(name, XML_903)
    if tag != "Message":
        return Seen(name, None)
    collection = _COLLECTION.search(text)
    said = collection[1].upper() if collection else ""
    if said == "SEN2" or (not said and re.search(r"<Persons[\s>/]", text)):
        return Seen(name, SEN2, council=council)
    if said == "CIN" or (not said and re.search(r"<Children[\s>/]", text)):
        return Seen(name, CIN, council=council)
    return Seen(name, None)


def _csv_header(head: bytes) -> list[str]:
    line = head.split(b"\n", 1)[0].removeprefix(b"\xef\xbb\xbf").rstrip(b"\r")
    text = line.decode("utf-8", errors="replace")
    return [cell.strip().strip('"').strip() for cell in re.split(r"[,;\t]", text)]


def recognise_bytes(name: str, head: bytes, *, size: int | None = None) -> Seen:
    """What a file is from its start ``head`` (a ZIP is told apart by its caller, who can read its directory)."""
    if (size if size is not None else len(head)) == 0 or not head.strip(b" \t\r\n\x00"):
        return Seen(name, EMPTY)
    text = xml_text(head)
    if text is not None:
        return _from_xml(name, text)
    header = _csv_header(head)
    if "CHILD" in header:
        # Every SSDA903 table's first column, as DfE's own tool reads them (lac_validator/config.py, column_names).
        return Seen(name, CSV_903)
    if "Child Unique ID" in header:
        return Seen(name, COLUMNS)
    if (_BLADE.fullmatch(header[0]) and "NativeId" in header) or header[:3] == ["laestab", "urn", "upn"]:
        # COLLECT's blade export (each module's table id first, then the school) or the census's slim template
        # (docs/census.md).
        return Seen(name, CENSUS)
    if "UPN" in header and ("Deprivation Pupil Premium" in header or "CensusTerm" in header):
        # GIAP's pupil premium and census downloads, by columns only they write (their headings:
        # collectors/census/schemas/giap_download_fields.csv).
        return Seen(name, CENSUS)
    return Seen(name, None)


def members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """A ZIP's members as a council's return reads them: files, not folders, a Mac's ``__MACOSX/`` or hidden files."""
    return [
        m
        for m in archive.infolist()
        if not m.is_dir() and not m.filename.startswith("__MACOSX/") and not PurePath(m.filename).name.startswith(".")
    ]


def _from_zip(name: str, path: Path | IO[bytes]) -> Seen:
    try:
        with zipfile.ZipFile(path) as archive:
            held = members(archive)
            names = [PurePath(m.filename).name for m in held]
            if "[Content_Types].xml" in names and any(m.filename.startswith("xl/") for m in held):
                return Seen(name, XLSX)
            if any(SSD_MEMBER.fullmatch(n) for n in names):
                return Seen(name, SSD)
            if len(held) > MAX_MEMBERS:
                return Seen(name, ZIP, (None,))
            seen = []
            for member in held:
                with archive.open(member) as opened:
                    # Inflated no further than the start: a member that claims less than it holds stops here too.
                    seen.append(recognise_bytes(member.filename, opened.read(SNIFF), size=member.file_size))
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError):
        return Seen(name, ZIP, (None,))
    council = next((one.council for one in seen if one.council is not None), None)
    return Seen(name, ZIP, tuple(one.kind for one in seen), council)


def recognise(name: str, path: Path) -> Seen:
    """What the file at ``path`` (sent as ``name``) is, from its content."""
    if zipfile.is_zipfile(path):
        return _from_zip(name, path)
    with path.open("rb") as f:
        head = f.read(SNIFF)
    return recognise_bytes(name, head, size=path.stat().st_size)


def recognise_data(name: str, data: bytes | Path) -> Seen:
    """What an upload held in memory (or at a path) is, from its content."""
    if isinstance(data, Path):
        return recognise(name, data)
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06") and zipfile.is_zipfile(io.BytesIO(data)):
        return _from_zip(name, io.BytesIO(data))
    return recognise_bytes(name, data[:SNIFF], size=len(data))
