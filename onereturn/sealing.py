"""The deployment's keys, which seal every kept file at rest (raw uploads and record-level files) and the children's
ids: a keyed pseudonym secret and a Fernet key, the one primitive the door and the record-level ways share.

Two keys, made on first use into a file beside the data folder, not in it (``<data_dir>-keys/records-keys.json``,
or the file ``ONERETURN_RECORDS_KEYS_FILE`` names; a deployment whose keys were made inside the data folder,
as before, keeps reading them there), never into the store: a secret for HMAC-SHA256, which turns a
council's child id into the pseudonym the store keeps in lineage and findings, and a Fernet key (AES-128-CBC
with HMAC-SHA256, from the ``cryptography`` library) under which every kept file and the council's own child ids
are kept. A backup of the store therefore holds no file or child id it could read on its own.

Every host of a deployment must hold the same keys: the store keeps a fingerprint of the key in use (never the
key, ``records_key``), recorded by the first host that seals anything with it, and :func:`checked_keys` refuses
sealing on a host whose key has another fingerprint, whose keys file others can read, or while a rotation is under
way, before anything is written. The record-level ways add their own sealed children to what the keys must open
(``collectors.records.privacy``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from onereturn import keptfiles
from onereturn.errors import ConfigurationError
from onereturn.models import RecordsKey
from onereturn.settings import Settings

log = logging.getLogger(__name__)

#: The keys file's name, in a folder of its own beside the data folder.
KEYS_NAME = "records-keys.json"

#: Hex digits of the HMAC kept as a pseudonym: 128 bits, far beyond any chance of two children meeting.
PSEUDONYM_HEX = 32
_lock = threading.Lock()
#: Each keys file read, with what it held when read (inode, size, change time): a file replaced since is read again.
_cache: dict[Path, tuple[Keys, tuple[int, int, int]]] = {}
_warned: set[Path] = set()
_said: set[tuple[str, Path]] = set()


class KeysRefused(ConfigurationError):
    """This host's records keys are not the deployment's, or are not kept safe: record-level work is refused.

    Its message is answered to agencies, so it never names a path of the server; ``where`` (the keys file) goes to
    the host's log, for its operator."""

    status_code = 503
    error_type = "records_keys_refused"

    def __init__(self, message: str, *, where: Path | None = None) -> None:
        super().__init__(message)
        self.where = where
        if where is not None and (message, where) not in _said:
            # Once a process: readiness asks again every few seconds.
            _said.add((message, where))
            log.error("%s (this host's keys file: %s)", message, where)


class SealedElsewhere(ConfigurationError):
    """A kept file or child id this host's keys cannot open: a host's problem (its keys file), never the council's."""

    status_code = 503
    error_type = "records_keys_refused"

    def after_failure(self, submission_id: int) -> str:
        """What an upload this ended is told: the council's files are sound, the host's keys are not the store's."""
        return (
            "the kept files are sealed under records keys this host does not hold; the files are kept: give the "
            "host the deployment's keys file (onereturn records rotate-keys re-seals any file left under retired "
            f"keys), then run onereturn submissions reprocess {submission_id}, or send the same files again"
        )


#: Keys every store refuses, by fingerprint (never the keys): anyone can read them, so they guard nothing. The one
#: keys file ever committed to the repository (``var-keys/records-keys.json``, removed by commit 8af4ed3) stays
#: readable in its public history; a deployment that ran with it rotates away from it (rotation still reads it).
PUBLIC_KEYS = {
    "0d46ba36c63538b392c141bd53f4e5219c8be6adea8e0e92ca3d4ccf1c79df61": (
        "the keys file once committed to the repository, which anyone can read in its public history"
    ),
}

#: Separates the fingerprint's hash from any other use of the key material.
_FINGERPRINT_LABEL = b"onereturn records key fingerprint v1\x00"


@dataclass(frozen=True)
class Keys:
    """The deployment's pseudonym secret and encryption key."""

    secret: bytes
    fernet: Fernet
    encryption_key: bytes

    @property
    def fingerprint(self) -> str:
        """SHA-256 over both keys, as hex: names the keys in the store and in messages without revealing them."""
        return hashlib.sha256(_FINGERPRINT_LABEL + self.secret + b"\x00" + self.encryption_key).hexdigest()

    def pseudonym(self, child_id: str) -> str:
        """The child's pseudonym: HMAC-SHA256 of the council's id under the deployment's secret (hex)."""
        # hmac.digest is the one-shot C path: the same HMAC as hmac.new(...).hexdigest(), without its objects.
        return hmac.digest(self.secret, child_id.strip().encode("utf-8"), "sha256").hex()[:PSEUDONYM_HEX]

    def pseudonyms(self, child_ids: Iterable[str], known: dict[str, str] | None = None) -> dict[str, str]:
        """Each distinct id's pseudonym, computed once however often it repeats; ``known`` is filled and returned.

        ``known`` holds one upload's pseudonyms only, so nothing outlives the upload (or a rotation of its keys).
        """
        names = {} if known is None else known
        for child_id in child_ids:
            if child_id not in names:
                names[child_id] = self.pseudonym(child_id)
        return names

    def seal(self, data: bytes) -> bytes:
        """Encrypt ``data`` (authenticated: a changed byte fails to open)."""
        return self.fernet.encrypt(data)

    def open(self, token: bytes) -> bytes:
        """Decrypt what :meth:`seal` made; a token made under another key is a clear error."""
        try:
            return self.fernet.decrypt(token)
        except InvalidToken:
            raise SealedElsewhere(
                "a record-level file or child id cannot be decrypted with this deployment's key "
                "(the records keys file was replaced or belongs to another deployment)"
            ) from None

    def opens(self, token: bytes) -> bool:
        """Whether ``token`` was sealed under these keys (a Fernet token opens under its own key only)."""
        try:
            self.fernet.decrypt(token)
        except InvalidToken:
            return False
        return True

    def seal_text(self, text: str) -> str:
        """Encrypt a short text (a child id) into a printable token."""
        return self.seal(text.encode("utf-8")).decode("ascii")

    def open_text(self, token: str) -> str:
        """Decrypt a token made by :meth:`seal_text`."""
        return self.open(token.encode("ascii")).decode("utf-8")


def keys_path(settings: Settings) -> Path:
    """Where the deployment's record-level keys live: the file set, else beside the data folder, not in it."""
    if settings.records_keys_file is not None:
        return settings.records_keys_file
    data = settings.data_dir.resolve()
    beside = data.parent / f"{data.name}-keys" / KEYS_NAME
    inside = data / KEYS_NAME
    # A copy of the data folder (the kept files, a SQLite store) must not carry the key that opens them; keys
    # made inside it by an earlier release are still read, so a deployment that has them keeps its children.
    if inside.exists() and not beside.exists():
        if inside not in _warned:
            _warned.add(inside)
            log.warning(
                "the record-level keys are inside the data folder (%s); move the file to %s, or name it with "
                "ONERETURN_RECORDS_KEYS_FILE, so a copy of the data folder cannot open the kept files",
                inside,
                beside,
            )
        return inside
    return beside


def keys_for(settings: Settings, *, make: bool = True) -> Keys:
    """The deployment's keys, made (readable by this user only) on first use unless ``make`` is False."""
    path = keys_path(settings).resolve()
    with _lock:
        found = _cache.get(path)
        # Checked again on every use, not only the first: a file opened to group or others since is refused, and
        # a file replaced since (the new keys of a rotation, copied in) is read again, so its keys are taken at once.
        if found is not None and _identity(path) == found[1]:
            _check_mode(path)
            return found[0]
        keys = _load_or_make(path, make=make)
        _cache[path] = (keys, _identity(path))
        return keys


def _identity(path: Path) -> tuple[int, int, int]:
    try:
        held = path.stat()
    except OSError:
        return (0, 0, 0)
    return (held.st_ino, held.st_size, held.st_ctime_ns)


def checked_keys(
    engine: Engine | Connection, settings: Settings, *, sealed_before: Callable[[], bytes | None] | None = None
) -> Keys:
    """This host's keys once the store agrees they are the deployment's: recorded by the first host to use them.

    Raises :class:`KeysRefused`, having written nothing, while a rotation is under way, where the store names another
    key, where this host has no keys file while the store already holds anything sealed (what ``sealed_before``
    finds: by default a kept sealed file), or where the file is open to others.
    """
    with Session(engine) as session:
        current = _current_fingerprint(session)
        rotating = rotation_under_way(session)
    if rotating is not None:
        # Anything sealed now might be missed by the rotation, or sealed under keys about to be retired.
        raise KeysRefused(
            f"the records keys are being rotated (since {rotating:%Y-%m-%d %H:%M} UTC): record-level work and every "
            "upload are refused until the rotation completes and this host holds the new keys file; try again then"
        )
    found = sealed_before or (lambda: kept_sealed(engine, settings))
    sealed = None if current is not None else found()
    # No keys are made on the spot once anything is sealed: they would open none of it.
    keys = keys_for(settings, make=current is None and sealed is None)
    _refuse_public(keys, settings)
    if current is None:
        if sealed is not None and not keys.opens(sealed):
            raise KeysRefused(CANNOT_OPEN.format(keys.fingerprint[:12]), where=keys_path(settings))
        current = _record_first(engine, keys.fingerprint)
    if current != keys.fingerprint:
        raise KeysRefused(
            f"this host's records keys (fingerprint {keys.fingerprint[:12]}) are not the deployment's (fingerprint "
            f"{current[:12]} in the store): copy the deployment's keys file to every host, or name it with "
            "ONERETURN_RECORDS_KEYS_FILE; nothing was written",
            where=keys_path(settings),
        )
    return keys


#: A store upgraded from a release before the fingerprint holds sealed records and names no keys.
CANNOT_OPEN = (
    "the store holds children's records sealed before it kept a fingerprint of the keys, and this host's records keys "
    "(fingerprint {}) cannot open them: give this host the keys file that sealed them (kept from before the upgrade), "
    "or name it with ONERETURN_RECORDS_KEYS_FILE; nothing was written"
)


def _refuse_public(keys: Keys, settings: Settings) -> None:
    """Refuse keys anyone can read, whatever the store names: they guard no child."""
    why = PUBLIC_KEYS.get(keys.fingerprint)
    if why is not None:
        raise KeysRefused(
            f"this host's records keys (fingerprint {keys.fingerprint[:12]}) are {why}: rotate them with onereturn "
            "records rotate-keys and give every host the new keys file; record-level work is refused until then",
            where=keys_path(settings),
        )


def kept_sealed(bind: Engine | Connection, settings: Settings) -> bytes | None:
    """One kept file sealed under the deployment's keys (a record-level file, else a sealed upload); None when none."""
    engine = bind.engine if isinstance(bind, Connection) else bind
    for name in keptfiles.names(engine, settings, keptfiles.RECORDS):
        return keptfiles.read(engine, settings, name)
    for name in keptfiles.names(engine, settings, keptfiles.UPLOADS):
        if keptfiles.is_sealed(name):
            return keptfiles.read(engine, settings, name)
    return None


def make_current(session: Session, keys: Keys) -> None:
    """Mark ``keys`` the deployment's current keys and every earlier one retired (a rotation's last step)."""
    for row in session.exec(select(RecordsKey).where(col(RecordsKey.state).in_(("current", NEXT)))).all():
        row.state = "retired"
        session.add(row)
    session.flush()
    held = session.exec(select(RecordsKey).where(col(RecordsKey.fingerprint) == keys.fingerprint)).first()
    if held is None:
        held = RecordsKey(fingerprint=keys.fingerprint, recorded_at=datetime.now(UTC))
    held.state = "current"
    session.add(held)
    session.flush()


#: The state of the keys a rotation is moving the store to, until it completes (at most one row).
NEXT = "next"


def rotation_under_way(session: Session) -> datetime | None:
    """When the rotation under way began (the store names the keys it moves to), or None."""
    return session.exec(select(RecordsKey.recorded_at).where(col(RecordsKey.state) == NEXT)).first()


def current_fingerprint(session: Session) -> str | None:
    """The fingerprint of the keys the store names as the deployment's, or None before any record was sealed."""
    return _current_fingerprint(session)


def _current_fingerprint(session: Session) -> str | None:
    row = session.exec(select(RecordsKey.fingerprint).where(col(RecordsKey.state) == "current")).first()
    return row


def _record_first(engine: Engine | Connection, fingerprint: str) -> str:
    """Record ``fingerprint`` as the current key unless a host did first; the fingerprint that is current after."""
    try:
        with Session(engine) as session:
            session.add(RecordsKey(fingerprint=fingerprint, recorded_at=datetime.now(UTC)))
            session.commit()
    except IntegrityError:
        # Another host recorded its key a moment before: that one is the deployment's.
        pass
    with Session(engine) as session:
        current = _current_fingerprint(session)
    if current is None:
        raise KeysRefused("the store holds no current records key and this host's could not be recorded")
    return current


def _check_mode(path: Path) -> None:
    """Refuse a keys file that its group or others may read or write, as OpenSSH refuses an open private key."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise KeysRefused(f"this host's record-level keys file cannot be read ({exc.strerror})", where=path) from exc
    if mode & 0o077:
        raise KeysRefused(
            f"this host's record-level keys file has mode {mode:04o}: it must be readable by its owner only "
            "(chmod 600 the file); record-level work is refused until it is",
            where=path,
        )


def _load_or_make(path: Path, *, make: bool) -> Keys:
    if not path.exists() and not make:
        raise KeysRefused(
            "this host has no records keys file but the store holds records sealed with the deployment's keys: copy "
            "the deployment's keys file to the host, or name it with ONERETURN_RECORDS_KEYS_FILE",
            where=path,
        )
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise KeysRefused(
                f"the record-level keys cannot be made ({exc.strerror}); name a file outside the data folder with "
                "ONERETURN_RECORDS_KEYS_FILE",
                where=path,
            ) from exc
        made = {
            "pseudonym_secret": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii"),
            "encryption_key": Fernet.generate_key().decode("ascii"),
        }
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(handle, "w") as out:
            json.dump(made, out)
        try:
            # A hard link publishes the whole file or nothing: of two processes starting at once, one makes
            # it and the other reads that one.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    _check_mode(path)
    try:
        held = json.loads(path.read_text())
        key = held["encryption_key"].encode()
        return Keys(base64.urlsafe_b64decode(held["pseudonym_secret"]), Fernet(key), key)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeysRefused(
            f"this host's record-level keys file cannot be read ({type(exc).__name__})", where=path
        ) from exc


def keys_at(path: Path) -> Keys:
    """The keys in the file at ``path`` (not cached), made (readable by this user only) when there is none."""
    return _load_or_make(path.resolve(), make=True)


def forget_cached(path: Path) -> None:
    """Read the keys file at ``path`` again at its next use (its keys were replaced: ``rotation``)."""
    with _lock:
        _cache.pop(path.resolve(), None)
