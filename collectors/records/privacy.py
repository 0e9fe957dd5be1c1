"""The children's data guarded: a keyed pseudonym per deployment, and encryption of what must be kept in clear.

The keys themselves, their file, their fingerprint in the store and the refusals are the kernel's
(``onereturn.sealing``), as the door seals every kept upload with them too; named here as well, for the
record-level ways. What is the records' own: the children sealed under the keys count among what a store's keys
must open (:func:`sealed_before`, :func:`checked_keys`), and the keys are named at an upgrade and reported to
readiness.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine
from sqlmodel import Session, select

from collectors.records.models import RecordChild
from onereturn import sealing
from onereturn.errors import ConfigurationError
from onereturn.sealing import CANNOT_OPEN, PUBLIC_KEYS, Keys, KeysRefused, keys_for, keys_path
from onereturn.sealing import KEYS_NAME as KEYS_NAME
from onereturn.sealing import NEXT as NEXT
from onereturn.sealing import PSEUDONYM_HEX as PSEUDONYM_HEX
from onereturn.sealing import SealedElsewhere as SealedElsewhere
from onereturn.sealing import current_fingerprint as current_fingerprint
from onereturn.sealing import forget_cached as forget_cached
from onereturn.sealing import keys_at as keys_at
from onereturn.sealing import make_current as make_current
from onereturn.sealing import rotation_under_way as rotation_under_way
from onereturn.settings import Settings

__all__ = ["PUBLIC_KEYS", "Keys", "KeysRefused", "keys_for", "keys_path"]


def checked_keys(engine: Engine | Connection, settings: Settings) -> Keys:
    """This host's keys once the store agrees they are the deployment's (``onereturn.sealing.checked_keys``), where
    what they must open counts the children sealed before as well as the kept files."""
    return sealing.checked_keys(engine, settings, sealed_before=lambda: sealed_before(engine, settings))


def sealed_before(bind: Engine | Connection, settings: Settings) -> bytes | None:
    """One token sealed under the deployment's keys (a child's encrypted id, else a kept record-level file); None
    when nothing is sealed yet. What the keys a store is about to name must open."""
    with Session(bind) as session:
        child = session.exec(select(RecordChild.child_sealed).limit(1)).first()
    if child is not None:
        return child.encode("ascii")
    engine = bind.engine if isinstance(bind, Connection) else bind
    return sealing.kept_sealed(engine, settings)


def adopt_sealed(engine: Engine, settings: Settings) -> str:
    """At an upgrade: name in the store this host's keys when they open the records sealed before the store kept a
    fingerprint; say what was done (never raises for keys refused: the upgrade itself stands)."""
    with Session(engine) as session:
        current = current_fingerprint(session)
    if current is not None:
        return f"the store names the records keys of fingerprint {current[:12]}"
    if sealed_before(engine, settings) is None:
        return "no child's record is sealed yet: the first host to seal one names its keys"
    try:
        keys = checked_keys(engine, settings)
    except KeysRefused as exc:
        return f"the records keys are not named: {exc.message}"
    return f"named the records keys of fingerprint {keys.fingerprint[:12]}: they open the records sealed before"


def key_status(engine: Engine | Connection, settings: Settings) -> dict[str, str]:
    """Whether this host may do record-level work with its keys, and why not, for ``/health/ready``: never raises."""
    with Session(engine) as session:
        current = current_fingerprint(session)
        rotating = rotation_under_way(session)
    if rotating is not None:
        # Every host waits alike: not this host's fault, so not a reason to take it out of a load balancer.
        return {
            "status": "rotating",
            "detail": f"the records keys are being rotated (since {rotating:%Y-%m-%d %H:%M} UTC)",
        }
    sealed = None if current is not None else sealed_before(engine, settings)
    try:
        keys = keys_for(settings, make=False)
    except ConfigurationError as exc:
        if current is None and sealed is None and not keys_path(settings).exists():
            return {"status": "not_yet_used", "detail": "no record-level upload yet; the keys are made on first use"}
        return {"status": "refused", "detail": exc.message}
    refused = {"status": "refused", "fingerprint": keys.fingerprint[:12]}
    if (why := PUBLIC_KEYS.get(keys.fingerprint)) is not None:
        return {**refused, "detail": f"this host's records keys are {why}: rotate them (onereturn records rotate-keys)"}
    if current is None and sealed is not None and not keys.opens(sealed):
        return {**refused, "detail": CANNOT_OPEN.format(keys.fingerprint[:12])}
    if current is None:
        return {"status": "not_yet_used", "fingerprint": keys.fingerprint[:12]}
    if current != keys.fingerprint:
        return {
            **refused,
            "detail": f"this host's records keys are not the deployment's (fingerprint {current[:12]} in the store)",
        }
    return {"status": "ok", "fingerprint": keys.fingerprint[:12]}
