"""How a record-level upload's files are kept at rest: one ZIP, encrypted with the deployment's keys, under the
upload's hash in the kept-file store (``onereturn.keptfiles``, readable from any host); and read back, decrypted, a
member at a time, for a run of the upload."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Connection, Engine

from collectors.records.privacy import Keys, keys_for
from indicators.store.models import Submission
from onereturn import keptfiles
from onereturn.settings import Settings

#: The file names the record files made from a council's SSD extract are kept under (``collectors.ssd.service``):
#: the record-files routes and Annex A find them by these.
CIN_FILE = "cin_census_from_ssd.xml"
SSDA903_FILE = "ssda903_from_ssd.zip"


def content_hash(files: Iterable[tuple[str, Path]]) -> str:
    """One upload's hash: SHA-256 over its files' sorted (name, SHA-256) pairs, so their order does not count."""
    pairs = []
    for name, path in files:
        with path.open("rb") as data:
            pairs.append((Path(name).name, hashlib.file_digest(data, "sha256").hexdigest()))
    return hashlib.sha256(json.dumps(sorted(pairs)).encode()).hexdigest()


def keep(bind: Engine | Connection, settings: Settings, keys: Keys, digest: str, files: list[tuple[str, Path]]) -> str:
    """Keep the files as one ZIP, encrypted, under the upload's hash (written once); return its content name."""
    name = keptfiles.records_name(digest)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, (member, spooled) in enumerate(files):
            # A number first: two files of one name stay two members. Deflated from the spooled file as it is
            # read, so only the compressed ZIP is held before it is sealed.
            archive.write(spooled, f"{number:02d}-{Path(member).name}")
    return keep_sealed(bind, settings, keys, name, buffer.getvalue())


def keep_sealed(bind: Engine | Connection, settings: Settings, keys: Keys, name: str, plain: bytes) -> str:
    """Keep ``plain`` sealed under ``keys`` as the kept file ``name`` (written once); return its content name."""
    sealed = keys.seal(plain)
    kept = keptfiles.keep(bind, settings, name, sealed)
    if not keys.opens(keptfiles.read(bind, settings, kept)):
        # The same files were kept before under keys the store no longer holds (sealed by a host whose keys were
        # refused since): the copy in hand is sealed under the deployment's, so sending them again mends it.
        keptfiles.replace(bind, settings, kept, sealed)
    return kept


def kept_files(
    bind: Engine | Connection, settings: Settings, submission: Submission, workdir: Path
) -> list[tuple[str, Path]]:
    """The files of an upload as received, decrypted from where they are kept (any host) and written into
    ``workdir`` a member at a time (the sealed ZIP is opened whole; its members are not held besides)."""
    return unpacked(opened(bind, settings, submission), workdir)


def opened(bind: Engine | Connection, settings: Settings, submission: Submission) -> bytes:
    """An upload's kept file as it was sealed, opened under this host's keys (any host's store)."""
    try:
        token = keptfiles.read(bind, settings, submission.raw_path)
    except keptfiles.KeptFileMissing as exc:
        raise keptfiles.KeptFileMissing(f"the kept files of submission {submission.id} are missing: {exc}") from exc
    return keys_for(settings).open(token)


def unpacked(data: bytes, workdir: Path) -> list[tuple[str, Path]]:
    """The files of an upload's kept ZIP (opened), written into ``workdir`` a member at a time."""
    files = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for number, member in enumerate(archive.namelist()):
            name = member.split("-", 1)[1]
            path = workdir / f"upload-{number}" / Path(name).name
            path.parent.mkdir()
            with archive.open(member) as source, path.open("wb") as out:
                shutil.copyfileobj(source, out)
            files.append((name, path))
    return files
