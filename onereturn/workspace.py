"""One private folder for what the service must hold in the clear for a moment: a child's files opened for DfE's
rules, an upload's body on its way to an upload process.

Never the system's temporary folder, which no start and no purge of the service empties: a process stopped by
``kill -9`` would leave children's records there for good. Instead ``<data_dir>/private`` (mode 0700), in which each
process has a folder of its own beside a lock file it holds open (``flock``) while it lives. The kernel releases the
lock however the process ends, so :func:`clear_left` (run at every start and by the purge) removes the folder of
every process that is gone, and never one a live process of this host or another serving the same data folder
still uses.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from onereturn.settings import Settings

log = logging.getLogger(__name__)

#: The private folder's name inside the data folder.
PRIVATE = "private"
#: An earlier release spooled upload bodies here, outside any process's own folder.
_LEGACY_SPOOL = "spool"
#: Where earlier releases opened children's files, in the system's temporary folder, which a crash left there.
_LEGACY_TMP = ("onereturn-records-", "onereturn-annexa-", "onereturn-ssd-", "onereturn-sen2-")
#: How long ago such a folder must have changed before it goes: a process of an earlier release may still use it.
LEGACY_AGE_S = 3600

_lock = threading.Lock()
#: This process's own folder per private root, with the open lock file that claims it (by pid: a forked child
#: claims its own, the parent's lock being no proof the child lives).
_own: dict[tuple[int, Path], tuple[Path, int]] = {}


def private_root(settings: Settings) -> Path:
    """The service's private folder, made readable by the service's user only."""
    root = settings.data_dir.resolve() / PRIVATE
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is narrowed by the umask but never widened: set it outright, for a folder made earlier too.
    os.chmod(root, 0o700)
    return root


def own_folder(settings: Settings) -> Path:
    """This process's own folder in the private folder, claimed by a lock held until the process ends."""
    root = private_root(settings)
    key = (os.getpid(), root)
    with _lock:
        held = _own.get(key)
        if held is not None and held[0].is_dir():
            return held[0]
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        # Locked under a name no clear reads, then renamed: a clear never finds the lock file free of its holder.
        claiming = root / f"{name}.claiming"
        handle = os.open(claiming, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(handle, fcntl.LOCK_EX)
        os.rename(claiming, root / f"{name}.lock")
        folder = root / name
        folder.mkdir(mode=0o700)
        _own[key] = (folder, handle)
        return folder


@contextmanager
def private_folder(settings: Settings, prefix: str) -> Iterator[Path]:
    """A folder of this process's own in the private folder, removed with everything in it when the block ends."""
    with tempfile.TemporaryDirectory(dir=own_folder(settings), prefix=prefix) as work:
        yield Path(work)


def private_file(settings: Settings, suffix: str) -> Path:
    """A new empty file of this process's own in the private folder; the caller removes it."""
    handle, name = tempfile.mkstemp(dir=own_folder(settings), suffix=suffix)
    os.close(handle)
    return Path(name)


def clear_left(settings: Settings) -> int:
    """Remove what processes now gone left in the private folder (a crash, ``kill -9``); the number of files removed.

    A folder is removed only once its lock can be taken, that is once no process holds it any more."""
    root = private_root(settings)
    removed = 0
    for lock_file in sorted(root.glob("*.lock")):
        folder = lock_file.with_suffix("")
        try:
            handle = os.open(lock_file, os.O_RDWR)
        except FileNotFoundError:
            continue  # another start cleared it a moment before
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its process still lives
            removed += _remove(folder)
            lock_file.unlink(missing_ok=True)
        finally:
            os.close(handle)
    # A folder without its lock file is one whose process died between the two or whose lock a clear removed.
    for folder in root.iterdir():
        if folder.is_dir() and not folder.with_name(f"{folder.name}.lock").exists() and not _is_own(folder):
            removed += _remove(folder)
    legacy = settings.data_dir.resolve() / _LEGACY_SPOOL
    if legacy.is_dir():
        removed += _remove(legacy)
    removed += _clear_legacy_tmp()
    if removed:
        log.warning("removed %d file(s) a stopped process left in %s", removed, root)
    return removed


def _clear_legacy_tmp() -> int:
    """Remove this user's folders an earlier release left children's files in, in the system's temporary folder."""
    base, now, uid = Path(tempfile.gettempdir()), time.time(), os.getuid()
    removed = 0
    try:
        entries = [entry for entry in base.iterdir() if entry.name.startswith(_LEGACY_TMP)]
    except OSError:
        return 0
    for entry in entries:
        try:
            found = entry.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(found.st_mode) and found.st_uid == uid and now - found.st_mtime >= LEGACY_AGE_S:
            removed += _remove(entry)
    return removed


def _is_own(folder: Path) -> bool:
    with _lock:
        return any(held[0] == folder for held in _own.values())


def _remove(folder: Path) -> int:
    count = sum(1 for path in folder.rglob("*") if not path.is_dir()) if folder.exists() else 0
    shutil.rmtree(folder, ignore_errors=True)
    return count
