"""The region's cross-council child key: the same for one child in every member council's files and every return,
made under a secret of the region's that no council and no output holds.

The key is HMAC-SHA256 under the region's secret of the child's UPN (``upn:`` and the UPN, upper case), or, for a
child with no UPN, of the council's own id for the child scoped to the council (``la:``, the council's GSS code and
the id), which is what the council's pseudonym is made from, or of a young person's ULN in SEN2 (``uln:``). A plain
hash of a UPN could be reversed by hashing every possible UPN; an HMAC cannot be recomputed without the secret.

The secret is 32 random bytes made on the region's first output, sealed under the deployment's records keys and
kept as a kept file (``records/regions/<region>.secret.fernet``, on every host through the store): so a backup holds
it sealed, and a rotation of the records keys (``onereturn records rotate-keys``) seals it again with every other
kept record file, and the key of each child is unchanged by it. No route, page or output gives it.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine

from collectors.records.privacy import checked_keys
from onereturn import keptfiles
from onereturn.settings import Settings

#: Hex digits of the HMAC kept as a child's key: 128 bits, as the deployment's pseudonyms.
KEY_HEX = 32
#: A UPN as DfE's CIN census schema has it (``upntype``: a letter and twelve digits, or a letter, eleven digits and a
#: letter; CIN_schema_2024.xsd); the 903's "UN1" to "UN10" (no UPN, and why) are not one.
UPN = re.compile(r"[A-Z][0-9]{12}|[A-Z][0-9]{11}[A-Z]")
#: A learner's ULN: ten digits (SEN2's UniqueLearnerNumber).
ULN = re.compile(r"[0-9]{10}")


def secret_name(region: str) -> str:
    """The kept file the region's secret is sealed in (under ``records/``, so a key rotation seals it again)."""
    return f"{keptfiles.RECORDS}/regions/{region}.secret.fernet"


@dataclass(frozen=True)
class ChildKeys:
    """A region's keys for its children, under its secret (held only while an output is built)."""

    secret: bytes

    def of(self, label: str) -> str:
        """The key of a child's label (``upn:…``, ``uln:…`` or ``la:<GSS>:<id>``)."""
        return hmac.digest(self.secret, label.encode("utf-8"), "sha256").hex()[:KEY_HEX]


def label(council: str, child_id: str | None, upn: str | None, uln: str | None = None) -> str | None:
    """What a child's key is made from: its UPN where it has a well-formed one, else its ULN, else the council's own
    id for it within the council; None for a child with neither (it is pooled without a key)."""
    given = (upn or "").strip().upper()
    if UPN.fullmatch(given):
        return f"upn:{given}"
    learner = (uln or "").strip()
    if ULN.fullmatch(learner):
        return f"uln:{learner}"
    own = (child_id or "").strip()
    return f"la:{council}:{own}" if own else None


def region_keys(engine: Engine, settings: Settings, region: str) -> ChildKeys:
    """The region's keys: its secret opened with the deployment's records keys, made and kept on first use (the first
    host to keep it wins; every host reads that one)."""
    keys = checked_keys(engine, settings)
    name = secret_name(region)
    try:
        sealed = keptfiles.read(engine, settings, name)
    except keptfiles.KeptFileMissing:
        keptfiles.keep(engine, settings, name, keys.seal(secrets.token_bytes(32)))
        # Read back what was kept: of two hosts keeping at once, the store holds one secret, and both use it.
        sealed = keptfiles.read(engine, settings, name)
    return ChildKeys(keys.open(sealed))
