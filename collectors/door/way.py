"""A way in as the door reads it, declared once by the way's package: its name (its row in the table of ways in,
recorded on each of its submissions), the kind and purposes of its uploads, its repeat key, the checks its figures are
held to, how its uploads are leased, whether the door checks the agency an upload names, and its keep order.

A :class:`Way` is its row's declaration: declaring it enters it among the rows by its name (:func:`row`), once. The
table of ways in (``collectors.ways_in``) holds each in its row, and every upload at the door names its row
(``collectors.door.Entry.way``): the door reads the kind, repeat key, lease, agency check and keep order from the row
of that name, so no way hands them over one upload at a time, and no upload carries a way of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

from collectors.checks.policy import Policy
from onereturn.errors import InvalidInput


@dataclass(frozen=True)
class Repeat:
    """A way's repeat key: an earlier upload of the same bytes, purpose and (``by_year``) collection year, finished
    with one of ``statuses`` and not purged, is repeated by sending it again; ``newest_only``: only when it is the
    agency's newest upload of that purpose (Annex A reads the newest); ``newest_of``: only when it is the newest of
    its series (a publisher's source); ``of_set``: a set of files taken in together (an SSD extract's files made from
    it), which repeats only as a whole (``collectors.door.through_set``)."""

    statuses: tuple[str, ...]
    by_year: bool = False
    newest_only: bool = False
    #: A submission column naming a series of uploads (a publisher's source): an upload repeats the newest of its
    #: series finished with one of ``statuses`` when it is the same bytes (a release read again while a later one
    #: is current is applied again, as an agency's earlier file is).
    newest_of: str | None = None
    #: The files of a set repeat an earlier set when each repeats the agency's latest upload of the same bytes,
    #: purpose (and ``by_year``, year), and no other upload of the agency has stored a figure since the first of
    #: them: the files of one set store figures one after another, so each alone would count its sibling as later.
    of_set: bool = False


class Lease(Enum):
    """How the door leases a way's upload once it is recorded, and so when the way's store runs."""

    #: Held by this worker while the request waits: the store runs under the lease, the upload ended ``failed`` on
    #: any error (a file of figures, a publisher's release).
    REQUEST = "request"
    #: Left to a worker: leased for the worker that claims it, the store answering at once with a receipt (DfE's
    #: record files, taken up by ``collectors.records.service``).
    WORKER = "worker"
    #: Finished at the door: checked whole and recorded finished, no lease (Annex A's columns, an SSD extract's rows).
    DOOR = "door"
    #: Checked whole and kept at the door, then a stage after it under the lease held while the request waits, failed
    #: on any error as a request's is (a SEN2 file's figures, ``collectors.sen2.stage``); an upload recorded finished
    #: (one taken with no stage after the door) is not leased.
    STAGE = "stage"


#: The checks a way's figures are held to: one policy, or one by the rounding a publisher's source declares.
Checks = Policy | Callable[[int], Policy]


@dataclass(frozen=True)
class Way:
    """One way in as the door reads it: its ``name`` in the table of ways in, the ``kind`` of its submissions, its
    ``purposes`` (each stored as a ``mode``), its repeat key (None: every upload is new), its ``lease``, the checks
    its figures are held to (None: it stores none), whether the door checks the ``agency`` an upload names (not
    where the way writes it itself: a publisher, by its first release), and its keep order: whether the way
    ``reads_first`` (read and checked at the door, its file kept only once it passes) or its file is kept before
    anything reads it (read under the lease, after the upload is recorded)."""

    name: str
    kind: str
    purposes: Mapping[str, str]
    lease: Lease
    repeat: Repeat | None = None
    policy: Checks | None = None
    agency: bool = True
    reads_first: bool = False

    def __post_init__(self) -> None:
        # One row a name: a second, different declaration of it would let the door read an upload by another row.
        if _ROWS.setdefault(self.name, self) != self:
            raise ValueError(f"a way in named {self.name!r} is declared already")

    def checks(self, rounded_to: int = 0) -> Policy:
        """The checks the way's figures are held to (a publisher's by the rounding its source declares,
        ``rounded_to``); ValueError for a way that stores no figures."""
        if self.policy is None:
            raise ValueError(f"the way {self.name!r} stores no figures")
        return self.policy if isinstance(self.policy, Policy) else self.policy(rounded_to)

    def mode_of(self, purpose: str) -> str:
        """The ``mode`` an upload made for ``purpose`` is stored with; InvalidInput naming the way's purposes for any
        other."""
        return mode_of(self.purposes, purpose)


#: Every way in's declaration by its name, as its package declared it: the rows the door reads.
_ROWS: dict[str, Way] = {}


def row(name: str) -> Way:
    """The declaration of the way in named ``name``, its row; ValueError naming it where no package declares one."""
    try:
        return _ROWS[name]
    except KeyError:
        raise ValueError(f"no way in is declared as {name!r}") from None


def mode_of(purposes: Mapping[str, str], purpose: str) -> str:
    """The ``mode`` an upload made for ``purpose`` is stored with, from its way's ``purposes``; InvalidInput naming
    the way's purposes for any other."""
    if purpose not in purposes:
        raise InvalidInput(f"purpose must be one of {', '.join(purposes)}, not {purpose!r}")
    return purposes[purpose]
