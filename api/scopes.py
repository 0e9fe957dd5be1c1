"""Read scopes, stated once: what each principal may read, for every door (JSON API, SDMX, web pages).

An officer reads everything. An agency reads its own figures, submissions, reports, template,
calendar and messages, and nothing of any other body. A regulator reads only the returns
addressed to it (their files, completeness, stored snapshots and lineage), never raw figures,
submissions, file rows, templates, agencies' burden or another recipient's returns.

``/api/figures`` answers a regulator 403 rather than "only the released cells of its returns":
a figure is a raw stored value with its uploader, submission and file row, whereas a released
cell exists only after the return's period conversion, roll-up, rounding and suppression. The
released cells already have their doors (the return's files, its lineage and SDMX); a second,
figure-shaped door onto them would have to repeat disclosure control and could drift from it.

Sign-offs: an officer reads every one; an agency its own (an approver's key also signs them off);
a regulator the states of its returns' sign-offs only, without digests, signers or declarations,
and never what an agency is about to vouch for (the figures behind a sign-off are the agency's).

``/api/burden`` answers a regulator 403 too: its rows are per-agency keying counts and its
consistency list shows raw figures measured two ways; restricting it to a regulator's returns
would still reveal the counts of the single agency that answers a return (NDTMS has one
provider in the demo), and the overlap between returns is public through the catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from onereturn.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from api.principal import Principal

#: Every kind of object a principal may be allowed to read.
Resource = Literal[
    "figures",  # stored figures, their versions and roll-ups
    "submissions",  # uploads, their reports (JSON, CSV, marked workbook)
    "agencies",  # agencies and what each answers for
    "templates",  # an agency's template of figures owed
    "calendar",  # deadlines with what each agency still owes, and clashes
    "outbox",  # reminders and notices
    "returns",  # built returns: files, completeness, snapshots and lineage
    "burden",  # burden saved per agency, overlap and figures measured two ways
    "signoffs",  # sign-off states; an agency its own, a regulator its returns' (states only)
]

#: Which kinds of principal may open each resource at all (officers open every one).
READERS: dict[Resource, frozenset[str]] = {
    "figures": frozenset({"officer", "agency"}),
    "submissions": frozenset({"officer", "agency"}),
    "agencies": frozenset({"officer", "agency"}),
    "templates": frozenset({"officer", "agency"}),
    "calendar": frozenset({"officer", "agency"}),
    "outbox": frozenset({"officer", "agency"}),
    "returns": frozenset({"officer", "regulator"}),
    "burden": frozenset({"officer"}),
    "signoffs": frozenset({"officer", "agency", "regulator"}),
}


#: Where a refused principal can find what it may read instead.
HINTS: dict[tuple[str, Resource], str] = {
    ("regulator", "figures"): ". Stored figures are not released; a regulator reads the released cells of its "
    "returns (GET /api/returns/{id}/{period}.csv, or /sdmx/data/...)",
}


@dataclass(frozen=True)
class ReadScope:
    """What one principal may read: the resources it may open and the limits within each."""

    kind: str
    resources: frozenset[Resource]
    #: An agency's own code: it reads only this agency's objects (None: not limited by agency).
    agency: str | None
    #: A regulator's recipient name: it reads only returns addressed to it (None: every return, for officers).
    recipient: str | None

    def allows(self, resource: Resource) -> bool:
        """Say whether the principal may open this kind of object at all."""
        return resource in self.resources

    def require(self, resource: Resource) -> None:
        """Raise Forbidden unless the principal may open this kind of object."""
        if resource in self.resources:
            return
        if self.kind in READERS[resource]:
            # Its kind may read this, but the key names no agency (see read_scope), so it reads nothing.
            raise Forbidden(
                f"This {self.kind} key is not issued to any {self.kind}, so it can read nothing; ask your performance "
                f"officer for a key issued to your {self.kind}"
            )
        raise Forbidden(refusal(self.kind, READERS[resource], resource))

    def owns_agency(self, code: str | None) -> bool:
        """Say whether objects of this agency are the principal's to read."""
        return self.agency is None or code == self.agency

    def check_agency(self, code: str) -> None:
        """Raise NotFound for another agency's objects, so an agency cannot even learn they exist."""
        if not self.owns_agency(code):
            raise NotFound(f"Agency {code!r} is not known")

    def reads_return(self, recipient: str, readers: Iterable[str] = ()) -> bool:
        """Say whether a return addressed to this recipient (and read by ``readers`` besides) is the principal's to
        read."""
        if self.kind == "officer":
            return True
        return self.kind == "regulator" and self.recipient is not None and self.recipient in (recipient, *readers)


def key_words(kinds: Iterable[str]) -> str:
    """Name kinds of key as a sentence does: ``an agency key``, ``an agency or officer key``, ``a regulator key``."""
    named = sorted(kinds)
    return f"{_article(named[0])} {' or '.join(named)} key"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def refusal(
    kind: str,
    admitted: Iterable[str],
    resource: Resource | None = None,
    needs: str | None = None,
    what: str | None = None,
) -> str:
    """Say why a kind of key is refused, naming the kinds that would be let through (and where to read instead).

    ``needs`` names the key when the kinds alone would not say it (say, "an approver's agency key"); ``what`` names
    what the door gives when its resource alone would not say it (the files made from an SSD extract)."""
    doing = f"read {what}" if what is not None else f"read {resource}" if resource is not None else "do this"
    hint = HINTS.get((kind, resource), "") if resource is not None else ""
    return f"{_article(kind).capitalize()} {kind} key cannot {doing}; it needs {needs or key_words(admitted)}{hint}"


def read_scope(principal: Principal) -> ReadScope:
    """Decide what a principal may read; every route and page asks this and nothing else."""
    kind = principal.kind
    resources = frozenset(r for r, kinds in READERS.items() if kind in kinds)
    if kind == "officer":
        return ReadScope(kind, resources, None, None)
    if kind == "agency":
        # An agency key without an agency could read everyone's objects; it reads nothing instead.
        if not principal.agency_code:
            return ReadScope(kind, frozenset(), None, None)
        return ReadScope(kind, resources, principal.agency_code, None)
    if kind == "regulator":
        return ReadScope(kind, resources, None, principal.recipient or None)
    return ReadScope(kind, frozenset(), None, None)
