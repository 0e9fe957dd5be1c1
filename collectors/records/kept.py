"""Where a record-level upload's files are kept at rest: one ZIP, encrypted with the deployment's keys, under the
upload's hash; and read back, decrypted, a member at a time, for a run of the upload."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path

from collectors.records.privacy import Keys, keys_for
from indicators.models import Submission
from onereturn.errors import NotFound
from onereturn.settings import Settings


def content_hash(files: Iterable[tuple[str, Path]]) -> str:
    """One upload's hash: SHA-256 over its files' sorted (name, SHA-256) pairs, so their order does not count."""
    pairs = []
    for name, path in files:
        with path.open("rb") as data:
            pairs.append((Path(name).name, hashlib.file_digest(data, "sha256").hexdigest()))
    return hashlib.sha256(json.dumps(sorted(pairs)).encode()).hexdigest()


def raw_path(settings: Settings, digest: str) -> Path:
    """Where a record-level upload's files are kept, encrypted."""
    return settings.data_dir / "records" / digest[:2] / f"{digest}.zip.fernet"


def keep(settings: Settings, keys: Keys, digest: str, files: list[tuple[str, Path]]) -> Path:
    """Keep the files as one ZIP, encrypted, under the upload's hash (written once, atomically)."""
    path = raw_path(settings, digest)
    if path.exists():
        return path
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, (name, spooled) in enumerate(files):
            # A number first: two files of one name stay two members. Deflated from the spooled file as it is
            # read, so only the compressed ZIP is held before it is sealed.
            archive.write(spooled, f"{number:02d}-{Path(name).name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(keys.seal(buffer.getvalue()))
    os.replace(tmp, path)
    return path


def kept_files(settings: Settings, submission: Submission, workdir: Path) -> list[tuple[str, Path]]:
    """The files of an upload as received, decrypted from where they are kept and written into ``workdir``
    a member at a time (the sealed ZIP is opened whole; its members are not held besides)."""
    try:
        token = Path(submission.raw_path).read_bytes()
    except OSError as exc:
        raise NotFound(f"the kept files of submission {submission.id} are missing (purged, or moved)") from exc
    data = keys_for(settings).open(token)
    del token
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
