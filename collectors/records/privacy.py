"""The children's data guarded: a keyed pseudonym per deployment, and encryption of what must be kept in clear.

Two keys, made on first use into a file beside the data folder, not in it (``<data_dir>-keys/records-keys.json``,
or the file ``ONERETURN_RECORDS_KEYS_FILE`` names; a deployment whose keys were made inside the data folder,
as before, keeps reading them there), never into the store: a secret for HMAC-SHA256, which turns a
council's child id into the pseudonym the store keeps in lineage and findings, and a Fernet key (AES-128-CBC
with HMAC-SHA256, from the ``cryptography`` library) under which the council's own child ids and the raw
record-level files are kept. A backup of the store therefore holds no child id it could read on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from onereturn.errors import ConfigurationError
from onereturn.settings import Settings

log = logging.getLogger(__name__)

#: The keys file's name, in a folder of its own beside the data folder.
KEYS_NAME = "records-keys.json"

#: Hex digits of the HMAC kept as a pseudonym: 128 bits, far beyond any chance of two children meeting.
PSEUDONYM_HEX = 32
_lock = threading.Lock()
_cache: dict[Path, Keys] = {}
_warned: set[Path] = set()


@dataclass(frozen=True)
class Keys:
    """The deployment's pseudonym secret and encryption key."""

    secret: bytes
    fernet: Fernet

    def pseudonym(self, child_id: str) -> str:
        """The child's pseudonym: HMAC-SHA256 of the council's id under the deployment's secret (hex)."""
        digest = hmac.new(self.secret, child_id.strip().encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX]

    def seal(self, data: bytes) -> bytes:
        """Encrypt ``data`` (authenticated: a changed byte fails to open)."""
        return self.fernet.encrypt(data)

    def open(self, token: bytes) -> bytes:
        """Decrypt what :meth:`seal` made; a token made under another key is a clear error."""
        try:
            return self.fernet.decrypt(token)
        except InvalidToken:
            raise ConfigurationError(
                "a record-level file or child id cannot be decrypted with this deployment's key "
                "(the records keys file was replaced or belongs to another deployment)"
            ) from None

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


def keys_for(settings: Settings) -> Keys:
    """The deployment's keys, made (readable by this user only) on first use."""
    path = keys_path(settings).resolve()
    with _lock:
        found = _cache.get(path)
        if found is None:
            found = _cache[path] = _load_or_make(path)
        return found


def _load_or_make(path: Path) -> Keys:
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"the record-level keys cannot be made in {path.parent} ({exc.strerror}); name a file outside the "
                "data folder with ONERETURN_RECORDS_KEYS_FILE"
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
    try:
        held = json.loads(path.read_text())
        return Keys(base64.urlsafe_b64decode(held["pseudonym_secret"]), Fernet(held["encryption_key"].encode()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"the record-level keys file {path} cannot be read ({exc})") from exc


def keys_at(path: Path) -> Keys:
    """The keys in the file at ``path`` (not cached), made (readable by this user only) when there is none."""
    return _load_or_make(path.resolve())


def forget_cached(path: Path) -> None:
    """Read the keys file at ``path`` again at its next use (its keys were replaced: ``rotation``)."""
    with _lock:
        _cache.pop(path.resolve(), None)
