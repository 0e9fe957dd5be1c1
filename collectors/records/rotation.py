"""Rotating the record-level keys (``onereturn records rotate-keys``): every sealed file sealed again and every
child's pseudonym and encrypted id made again under new keys, resumable, and then the old keys open nothing.

The new keys are made into a file beside the deployment's (``records-keys.json.rotating``) and the deployment's
file keeps the old ones until the run completes, so a run stopped at any point is taken up by the next: what is
already under the new keys is recognised by them (a Fernet token opens under its own key only) and left as it is.
Each child is re-keyed in one transaction: its rows in ``record_child`` (pseudonym and encrypted id), and every
finding (``record_problem.child``) and lineage row (``record_lineage.child``) naming its old pseudonym move to the
new one together, so a child keeps one history. Once all is done the new file replaces the old
(:func:`make_new_keys_current`). Run it with the service stopped on every host, then give every host the new file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.fernet import InvalidToken
from sqlalchemy import Engine, Table, bindparam, func
from sqlmodel import Session, SQLModel, col, select

from collectors import lease
from collectors.records.models import RecordChild, RecordLineage, RecordProblem
from collectors.records.privacy import (
    Keys,
    KeysRefused,
    current_fingerprint,
    forget_cached,
    keys_at,
    keys_path,
    make_current,
)
from indicators.models import RECORDS_KIND, Submission
from onereturn import keptfiles
from onereturn.errors import ConfigurationError, Conflict
from onereturn.settings import Settings

#: Children re-keyed a transaction at a time.
BATCH = 500
#: The new keys' file is the deployment's with this after its name, until the run completes.
ROTATING = ".rotating"


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


def rotate(engine: Engine, settings: Settings, progress: Progress | None = None) -> Rotated:
    """Seal every kept record-level file and re-key every child under new keys, then make them the deployment's."""
    progress = progress or _Silent()
    current = keys_path(settings)
    if not current.exists():
        raise ConfigurationError(f"there are no record-level keys at {current} to rotate")
    _refuse_while_busy(engine)
    old, new = keys_at(current), keys_at(rotating_path(settings))
    _refuse_other_keys(engine, old, new)
    files = _reseal_files(engine, settings, old, new, progress)
    children = _rekey_children(engine, old, new, progress)
    make_new_keys_current(engine, settings, new)
    return Rotated(files, children, current)


def _refuse_other_keys(engine: Engine, old: Keys, new: Keys) -> None:
    """Rotate only from the deployment's keys: a host holding others would seal nothing the store could open.

    The new keys may already be the store's where a run stopped between naming them and replacing the file."""
    with Session(engine) as session:
        named = current_fingerprint(session)
    if named not in (None, old.fingerprint, new.fingerprint):
        raise KeysRefused(
            f"this host's records keys (fingerprint {old.fingerprint[:12]}) are not the deployment's (fingerprint "
            f"{named[:12]} in the store): rotate on a host holding the deployment's keys file; nothing was changed"
        )


def _refuse_while_busy(engine: Engine) -> None:
    """Refuse to start while a worker holds a record-level upload: it reads and writes under the old keys."""
    with Session(engine) as session:
        busy = session.execute(
            select(func.count())
            .select_from(Submission)
            .where(
                col(Submission.kind) == RECORDS_KIND,
                col(Submission.status).in_(lease.UNFINISHED),
                col(Submission.lease_until) > datetime.now(UTC),
            )
        ).scalar_one()
    if busy:
        raise Conflict(
            f"{busy} record-level upload(s) are being processed now; stop the service on every host (onereturn serve "
            "and onereturn scheduler), then rotate the keys"
        )


def opens(keys: Keys, token: bytes) -> bool:
    """Whether ``token`` was sealed under ``keys`` (a Fernet token opens under its own key only)."""
    try:
        keys.fernet.decrypt(token)
    except InvalidToken:
        return False
    return True


def _reseal_files(engine: Engine, settings: Settings, old: Keys, new: Keys, progress: Progress) -> int:
    """Seal each kept record-level file again under the new key (one at a time; each written whole or not)."""
    names = list(keptfiles.names(engine, settings, keptfiles.RECORDS))
    progress.begin("sealed files", len(names))
    done = 0
    for name in names:
        token = keptfiles.read(engine, settings, name)
        if not opens(new, token):
            keptfiles.replace(engine, settings, name, new.seal(old.open(token)))
            done += 1
        progress.advance(1)
    return done


def _rekey_children(engine: Engine, old: Keys, new: Keys, progress: Progress) -> int:
    """Give every child its pseudonym and encrypted id under the new keys, a batch of children a transaction."""
    with Session(engine) as session:
        total = session.execute(select(func.count(func.distinct(col(RecordChild.pseudonym))))).scalar_one()
    progress.begin("children", int(total))
    made: set[str] = set()
    done = 0
    last = ""
    while True:
        with Session(engine) as session:
            batch = session.execute(
                select(col(RecordChild.pseudonym), func.min(col(RecordChild.child_sealed)))
                .where(col(RecordChild.pseudonym) > last)
                .group_by(col(RecordChild.pseudonym))
                .order_by(col(RecordChild.pseudonym))
                .limit(BATCH)
            ).all()
            if not batch:
                return done
            last = batch[-1][0]
            # A pseudonym this run made comes round again, ordered after the old ones: not counted twice.
            fresh = [(pseudonym, sealed) for pseudonym, sealed in batch if pseudonym not in made]
            moves = _moves(fresh, old, new)
            _move(session, moves)
            session.commit()
        made.update(pseudonym for pseudonym, _ in moves.values())
        done += len(moves)
        progress.advance(len(fresh))


def _moves(rows: Iterable[tuple[str, str]], old: Keys, new: Keys) -> dict[str, tuple[str, str]]:
    """Each old pseudonym's new pseudonym and encrypted id; a child already under the new keys is left out."""
    moves = {}
    for pseudonym, sealed in rows:
        if opens(new, sealed.encode("ascii")):
            continue  # re-keyed by a run that was stopped
        child = old.open_text(sealed)
        moves[pseudonym] = (new.pseudonym(child), new.seal_text(child))
    return moves


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
