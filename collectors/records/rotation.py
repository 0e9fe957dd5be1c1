"""Rotating the record-level keys (``onereturn records rotate-keys``): every sealed file sealed again and every
child's pseudonym and encrypted id made again under new keys, resumable, and then the old keys open nothing.

The hosts and the rotation agree through the store. The run first names the new keys' fingerprint in the store as
``next``: from then every host refuses record-level work (``privacy.checked_keys``), so nothing is sealed under keys
about to be retired, and the run waits for the uploads a worker is processing to end. It then seals every kept
file again, re-keys every child, seals again any file a host kept while it began, and only then names the new keys
current. A host still holding the old keys file is refused until it holds the new one (it reads a replaced file
at its next use). The new keys are made into a file beside the deployment's (``records-keys.json.rotating``) and
the deployment's file keeps the old ones until the run completes, so a run stopped at any point is taken up by the
next: what is already under the new keys is recognised by them (a Fernet token opens under its own key only) and
left as it is. A run refused before it changed anything leaves no ``.rotating`` file and no mark. Each child is
re-keyed in one transaction: its rows in ``record_child`` (pseudonym and encrypted id), and every finding
(``record_problem.child``) and lineage row (``record_lineage.child``) naming its old pseudonym move to the new one
together, so a child keeps one history. Once all is done the new file replaces the old
(:func:`make_new_keys_current`).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, Table, bindparam, delete, func
from sqlmodel import Session, SQLModel, col, select

from collectors.door import lease
from collectors.records.models import RecordChild, RecordLineage, RecordProblem, RecordsKey
from collectors.records.privacy import (
    NEXT,
    Keys,
    KeysRefused,
    current_fingerprint,
    forget_cached,
    keys_at,
    keys_path,
    make_current,
)
from indicators.store.models import RECORDS_KIND, Submission
from onereturn import keptfiles
from onereturn.errors import ConfigurationError, Conflict
from onereturn.settings import Settings

#: Children re-keyed a transaction at a time.
BATCH = 5000
#: From this many children the cryptography runs in processes of its own, one a core (their start costs a second).
PARALLEL_FROM = 20_000
#: Processes at most, however many cores.
MAX_PROCESSES = 8
#: The new keys' file is the deployment's with this after its name, until the run completes.
ROTATING = ".rotating"
#: How long a run waits for the record-level uploads workers are processing when it begins.
WAIT_SECONDS = 900.0


class RotationFailed(ConfigurationError):
    """Something sealed opens under none of the keys the run holds: named, so the run can be made again."""


class Progress(Protocol):
    """Where a run says how far it is: a rich progress bar in the command, nothing in a test."""

    def begin(self, what: str, total: int) -> None:
        """A step starts, with ``total`` items to go through."""

    def advance(self, items: int) -> None:
        """``items`` more of the step's are through."""


class _Silent:
    def begin(self, what: str, total: int) -> None:
        pass

    def advance(self, items: int) -> None:
        pass


@dataclass(frozen=True)
class Rotated:
    """What a run did: sealed files sealed again, children re-keyed (by this run), and the keys file now current."""

    files: int
    children: int
    keys_file: Path


def rotating_path(settings: Settings) -> Path:
    """Where the new keys are kept until the run completes: beside the deployment's keys file."""
    current = keys_path(settings)
    return current.with_name(current.name + ROTATING)


def rotate(
    engine: Engine,
    settings: Settings,
    progress: Progress | None = None,
    *,
    also: Sequence[Keys] = (),
    wait_seconds: float = WAIT_SECONDS,
) -> Rotated:
    """Seal every kept record-level file and re-key every child under new keys, then make them the deployment's.

    ``also``: keys besides the deployment's that opened some of what is kept (a file sealed by a host with others)."""
    progress = progress or _Silent()
    current = keys_path(settings)
    if not current.exists():
        raise ConfigurationError(f"there are no record-level keys at {current} to rotate")
    rotating = rotating_path(settings)
    resuming = rotating.exists()
    old, new = keys_at(current), keys_at(rotating)
    try:
        _refuse_other_keys(engine, old, new)
        _announce(engine, new)
        _wait_for_workers(engine, wait_seconds)
    except BaseException:
        if not resuming:
            # Nothing is sealed under the new keys yet: the store and the keys' folder are left as they were.
            _withdraw(engine, new)
            rotating.unlink(missing_ok=True)
        raise
    run = _Run(engine, settings, (old, *also), new, progress)
    files = run.reseal_files()[1]
    children = run.rekey_children()
    # A host that passed its check just before the mark may have kept a file since: sealed again until none is new.
    while True:
        looked, done = run.reseal_files(again=True)
        files += done
        if not looked:
            break
    run.raise_unreadable()
    make_new_keys_current(engine, settings, new)
    return Rotated(files, children, current)


def _announce(engine: Engine, new: Keys) -> None:
    """Name ``new`` in the store as the keys the store is moving to: every host refuses record-level work from now."""
    with Session(engine) as session:
        held = session.exec(select(RecordsKey).where(col(RecordsKey.fingerprint) == new.fingerprint)).first()
        if held is None:
            session.add(RecordsKey(fingerprint=new.fingerprint, state=NEXT, recorded_at=datetime.now(UTC)))
        elif held.state != "current":
            held.state = NEXT
            session.add(held)
        session.commit()


def _withdraw(engine: Engine, new: Keys) -> None:
    """Take this run's mark away (it changed nothing): hosts take up record-level work again under the old keys."""
    with Session(engine) as session:
        session.execute(
            delete(RecordsKey).where(col(RecordsKey.fingerprint) == new.fingerprint, col(RecordsKey.state) == NEXT)
        )
        session.commit()


def _refuse_other_keys(engine: Engine, old: Keys, new: Keys) -> None:
    """Rotate only from the deployment's keys, and only one rotation at a time.

    The new keys may already be the store's where a run stopped between naming them and replacing the file."""
    with Session(engine) as session:
        named = current_fingerprint(session)
        moving = session.exec(select(RecordsKey.fingerprint).where(col(RecordsKey.state) == NEXT)).first()
    if named not in (None, old.fingerprint, new.fingerprint):
        raise KeysRefused(
            f"this host's records keys (fingerprint {old.fingerprint[:12]}) are not the deployment's (fingerprint "
            f"{named[:12]} in the store): rotate on a host holding the deployment's keys file; nothing was changed"
        )
    if moving not in (None, new.fingerprint):
        raise Conflict(
            f"another rotation of the records keys is under way (to keys of fingerprint {moving[:12]}): run "
            "onereturn records rotate-keys again on the host that began it, whose keys' folder holds its "
            ".rotating file; nothing was changed"
        )


def _wait_for_workers(engine: Engine, wait_seconds: float) -> None:
    """Wait for the record-level uploads workers hold (they read and write under the old keys) to end."""
    deadline = time.monotonic() + wait_seconds
    while True:
        with Session(engine) as session:
            busy = session.execute(
                select(Submission.id, Submission.agency_code, Submission.stage, Submission.lease_owner)
                .where(
                    col(Submission.kind) == RECORDS_KIND,
                    col(Submission.status).in_(lease.UNFINISHED),
                    col(Submission.lease_owner) != "",
                    col(Submission.lease_until) > datetime.now(UTC),
                )
                .order_by(col(Submission.id))
            ).all()
        if not busy:
            return
        if time.monotonic() >= deadline:
            named = "; ".join(f"upload {i} of {a} (stage {s}, worker {w})" for i, a, s, w in busy[:10])
            raise Conflict(
                f"{len(busy)} record-level upload(s) were still being processed after {wait_seconds:g} s: {named}; "
                "nothing was changed: run onereturn records rotate-keys again once they end"
            )
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


def opens(keys: Keys, token: bytes) -> bool:
    """Whether ``token`` was sealed under ``keys`` (a Fernet token opens under its own key only)."""
    return keys.opens(token)


def _open_with(held: Sequence[Keys], token: bytes) -> bytes | None:
    """What ``token`` holds, opened with the first of ``held`` it was sealed under; None when none opens it."""
    for keys in held:
        try:
            return keys.fernet.decrypt(token)
        except InvalidToken:
            continue
    return None


def _compute(
    held: Sequence[Keys], new: Keys, rows: list[tuple[str, str]]
) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Each old pseudonym's new pseudonym and encrypted id, and the pseudonyms under none of ``held`` nor ``new``."""
    moves, unreadable = {}, []
    for pseudonym, sealed in rows:
        token = sealed.encode("ascii")
        # The old keys first: they open nearly every child, so most children are decrypted once.
        plain = _open_with(held, token)
        if plain is None:
            if not new.opens(token):
                unreadable.append(pseudonym)
            continue  # under the new keys already: re-keyed by a run that was stopped
        child = plain.decode("utf-8")
        moves[pseudonym] = (new.pseudonym(child), new.seal_text(child))
    return moves, unreadable


#: The keys a rotation's worker process holds (``_hold_keys``), set once as it starts.
_held: tuple[tuple[Keys, ...], Keys] | None = None


def _keys(material: tuple[bytes, bytes]) -> Keys:
    secret, key = material
    return Keys(secret, Fernet(key), key)


def _hold_keys(held: list[tuple[bytes, bytes]], new: tuple[bytes, bytes]) -> None:
    """A worker process's start: the run's keys, sent once rather than with every batch."""
    global _held
    _held = (tuple(_keys(m) for m in held), _keys(new))


def _compute_held(rows: list[tuple[str, str]]) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """:func:`_compute` in a worker process, with the keys it was started with."""
    assert _held is not None
    return _compute(_held[0], _held[1], rows)


def _sealed_files(engine: Engine, settings: Settings) -> list[str]:
    """Every kept file sealed under the keys: the record-level files and the raw uploads (not those kept plain before
    sealing, which no key opens)."""
    uploads = (n for n in keptfiles.names(engine, settings, keptfiles.UPLOADS) if keptfiles.is_sealed(n))
    return [*keptfiles.names(engine, settings, keptfiles.RECORDS), *uploads]


@dataclass
class _Run:
    """One run's passes over the store, and what opened under none of its keys."""

    engine: Engine
    settings: Settings
    held: tuple[Keys, ...]
    new: Keys
    progress: Progress
    seen: set[str] = field(default_factory=set)
    unreadable_files: list[str] = field(default_factory=list)
    unreadable_children: list[str] = field(default_factory=list)

    def reseal_files(self, *, again: bool = False) -> tuple[int, int]:
        """Seal each kept file (record-level files and raw uploads) not yet looked at again under the new key (one at a
        time; each written whole or not); the files looked at and those sealed again."""
        names = [n for n in _sealed_files(self.engine, self.settings) if n not in self.seen]
        if names or not again:
            self.progress.begin("sealed files kept meanwhile" if again else "sealed files", len(names))
        done = 0
        for name in names:
            self.seen.add(name)
            token = keptfiles.read(self.engine, self.settings, name)
            if not self.new.opens(token):
                plain = _open_with(self.held, token)
                if plain is None:
                    self.unreadable_files.append(name)
                else:
                    keptfiles.replace(self.engine, self.settings, name, self.new.seal(plain))
                    done += 1
            self.progress.advance(1)
        return len(names), done

    def rekey_children(self) -> int:
        """Give every child its pseudonym and encrypted id under the new keys, a batch of children a transaction.

        From :data:`PARALLEL_FROM` children the cryptography of each batch runs in processes of its own (one a core)
        while this one reads the next batches and writes the ones done, in order."""
        with Session(self.engine) as session:
            total = int(session.execute(select(func.count(func.distinct(col(RecordChild.pseudonym))))).scalar_one())
        self.progress.begin("children", total)
        workers = min(os.cpu_count() or 1, MAX_PROCESSES) if total >= PARALLEL_FROM else 1
        if workers < 2:
            return self._rekey(lambda rows: _compute(self.held, self.new, rows), ahead=0)
        context = multiprocessing.get_context("spawn")  # the caller may run threads (a progress bar): never fork
        materials = ([(k.secret, k.encryption_key) for k in self.held], (self.new.secret, self.new.encryption_key))
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_hold_keys, initargs=materials) as pool:
            return self._rekey(lambda rows: pool.submit(_compute_held, rows), ahead=workers)

    def _rekey(self, compute: Callable[[list[tuple[str, str]]], Any], *, ahead: int) -> int:
        """Read batches in pseudonym order, each computed by ``compute`` (at once, or a future ``ahead`` batches in
        flight), and write each batch's moves in one transaction, in the order read."""
        made: set[str] = set()
        pending: deque[tuple[Any, int]] = deque()
        done = 0
        last = ""
        exhausted = False
        while not exhausted or pending:
            if not exhausted:
                with Session(self.engine) as session:
                    batch = session.execute(
                        select(col(RecordChild.pseudonym), func.min(col(RecordChild.child_sealed)))
                        .where(col(RecordChild.pseudonym) > last)
                        .group_by(col(RecordChild.pseudonym))
                        .order_by(col(RecordChild.pseudonym))
                        .limit(BATCH)
                    ).all()
                exhausted = not batch
                if batch:
                    last = batch[-1][0]
                    # A pseudonym this run made comes round again, ordered after the old ones: not counted twice
                    # (it is in ``made`` before its row is written, so before any read can meet it).
                    fresh = [(pseudonym, sealed) for pseudonym, sealed in batch if pseudonym not in made]
                    pending.append((compute(fresh), len(fresh)))
            if pending and (exhausted or len(pending) > ahead):
                computed, read = pending.popleft()
                moves, unreadable = computed.result() if isinstance(computed, Future) else computed
                self.unreadable_children.extend(unreadable)
                made.update(pseudonym for pseudonym, _ in moves.values())
                with Session(self.engine) as session:
                    _move(session, moves)
                    session.commit()
                done += len(moves)
                self.progress.advance(read)
        return done

    def raise_unreadable(self) -> None:
        """Fail the run naming each file and upload whose records open under none of its keys (all else is done)."""
        if not self.unreadable_files and not self.unreadable_children:
            return
        with Session(self.engine) as session:
            named = [f"{name} ({_uploads_of(session, name)})" for name in self.unreadable_files[:20]]
            ids = session.execute(
                select(func.distinct(col(RecordChild.submission_id))).where(
                    col(RecordChild.pseudonym).in_(self.unreadable_children[:1000])
                )
            ).scalars()
            uploads = sorted(int(i) for i in ids)
        parts = []
        if named:
            parts.append(f"{len(self.unreadable_files)} kept file(s): {'; '.join(named)}")
        if self.unreadable_children:
            parts.append(f"{len(self.unreadable_children)} child(ren) of upload(s) {', '.join(map(str, uploads))}")
        raise RotationFailed(
            f"the rotation could not open {' and '.join(parts)}: they were sealed under keys neither the deployment's "
            "keys file nor the new one holds. Everything else is under the new keys, and record-level work stays "
            "refused on every host until a run completes: name the keys file that sealed them with --also-open FILE "
            "and run onereturn records rotate-keys again"
        )


def _uploads_of(session: Session, name: str) -> str:
    """The uploads whose kept files are ``name``, as an operator finds them."""
    found = session.execute(
        select(Submission.id, Submission.agency_code)
        .where(col(Submission.raw_path).endswith(name))
        .order_by(col(Submission.id))
    ).all()
    return ", ".join(f"upload {i} of {a}" for i, a in found) or "no upload names it"


def _move(session: Session, moves: dict[str, tuple[str, str]]) -> None:
    """Move every row naming each old pseudonym to the new one (in the caller's transaction; one statement a table,
    sent for every child at once)."""
    if not moves:
        return
    children = _table(RecordChild)
    session.connection().execute(
        children.update()
        .where(children.c.pseudonym == bindparam("before"))
        .values(pseudonym=bindparam("after"), child_sealed=bindparam("sealed")),
        [{"before": b, "after": a, "sealed": s} for b, (a, s) in moves.items()],
    )
    for model in (RecordProblem, RecordLineage):
        table = _table(model)
        session.connection().execute(
            table.update().where(table.c.child == bindparam("before")).values(child=bindparam("after")),
            [{"before": b, "after": a} for b, (a, _) in moves.items()],
        )


def _table(model: type[SQLModel]) -> Table:
    table = model.metadata.tables[str(model.__tablename__)]
    return table


def make_new_keys_current(engine: Engine, settings: Settings, new: Keys) -> None:
    """Where the new keys become the deployment's: the store names their fingerprint (so a host still holding the old
    keys is refused from now on), then the rotating file replaces the keys file (atomically), and this process reads
    it from now on. Nothing the store keeps is under the old keys any more.

    In that order: a run stopped between the two finds the store naming the rotating file's keys and completes."""
    with Session(engine) as session:
        make_current(session, new)
        session.commit()
    replace_keys_file(settings)


def replace_keys_file(settings: Settings) -> None:
    """The rotating file becomes the deployment's keys file (atomically); this process reads it from now on."""
    current = keys_path(settings)
    os.replace(rotating_path(settings), current)
    forget_cached(current)
